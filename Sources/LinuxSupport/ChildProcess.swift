import Glibc

/// How a child process ended.
public enum ExitStatus: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)

    /// The status a shell would report: the exit code, or 128 + N for death by signal N.
    public var shellCode: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }
}

/// CPU time and peak memory of a reaped process tree (`wait4`'s rusage: the child and every descendant it
/// waited for).
public struct ResourceUsage: Sendable, Equatable {
    public var userSeconds: Double
    public var systemSeconds: Double
    /// The largest resident set of any single process in the tree, in bytes.
    public var maxResidentBytes: UInt64

    public init(userSeconds: Double, systemSeconds: Double, maxResidentBytes: UInt64) {
        self.userSeconds = userSeconds
        self.systemSeconds = systemSeconds
        self.maxResidentBytes = maxResidentBytes
    }

    init(_ usage: rusage) {
        userSeconds = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        systemSeconds = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        maxResidentBytes = UInt64(max(0, usage.ru_maxrss)) * 1024
    }

    public var cpuSeconds: Double { userSeconds + systemSeconds }

    /// What this process has used so far (`getrusage(RUSAGE_SELF)`).
    public static func ofThisProcess() -> ResourceUsage {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return ResourceUsage(usage)
    }
}

/// Why a command could not be started, with the status a shell would return for it.
public enum SpawnError: Error, CustomStringConvertible, Sendable {
    /// No such command: 127.
    case notFound(command: String)
    /// Found but not executable (permission, a directory, a bad format): 126.
    case notExecutable(path: String, reason: String)
    /// The spawn itself failed.
    case system(SystemError)

    public var shellCode: Int32 {
        switch self {
        case .notFound: 127
        case .notExecutable, .system: 126
        }
    }

    public var description: String {
        switch self {
        case .notFound(let command): "\(command): command not found"
        case .notExecutable(let path, let reason): "\(path): cannot execute: \(reason)"
        case .system(let error): "cannot start the command: \(error)"
        }
    }
}

