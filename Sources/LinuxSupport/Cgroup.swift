import Glibc

/// cgroup v2, read as the kernel exposes it: where the unified hierarchy is mounted, which cgroup a process is in,
/// and a cgroup's CPU time (`cpu.stat` `usage_usec`, present in every v2 cgroup whatever controllers are enabled)
/// and allocated CPUs (`cpuset.cpus.effective`, with the cpuset controller).
public enum CgroupV2 {
    /// The first cgroup2 mount in this process's mount table (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a
    /// hybrid layout); nil when the kernel has none mounted. `/proc/self/mounts`, not `/proc/mounts`: the service's
    /// unit has `ProcSubset=pid`, which hides `/proc/mounts` but not `/proc/self`.
    public static func mountPoint(mounts: String = "/proc/self/mounts") -> String? {
        guard let bytes = readFile(mounts) else { return nil }
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "))
            guard fields.count >= 3, String(decoding: fields[2], as: UTF8.self) == "cgroup2" else { continue }
            return unescapeMountPath(String(decoding: fields[1], as: UTF8.self))
        }
        return nil
    }

    /// The v2 cgroup of process `pid`, relative to the mount (`/user.slice/…`, `/` for the root): the `0::` line
    /// of `/proc/PID/cgroup`; nil when the process is gone or has none.
    public static func path(ofProcess pid: Int32, proc: String = "/proc") -> String? {
        guard pid > 0, let bytes = readFile("\(proc)/\(pid)/cgroup", limit: 65_536) else { return nil }
        for line in bytes.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("0::".utf8)) {
            let path = String(decoding: line.dropFirst(3), as: UTF8.self)
            return path.hasPrefix("/") ? path : nil
        }
        return nil
    }

    /// The processes in the cgroup at `path` under `mount` (`cgroup.procs`); nil when it cannot be read.
    public static func processes(mount: String, path: String) -> [Int32]? {
        guard let bytes = readFile(mount + (path == "/" ? "" : path) + "/cgroup.procs", limit: 1 << 22) else {
            return nil
        }
        return bytes.split(separator: UInt8(ascii: "\n")).compactMap { Int32(String(decoding: $0, as: UTF8.self)) }
    }

    /// The cgroup of systemd unit `unit` (`vllm.service`, `session-3.scope`, `app.slice`): the directory of that
    /// name in the hierarchy, breadth first (services are at `/system.slice/NAME` unless their unit says another
    /// slice), at most `maximumDepth` levels and `maximumDirectories` looked into; nil when the unit has none now
    /// (stopped, or never started). Read from the hierarchy, not asked of systemd over D-Bus: the service runs
    /// without a bus, and systemd names a unit's cgroup after it.
    public static func path(ofUnit unit: String, mount: String, maximumDepth: Int = 6, maximumDirectories: Int = 20_000)
        -> String?
    {
        guard !unit.isEmpty, !unit.contains("/"), unit != ".", unit != ".." else { return nil }
        if SafeFile.kind(of: mount + "/system.slice/" + unit) == .directory { return "/system.slice/" + unit }
        var level = [""]
        var seen = 0
        for _ in 0..<maximumDepth {
            var next: [String] = []
            for path in level {
                for name in children(mount: mount, path: path.isEmpty ? "/" : path) {
                    let child = path + "/" + name
                    if name == unit { return child }
                    seen += 1
                    if seen > maximumDirectories { return nil }
                    next.append(child)
                }
            }
            level = next
        }
        return nil
    }

    /// The names of the child cgroups of the cgroup at `path` (its subdirectories); none when it cannot be read.
    public static func children(mount: String, path: String) -> [String] {
        let directory = mount + (path == "/" ? "" : path)
        return SafeFile.names(in: directory + "/", prefix: "").filter {
            $0 != "." && $0 != ".." && SafeFile.kind(of: directory + "/" + $0) == .directory
        }
    }

    /// The first (lowest) pid in the cgroup at `path`: a server's main process, whose tree is charged its GPUs.
    public static func firstProcess(mount: String, path: String) -> Int32? {
        processes(mount: mount, path: path)?.min()
    }

    /// A cgroup path is one the daemon may read: absolute, no `..`, no control characters, at most 4096 bytes.
    public static func isPlausible(_ path: String) -> Bool {
        path.hasPrefix("/") && path.utf8.count <= 4096 && !path.split(separator: "/").contains("..")
            && !path.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    /// How many CPUs the cgroup may run on (`cpuset.cpus.effective`: `0-3,8,10-11`); nil without the file.
    public static func allocatedCPUs(mount: String, path: String) -> Int? {
        guard let bytes = readFile(mount + (path == "/" ? "" : path) + "/cpuset.cpus.effective", limit: 65_536)
        else { return nil }
        var count = 0
        let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        guard !text.isEmpty else { return 0 }
        for range in text.split(separator: ",") {
            let bounds = range.split(separator: "-").compactMap { Int($0) }
            switch bounds.count {
            case 1: count += 1
            case 2 where bounds[1] >= bounds[0]: count += bounds[1] - bounds[0] + 1
            default: return nil
            }
        }
        return count
    }

    /// `/proc/mounts` escapes blanks in paths as octal (`\040`).
    static func unescapeMountPath(_ path: String) -> String {
        guard path.contains("\\") else { return path }
        var bytes: [UInt8] = []
        var utf8 = Array(path.utf8)[...]
        while let byte = utf8.first {
            if byte == UInt8(ascii: "\\"), utf8.count >= 4,
                let value = UInt8(String(decoding: utf8.dropFirst().prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(4)
            } else {
                bytes.append(byte)
                utf8 = utf8.dropFirst()
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// One cgroup's `cpu.stat`, kept open and read with `pread` (a few microseconds), for a service that reads many
/// cgroups every second.
public final class CgroupCPUStat: @unchecked Sendable {
    public let path: String
    private var fd: Int32

    /// Opens `<mount><path>/cpu.stat`; nil when it cannot (no such cgroup).
    public init?(mount: String, path: String) {
        self.path = path
        fd = open(mount + (path == "/" ? "" : path) + "/cpu.stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// CPU time used by the cgroup's processes (all its descendants) since it was created, in µs; nil when the
    /// cgroup is gone (its file reads as an error once it is removed). `usage_usec` is the file's first line: only
    /// that much is read, into a buffer on the stack, and parsed without allocating.
    public func usageMicroseconds() -> UInt64? {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buffer -> UInt64? in
            let count = pread(fd, buffer.baseAddress, buffer.count, 0)
            let prefix = Array("usage_usec ".utf8)
            guard count > prefix.count, buffer.prefix(prefix.count).elementsEqual(prefix) else { return nil }
            var value: UInt64 = 0
            var digits = 0
            for byte in buffer[prefix.count..<count] {
                guard byte >= 0x30 && byte <= 0x39 else { break }
                let (times, overflow) = value.multipliedReportingOverflow(by: 10)
                guard !overflow else { return nil }
                value = times + UInt64(byte - 0x30)
                digits += 1
            }
            return digits > 0 ? value : nil
        }
    }
}

/// The machine's CPU time from `/proc/stat`: busy (user, nice, system, irq, softirq, steal) and idle (idle,
/// iowait), in seconds summed over CPUs.
public struct MachineCPUTime: Sendable, Equatable {
    public var busySeconds: Double
    public var idleSeconds: Double

    public init(busySeconds: Double, idleSeconds: Double) {
        self.busySeconds = busySeconds
        self.idleSeconds = idleSeconds
    }

    public static func read(stat: String = "/proc/stat") -> MachineCPUTime? {
        guard let bytes = readFile(stat, limit: 4096), let line = bytes.split(separator: UInt8(ascii: "\n")).first,
            line.starts(with: Array("cpu ".utf8))
        else { return nil }
        let values = line.dropFirst(4).split(separator: UInt8(ascii: " ")).compactMap {
            Double(String(decoding: $0, as: UTF8.self))
        }
        guard values.count >= 5 else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        func value(_ index: Int) -> Double { index < values.count ? values[index] : 0 }
        // user nice system idle iowait irq softirq steal (guest time is already in user).
        let busy = value(0) + value(1) + value(2) + value(5) + value(6) + value(7)
        return MachineCPUTime(busySeconds: busy / ticks, idleSeconds: (value(3) + value(4)) / ticks)
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(self.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
