import Glibc

/// Facts about this machine that reports and estimates record.
public enum HostFacts {
    /// The host name (`gethostname`).
    public static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, 255)
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The kernel release (`uname`).
    public static func kernelRelease() -> String {
        var names = utsname()
        uname(&names)
        return withUnsafeBytes(of: names.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }

    /// Logical CPUs online (`sysconf(_SC_NPROCESSORS_ONLN)`).
    public static func logicalCPUs() -> Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// The CPU model as /proc/cpuinfo names it ("model name"), when it does.
    public static func cpuModel() -> String? {
        guard let bytes = readFile("/proc/cpuinfo", limit: 1 << 20) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard line.hasPrefix("model name"), let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].drop(while: \.isWhitespace)
            return String(value.reversed().drop(while: \.isWhitespace).reversed())
        }
        return nil
    }
}

/// The calling process: its ids, environment, executable and standard streams.
public enum CurrentProcess {
    public static var pid: Int32 { getpid() }
    public static var uid: UInt32 { getuid() }
    public static var effectiveUID: UInt32 { geteuid() }

    /// The environment, as `NAME=value` pairs (a later duplicate wins).
    public static var environment: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }

    /// Sets an environment variable for this process and the children it starts from now on.
    public static func setVariable(_ name: String, _ value: String) { setenv(name, value, 1) }

    /// Removes an environment variable (a mark channel inherited from an outer job is not this one's).
    public static func removeVariable(_ name: String) { unsetenv(name) }

    /// One environment variable.
    public static func variable(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    /// Sleeps `seconds` on this thread (resumed after a signal, to the end).
    public static func sleep(seconds: Double) {
        guard seconds.isFinite, seconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
    }

    /// The home directory: $HOME, else the password database's, else /tmp.
    public static var home: String {
        if let home = variable("HOME"), !home.isEmpty { return home }
        if let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir { return String(cString: directory) }
        return "/tmp"
    }

    /// This executable's path (`/proc/self/exe`).
    public static var executablePath: String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, 4095)
        return length > 0 ? String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
    }

    /// True when `path` is a file this process may execute.
    public static func canExecute(_ path: String) -> Bool { access(path, X_OK) == 0 }

    /// True when standard error is a terminal.
    public static var standardErrorIsTerminal: Bool { isatty(2) == 1 }

    /// A signal's name (SIGTERM), or SIG and its number.
    public static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        case SIGQUIT: "SIGQUIT"
        case SIGUSR1: "SIGUSR1"
        case SIGUSR2: "SIGUSR2"
        case SIGKILL: "SIGKILL"
        default: "SIG\(signal)"
        }
    }
}
