import Glibc
import LinuxSupport
import SustainAPI

/// The service under load: `sustain-measured` at 10 Hz, idle and then with 1,000 open jobs, its CPU share and
/// resident memory read from /proc, side by side.
extension Bench {
    static func daemon(directory: String, jobs count: Int, window: Duration) throws {
        let work = "/tmp/sustain-bench-daemon"
        _ = system("rm -rf \(work)")
        mkdir(work, 0o700)
        let config = "[daemon]\ninterval = 0.1\ncheckpoint_interval = 5\n"
        let file = fopen(work + "/daemon.toml", "w")
        fputs(config, file)
        fclose(file)
        let socket = work + "/s.sock"
        let pid = try spawnDaemon(
            [
                directory + "/sustain-measured", "--config", work + "/daemon.toml", "--socket", socket, "--database",
                work + "/jobs.sqlite",
            ], log: work + "/daemon.log")
        defer {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        let client = ServiceClient(socketPath: socket)
        for _ in 0..<200 where !client.isReachable { sleepFor(.milliseconds(50)) }
        guard client.isReachable else {
            print("daemon did not start; see \(work)/daemon.log")
            return
        }
        sleepFor(.seconds(2))  // start-up is not the steady state
        let idle = cpuShare(of: pid, over: window)
        let idleRSS = memory(of: pid).rss
        let idleMappings = mappings(of: pid)

        // Each job in a cgroup of its own, so the daemon reads 1,000 cpu.stat files a second for attribution.
        let cgroups = CgroupV2.mountPoint().map { $0 + "/sustain-bench-\(getpid())" }
        if let cgroups { mkdir(cgroups, 0o755) }
        defer {
            if let cgroups {
                for index in 0..<count { rmdir("\(cgroups)/j\(index)") }
                rmdir(cgroups)
            }
        }
        let started = ContinuousClock.now
        var ids: [String] = []
        for index in 0..<count {
            var cgroup: String?
            if let cgroups, mkdir("\(cgroups)/j\(index)", 0o755) == 0 {
                cgroup = "/\(cgroups.split(separator: "/").last ?? "")/j\(index)"
            }
            do {
                ids.append(
                    try client.start(JobStart(command: ["bench", "\(index)"], pid: getpid(), cgroup: cgroup)).id)
            } catch {
                print("job start failed: \(error)")
                return
            }
        }
        let startSeconds = started.duration(to: .now).seconds
        sleepFor(.seconds(2))
        let loaded = cpuShare(of: pid, over: window)
        let loadedMemory = memory(of: pid)
        let loadedMappings = mappings(of: pid)
        let listed = ContinuousClock.now
        _ = try client.metrics()
        let metricsSeconds = listed.duration(to: .now).seconds
        let stopped = ContinuousClock.now
        for id in ids { _ = try client.stop(id, JobStop(exitCode: 0)) }
        let stopSeconds = stopped.duration(to: .now).seconds
        let after = memory(of: pid)
        // /metrics keeps finished jobs' counters (up to 10,000): its time with 1,000 and with 10,000 of them.
        let metricsAt = { () throws -> Double in
            let began = ContinuousClock.now
            _ = try client.metrics()
            return began.duration(to: .now).seconds
        }
        let finishedThousand = try metricsAt()
        for index in count..<10_000 {
            let id = try client.start(JobStart(command: ["bench", "\(index)"], pid: getpid())).id
            _ = try client.stop(id, JobStop(exitCode: 0))
        }
        let finishedTenThousand = try metricsAt()
        let afterMany = memory(of: pid)

        // A flood of 400,000 marks into one job (distinct unmatched ends and begin/end pairs, 1,000 a request),
        // with another job started and stopped after every request: those starts' and stops' p99, and the
        // daemon's memory before, after the flood and after the flooded job ended.
        let beforeFlood = memory(of: pid)
        let flood = JobStart(command: ["flood"], pid: getpid())
        var starts: [Double] = []
        var stops: [Double] = []
        if let flooded = try? client.start(flood).id {
            for batch in 0..<400 {
                let marks = (0..<750).flatMap { index in  // 500 distinct unmatched ends, 250 begin/end pairs
                    index < 500 ? ["end gone-\(batch)-\(index)"] : ["begin p", "end p"]
                }
                _ = try client.mark(JobMarks(marks: marks), job: flooded)
                let began = ContinuousClock.now
                guard let other = try? client.start(flood).id else { break }
                starts.append(began.duration(to: .now).seconds)
                let stopping = ContinuousClock.now
                _ = try client.stop(other, JobStop(exitCode: 0))
                stops.append(stopping.duration(to: .now).seconds)
            }
            let flooded400k = memory(of: pid)
            _ = try client.stop(flooded, JobStop(exitCode: 0))
            let afterFlood = memory(of: pid)
            let p99 = { (values: [Double]) in values.sorted()[max(0, Int(Double(values.count) * 0.99) - 1)] }
            row(
                "daemon RSS, 400k-mark flood",
                "before \(fixed(beforeFlood.rss, 1)) MB, after the job ended \(fixed(afterFlood.rss, 1)) MB (private "
                    + "\(fixed(afterFlood.anonymous, 1)) MB); start / stop p99 during the flood "
                    + "\(ms(p99(starts))) / \(ms(p99(stops)))", ratio: nil, target: "bounded, given back",
                ok: afterFlood.rss <= beforeFlood.rss + 10, value: "\(fixed(flooded400k.rss, 1)) MB")
        }

        row(
            "daemon CPU, \(count) open jobs",
            "10 Hz, \(cgroups == nil ? "no cgroup v2: no attribution" : "each in its own cgroup, attributed every second"), "
                + "\(fixed(window.seconds, 0)) s window; the same daemon idle "
                + "(0 jobs): \(fixed(idle * 100, 3))%", ratio: nil, target: "<= 1% of a core", ok: loaded <= 0.01,
            value: "\(fixed(loaded * 100, 3))%")
        row(
            "daemon RSS, \(count) open jobs",
            "of which private (RssAnon) \(fixed(loadedMemory.anonymous, 1)) MB; idle \(fixed(idleRSS, 1)) MB; "
                + "after stopping them all \(fixed(after.rss, 1)) MB, peak (VmHWM) \(fixed(after.peak, 1)) MB",
            ratio: nil, target: "<= 40 MB", ok: after.peak <= 40, value: "\(fixed(loadedMemory.rss, 1)) MB")
        func breakdown(_ parts: [(name: String, megabytes: Double)]) -> String {
            parts.prefix(6).map { "\($0.name) \(fixed($0.megabytes, 1))" }.joined(separator: ", ")
        }
        row(
            "daemon RSS by mapping, idle",
            "MB resident per mapping (/proc/PID/smaps): \(breakdown(idleMappings)); with \(count) open jobs: "
                + breakdown(loadedMappings),
            ratio: nil, target: "(info)", ok: true,
            value: "\(fixed(idleMappings.map(\.megabytes).reduce(0, +), 1)) MB")
        row(
            "daemon job start / stop",
            "per request over the socket, one connection each; /metrics with \(count) "
                + "jobs: \(ms(metricsSeconds))", ratio: nil, target: "(info)", ok: true,
            value: "\(ms(startSeconds / Double(count))) / \(ms(stopSeconds / Double(count)))")
        row(
            "daemon /metrics, 10,000 finished jobs",
            "the per-job counters kept after jobs end (the cap); with 1,000: \(ms(finishedThousand)); RSS after "
                + "10,000 jobs \(fixed(afterMany.rss, 1)) MB (private \(fixed(afterMany.anonymous, 1)) MB)",
            ratio: finishedTenThousand / max(finishedThousand, 1e-9), target: "<= 1 s, linear",
            ok: finishedTenThousand <= 1, value: ms(finishedTenThousand))
    }

    static func spawnDaemon(_ arguments: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        var pid = pid_t()
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let rc = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
        guard rc == 0 else { throw SystemError("posix_spawn", subject: arguments[0], errno: rc) }
        return pid
    }

    /// Resident memory per mapped file (the binary, each shared library, Foundation's ICU data library when it is
    /// one) and anonymous memory (`[anonymous]`: heap, thread stacks, malloc arenas), MB, largest first: what of
    /// the RSS is code and data mapped from files, which the kernel can drop and other processes share.
    static func mappings(of pid: pid_t) -> [(name: String, megabytes: Double)] {
        var resident: [String: Double] = [:]
        var current = "[anonymous]"
        for line in (readText("/proc/\(pid)/smaps") ?? "").split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                let path = fields.count >= 6 ? fields[5...].joined(separator: " ") : ""
                current =
                    path.hasPrefix("/")
                    ? String(path.split(separator: "/").last ?? "") : path.isEmpty ? "[anonymous]" : path
                continue
            }
            if fields.count >= 2, fields[0] == "Rss:", let kilobytes = Double(fields[1]) {
                resident[current, default: 0] += kilobytes / 1024
            }
        }
        return resident.map { (name: $0.key, megabytes: $0.value) }.filter { $0.megabytes >= 0.05 }
            .sorted { $0.megabytes > $1.megabytes }
    }

    /// The process's CPU share (user + system) over `window`, from /proc/PID/stat.
    static func cpuShare(of pid: pid_t, over window: Duration) -> Double {
        let before = cpuTicks(of: pid)
        let start = ContinuousClock.now
        sleepFor(window)
        let seconds = start.duration(to: .now).seconds
        return Double(cpuTicks(of: pid) - before) / Double(sysconf(Int32(_SC_CLK_TCK))) / seconds
    }

    /// utime + stime, /proc/PID/stat fields 14 and 15.
    static func cpuTicks(of pid: pid_t) -> Int {
        let field = { ProcessIdentity.statField($0, of: pid).flatMap { Int($0) } ?? 0 }
        return field(14) + field(15)
    }

    /// Resident, peak resident and private resident memory, MB, from /proc/PID/status.
    static func memory(of pid: pid_t) -> (rss: Double, peak: Double, anonymous: Double) {
        var rss = 0.0
        var peak = 0.0
        var anonymous = 0.0
        for line in (readText("/proc/\(pid)/status") ?? "").split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kilobytes = Double(parts[1]) else { continue }
            if parts[0] == "VmRSS:" { rss = kilobytes / 1024 }
            if parts[0] == "VmHWM:" { peak = kilobytes / 1024 }
            if parts[0] == "RssAnon:" { anonymous = kilobytes / 1024 }
        }
        return (rss, peak, anonymous)
    }

    static func readText(_ path: String) -> String? {
        readFile(path).map { String(decoding: $0, as: UTF8.self) }
    }

}
