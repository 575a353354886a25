import Glibc

/// A process told apart from a later one that reuses its pid: the pid plus its start time (`/proc/PID/stat` field
/// 22, clock ticks since boot), within one boot (`/proc/sys/kernel/random/boot_id`).
public struct ProcessIdentity: Sendable, Equatable, Codable {
    public var pid: Int32
    public var startTicks: UInt64

    public init(pid: Int32, startTicks: UInt64) {
        self.pid = pid
        self.startTicks = startTicks
    }

    /// The process `pid` now; nil when there is none (or /proc cannot be read).
    public static func of(_ pid: Int32, proc: String = "/proc") -> ProcessIdentity? {
        guard let ticks = statField(22, of: pid, proc: proc).flatMap(UInt64.init) else { return nil }
        return ProcessIdentity(pid: pid, startTicks: ticks)
    }

    /// Field `number` (1-based, as proc(5) numbers them: 4 is ppid, 14 utime, 22 starttime) of /proc/PID/stat;
    /// nil when the process or the field is missing. Fields after the command name count from its last ')', since
    /// the name may hold spaces and parentheses.
    public static func statField(_ number: Int, of pid: Int32, proc: String = "/proc") -> String? {
        guard number >= 3, pid > 0, let stat = readFile("\(proc)/\(pid)/stat", limit: 4096),
            let close = stat.lastIndex(of: UInt8(ascii: ")"))
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(whereSeparator: { $0 == 0x20 || $0 == 0x0A })
        guard fields.count > number - 3 else { return nil }
        return String(decoding: fields[number - 3], as: UTF8.self)
    }

    /// True while this very process runs (the pid exists and started at the same tick).
    public func isAlive(proc: String = "/proc") -> Bool { Self.of(pid, proc: proc) == self }

    /// The uid that owns process `pid` (its /proc directory's owner: the effective uid); nil when there is none.
    public static func owner(of pid: Int32) -> UInt32? {
        var info = stat()
        guard pid > 0, stat("/proc/\(pid)", &info) == 0 else { return nil }
        return info.st_uid
    }

    /// The pid of process `pid` in each pid namespace it belongs to, outermost first (`NSpid:` in
    /// /proc/PID/status): a process in a container has its host pid first and its container pid last.
    public static func namespacePids(of pid: Int32) -> [Int32] {
        guard let status = readFile("/proc/\(pid)/status", limit: 16_384) else { return [] }
        for line in status.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("NSpid:".utf8)) {
            return line.dropFirst(6).split(whereSeparator: { $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: " ") })
                .compactMap { Int32(String(decoding: $0, as: UTF8.self)) }
        }
        return []
    }

    /// True while some process has this pid: one system call, no /proc read; blind to pid reuse.
    public var pidExists: Bool { kill(pid, 0) == 0 || errno == EPERM }

    /// The value of `name` in the process's environment as it started (`/proc/PID/environ`; root reads any
    /// process's, a user only their own); nil when unset or unreadable.
    public static func environmentVariable(_ name: String, of pid: Int32) -> String? {
        guard let bytes = readFile("/proc/\(pid)/environ", limit: 4 << 20) else { return nil }
        let prefix = Array((name + "=").utf8)
        for entry in bytes.split(separator: 0, omittingEmptySubsequences: true) where entry.starts(with: prefix) {
            return String(decoding: entry.dropFirst(prefix.count), as: UTF8.self)
        }
        return nil
    }

    /// This boot's id; nil when unreadable.
    public static func bootID() -> String? {
        readFile("/proc/sys/kernel/random/boot_id", limit: 64).map {
            String(decoding: $0, as: UTF8.self).trimmingTrailingNewline()
        }
    }
}

extension String {
    fileprivate func trimmingTrailingNewline() -> String {
        var result = self
        while result.last == "\n" { result.removeLast() }
        return result
    }
}
