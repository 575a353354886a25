import Glibc
import Reports

enum HostFacts {
    static func current() -> Report.Host {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        var names = utsname()
        uname(&names)
        let release = withUnsafeBytes(of: names.release) { bytes in
            String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return Report.Host(hostname: String(cString: buffer), kernel: release)
    }
}

enum ReportLocation {
    /// `$XDG_STATE_HOME/sustain/reports/<id>.json`, else `~/.local/state/sustain/reports/<id>.json`.
    static func defaultPath(id: String) -> String {
        let state: String
        if let xdg = getenv("XDG_STATE_HOME").map({ String(cString: $0) }), xdg.hasPrefix("/") {
            state = xdg
        } else {
            state = home() + "/.local/state"
        }
        return state + "/sustain/reports/\(id).json"
    }

    static func home() -> String {
        if let home = getenv("HOME").map({ String(cString: $0) }), !home.isEmpty { return home }
        if let entry = getpwuid(getuid()), let dir = entry.pointee.pw_dir { return String(cString: dir) }
        return "/tmp"
    }
}
