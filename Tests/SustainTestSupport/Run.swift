import Foundation

/// The result of running a process to completion.
public struct ProcessOutcome: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: String
}

/// Runs built products and other commands for end-to-end tests.
public enum Harness {
    /// The directory holding the built executables (next to the test bundle).
    public static let productsDirectory: URL = {
        if let override = ProcessInfo.processInfo.environment["SUSTAIN_BIN_DIR"] {
            return URL(fileURLWithPath: override)
        }
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // swift-testing may run from inside the .xctest bundle directory on some platforms.
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("sustain-measure").path),
            url.path != "/"
        {
            url.deleteLastPathComponent()
        }
        return url
    }()

    public static func product(_ name: String) -> String { productsDirectory.appendingPathComponent(name).path }

    public static var isRoot: Bool { geteuid() == 0 }

    /// True when this process may build a private mount namespace (root, and `unshare` works).
    public static let canUseMountNamespace: Bool = {
        guard isRoot else { return false }
        let outcome = try? run(["/usr/bin/unshare", "-m", "--propagation", "private", "true"])
        return outcome?.status == 0
    }()

    /// The tests' own configuration file, empty: every process a test spawns gets it as `SUSTAIN_CONFIG` (unless the
    /// test names its own), so that a machine's `/etc/sustain/sustain.toml` or `~/.config/sustain/sustain.toml` (a
    /// region, a PUE, a socket) changes no result. Readable by the unprivileged users the tests run as.
    public static let pinnedConfiguration: String = {
        let directory = "/tmp/sustain-test-config-\(getpid())"
        mkdir(directory, 0o755)
        chmod(directory, 0o755)
        let path = directory + "/sustain.toml"
        let text = "# The tests' own configuration: the defaults, whatever this machine has in /etc/sustain.\n"
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644])
        return path
    }()

    /// The message a skipped root-only test prints, loudly.
    public static let rootOnlyNotice =
        "SKIPPED: needs root and a private mount namespace (unshare -m) to build a fake /sys/class tree; CI runs it as root"

    /// Runs `arguments` to completion, with optional stdin data, and collects stdout and stderr.
    ///
    /// Spawned and reaped here (posix_spawn, waitpid), not with Foundation's `Process`: that one learns of the exit
    /// only when every holder of a socket it passes to the child has gone, so a daemon a test script starts (munged,
    /// slurmd) would keep it waiting for ever. The child gets only fds 0–2, in a process group of its own; past
    /// `timeout` the group is killed and the outcome says so (status 124). When the child has exited but something
    /// it left behind still holds its output, reading stops after a grace period and stderr says so.
    @discardableResult
    public static func run(
        _ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil,
        timeout: Duration = .seconds(300), whileRunning: (@Sendable (pid_t) -> Void)? = nil
    ) throws -> ProcessOutcome {
        signal(SIGPIPE, SIG_IGN)
        let out = try pipePair()
        let err = try pipePair()
        let input = stdin == nil ? nil : try pipePair()
        defer { for fd in [out.0, err.0] { close(fd) } }

        let pid: pid_t
        do {
            pid = try spawn(arguments, environment: environment, stdin: input?.0, stdout: out.1, stderr: err.1)
        } catch {
            for fd in [out.1, err.1] + (input.map { [$0.0, $0.1] } ?? []) { close(fd) }
            throw error
        }
        for fd in [out.1, err.1] + (input.map { [$0.0] } ?? []) { close(fd) }

        if let input, let stdin {
            let fd = input.1
            Thread.detachNewThread {
                stdin.withUnsafeBytes { buffer in
                    var offset = 0
                    while offset < buffer.count {
                        guard let base = buffer.baseAddress else { break }
                        let written = write(fd, base + offset, buffer.count - offset)
                        if written < 0 && errno == EINTR { continue }
                        if written <= 0 { break }
                        offset += written
                    }
                }
                close(fd)
            }
        }
        if let whileRunning {
            let child = pid
            Thread.detachNewThread { whileRunning(child) }
        }

        var buffers = [Data(), Data()]
        var open = [out.0, err.0]
        var status: Int32? = nil
        var note = ""
        let started = ContinuousClock.now
        var exitedAt: ContinuousClock.Instant? = nil
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            var fds = open.filter { $0 >= 0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if !fds.isEmpty { _ = poll(&fds, nfds_t(fds.count), 50) } else { usleep(20_000) }
            for entry in fds where entry.revents != 0 {
                guard let index = open.firstIndex(of: entry.fd) else { continue }
                let count = read(entry.fd, &chunk, chunk.count)
                if count > 0 {
                    buffers[index].append(contentsOf: chunk[0..<count])
                } else if count == 0 || errno != EINTR {
                    open[index] = -1
                }
            }
            if status == nil {
                var raw: Int32 = 0
                if waitpid(pid, &raw, WNOHANG) == pid {
                    let signal = raw & 0x7f
                    status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
                    exitedAt = .now
                } else if ContinuousClock.now - started > timeout {
                    kill(-pid, SIGKILL)
                    kill(pid, SIGKILL)
                    waitpid(pid, nil, 0)
                    status = 124
                    exitedAt = .now
                    note = "\nHarness: killed after \(timeout): \(arguments.joined(separator: " "))\n"
                    FileHandle.standardError.write(Data(note.utf8))
                }
            }
            if let exitedAt, let status {
                if open.allSatisfy({ $0 < 0 }) { return outcome(status, buffers, note) }
                if ContinuousClock.now - exitedAt > .seconds(5) {
                    note += "\nHarness: \(arguments[0]) exited, but a process it left behind still holds its output\n"
                    FileHandle.standardError.write(Data(note.utf8))
                    return outcome(status, buffers, note)
                }
            }
        }
    }

    /// Spawns `arguments` with only fds 0–2 (`stdin` nil: /dev/null; `stdout`/`stderr` nil: /dev/null), an empty
    /// signal mask and default dispositions, in a process group of its own.
    static func spawn(
        _ arguments: [String], environment: [String: String]?, stdin: Int32?, stdout: Int32?, stderr: Int32?
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, target, flags) in [(stdin, Int32(0), O_RDONLY), (stdout, 1, O_WRONLY), (stderr, 2, O_WRONLY)] {
            if let fd {
                posix_spawn_file_actions_adddup2(&actions, fd, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", flags, 0)
            }
        }
        closeFrom3(&actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)  // the runner's threads may block signals
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        var environment = environment ?? ProcessInfo.processInfo.environment
        if environment["SUSTAIN_CONFIG"] == nil { environment["SUSTAIN_CONFIG"] = pinnedConfiguration }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
        return pid
    }

    /// A server a test starts and stops: its output to /dev/null, killed (its whole group) and reaped by `stop()`
    /// or when released.
    public final class Background: @unchecked Sendable {
        public let pid: pid_t
        private var stopped = false

        public init(_ arguments: [String], environment: [String: String]? = nil) throws {
            pid = try Harness.spawn(arguments, environment: environment, stdin: nil, stdout: nil, stderr: nil)
        }

        public func stop() {
            guard !stopped else { return }
            stopped = true
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            waitpid(pid, nil, 0)
        }

        deinit { stop() }
    }

    private static func outcome(_ status: Int32, _ buffers: [Data], _ note: String) -> ProcessOutcome {
        ProcessOutcome(status: status, stdout: buffers[0], stderr: String(decoding: buffers[1], as: UTF8.self) + note)
    }

    /// A pipe whose both ends close on exec (the child gets its ends through dup2).
    private static func pipePair() throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    /// Closes every fd above 2 in the child: glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34), looked up
    /// at run time because the Glibc module does not declare it; else close-on-exec on this process's open fds.
    private static func closeFrom3(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            let closeFrom = unsafeBitCast(symbol, to: CloseFrom.self)
            if closeFrom(&actions, 3) == 0 { return }
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let fd = Int32(name), fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
    }

    /// A fresh temporary directory, world-writable and sticky (like /tmp) so an unprivileged user can write reports
    /// into it and the daemon accepts it for its socket and state.
    public static func temporaryDirectory() throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("sustain-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        chmod(url.path, 0o1777)
        return url
    }
}
