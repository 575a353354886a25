import Glibc
import Reports

enum HostFacts {}

extension HostFacts {
    /// Logical CPUs online.
    static func logicalCPUs() -> Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// The CPU model as /proc/cpuinfo names it ("model name"), when it does.
    static func cpuModel() -> String? {
        guard let file = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            guard text.hasPrefix("model name"), let colon = text.firstIndex(of: ":") else { continue }
            return String(
                text[text.index(after: colon)...].drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace)
                    .reversed())
        }
        return nil
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