/// A child process that shares the wrapper's terminal, stdio and environment, whose signals the wrapper forwards,
/// and that the wrapper always reaps.
///
/// Call `ChildProcess.prepareSignals()` first thing in `main`, before any thread starts: it blocks the forwarded
/// signals and SIGCHLD in every thread so they arrive only through a signalfd.
public final class ChildProcess: @unchecked Sendable {
    /// The signals forwarded to the child: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2.
    public static let forwardedSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]
    /// Of those, the ones that mean the job was interrupted.
    public static let interruptingSignals: Set<Int32> = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    public let pid: pid_t
    private let signals: Int32

    /// Blocks the forwarded signals and SIGCHLD in the calling thread (and every thread it starts later).
    public static func prepareSignals() {
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    private static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in forwardedSignals + [SIGCHLD] { sigaddset(&set, signal) }
        return set
    }

    /// Spawns `executable` (from `resolve(_:)`) with `arguments` (argv, including argv[0]), the wrapper's
    /// environment and stdio, default signal dispositions and an empty signal mask.
    public convenience init(executable path: String, arguments: [String]) throws(SpawnError) {
        try self.init(executable: Array(path.utf8), arguments: arguments.map { Array($0.utf8) })
    }

    /// Spawns `executable` with `arguments` byte for byte: argv reaches the child exactly as the kernel gave it to
    /// the wrapper, whatever its encoding.
    public init(executable path: [UInt8], arguments: [[UInt8]]) throws(SpawnError) {
        precondition(!arguments.isEmpty, "a command is required")
        do {
            signals = try Syscalls.signalfd(Self.signalSet())
        } catch {
            throw .system(error)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = Self.signalSet()
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var child = pid_t()
        let argv = arguments.map { Self.cString($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let rc = (path + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { executable in
                guard let base = executable.baseAddress else { return ENOENT }
                return posix_spawn(&child, base, nil, &attributes, argv, environ)
            }
        }
        guard rc == 0 else {
            close(signals)
            if rc == ENOENT { throw .notFound(command: Self.display(arguments[0])) }
            throw .notExecutable(path: Self.display(path), reason: String(cString: strerror(rc)))
        }
        pid = child
    }

    /// A malloc'd NUL-terminated copy of `bytes` (which hold no NUL: argv cannot).
    private static func cString(_ bytes: [UInt8]) -> UnsafeMutablePointer<CChar>? {
        guard let copy = malloc(bytes.count + 1)?.assumingMemoryBound(to: CChar.self) else { return nil }
        bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress { memcpy(copy, base, bytes.count) }
        }
        copy[bytes.count] = 0
        return copy
    }

    /// Bytes as text for a message (invalid UTF-8 shown as U+FFFD).
    static func display(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    deinit { close(signals) }

    /// Waits for the child to end. Signals that reach the wrapper are passed to `received` and, unless the kernel
    /// sent them to the whole foreground process group (which includes the child), forwarded to the child.
    public func wait(received: (SignalInfo) -> Void = { _ in }) -> ExitStatus {
        while true {
            if let status = reap() { return status }
            guard let info = try? Syscalls.readSignal(signals) else { continue }
            if info.signal == SIGCHLD { continue }
            received(info)
            if !info.isFromKernel { kill(pid, info.signal) }
            // A stopped child acts on a terminating signal only once it runs again: continue it, as shells do.
            if Self.interruptingSignals.contains(info.signal) { kill(pid, SIGCONT) }
        }
    }

    /// What the child and the descendants it waited for used, known once it has been reaped.
    public private(set) var usage: ResourceUsage?

    /// Reaps the child if it has ended.
    private func reap() -> ExitStatus? {
        var status: Int32 = 0
        var rusage = rusage()
        let rc = wait4(pid, &status, WNOHANG, &rusage)
        guard rc == pid else {
            if rc == -1 && errno == ECHILD { return .exited(127) }  // reaped elsewhere; cannot happen here
            return nil
        }
        usage = ResourceUsage(rusage)
        // WIFEXITED / WTERMSIG are macros Swift cannot import.
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }

    /// Runs `executable` with `arguments` (argv without argv[0]) to its end, its standard output captured and its
    /// standard error the caller's: no shell, no quoting.
    public static func output(of executable: String, arguments: [String]) throws(SpawnError) -> (
        status: ExitStatus, output: [UInt8]
    ) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw .system(SystemError("pipe", errno: errno)) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        var child = pid_t()
        let argv = ([executable] + arguments).map { cString(Array($0.utf8)) } + [nil]
        defer { for argument in argv { free(argument) } }
        let rc = posix_spawn(&child, executable, &actions, nil, argv, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            if rc == ENOENT { throw .notFound(command: executable) }
            throw .notExecutable(path: executable, reason: String(cString: strerror(rc)))
        }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(fds[0], &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output += chunk.prefix(count)
        }
        close(fds[0])
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return (signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal), output)
    }

    /// Finds the executable a shell would run for `command`.
    public static func resolve(_ command: String) throws(SpawnError) -> String {
        display(try resolve(Array(command.utf8)))
    }

    /// Finds the executable a shell would run for `command`, byte for byte (a name need not be UTF-8).
    public static func resolve(_ command: [UInt8]) throws(SpawnError) -> [UInt8] {
        if command.contains(UInt8(ascii: "/")) {
            try checkExecutable(command)
            return command
        }
        let searchPath = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        var denied: SpawnError?
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = Array((directory.isEmpty ? "." : String(directory)).utf8) + [UInt8(ascii: "/")] + command
            do {
                try checkExecutable(candidate)
                return candidate
            } catch {
                if case .notExecutable = error, denied == nil { denied = error }
            }
        }
        throw denied ?? .notFound(command: display(command))
    }

    private static func checkExecutable(_ path: [UInt8]) throws(SpawnError) {
        var info = stat()
        let text = display(path)
        let (found, code, executable) = (path + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { name -> (Bool, Int32, Bool) in
                guard let base = name.baseAddress, stat(base, &info) == 0 else { return (false, errno, false) }
                let executable = access(base, X_OK) == 0
                return (true, executable ? 0 : errno, executable)
            }
        }
        guard found else {
            if code == ENOENT || code == ENOTDIR { throw .notFound(command: text) }
            throw .notExecutable(path: text, reason: String(cString: strerror(code)))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw .notExecutable(path: text, reason: "Is a directory") }
        guard executable else { throw .notExecutable(path: text, reason: String(cString: strerror(code))) }
    }
}
