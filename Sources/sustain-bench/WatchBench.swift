import Glibc
import LinuxSupport
import SustainAPI

/// The cost of watched servers: two services side by side over the same window, one without watches and one with
/// 20 (each in a cgroup of its own, each scraped every 5 s from a real HTTP endpoint, as `[[watch]]` ships), their
/// CPU time read in nanoseconds from every thread's `schedstat`.
extension Bench {
    static func watches(directory: String, count: Int, window: Duration) throws {
        let work = "/tmp/sustain-bench-watch"
        _ = system("rm -rf \(work)")
        mkdir(work, 0o700)
        guard let mount = CgroupV2.mountPoint() else {
            print("sustain-bench: no cgroup v2 hierarchy: watches are not measured")
            return
        }
        let root = "sustain-bench-watch-\(getpid())"
        mkdir("\(mount)/\(root)", 0o755)
        // The servers: a process in each cgroup; one HTTP endpoint that answers every scrape with a counter.
        writeFile(work + "/metrics", "# TYPE requests_total counter\nrequests_total{code=\"200\"} 42\n")
        let port = 21_000 + Int(getpid() % 10_000)
        let http = try spawnDaemon(
            ["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", work, "\(port)"],
            log: work + "/http.log")
        var sleepers: [pid_t] = []
        defer {
            for pid in sleepers + [http] { kill(pid, SIGKILL) }
            for pid in sleepers + [http] {
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
            for index in 0..<count { rmdir("\(mount)/\(root)/s\(index)") }
            rmdir("\(mount)/\(root)")
        }
        var config = "[daemon]\ninterval = 0.1\ncheckpoint_interval = 5\n"
        let plain = config
        for index in 0..<count {
            mkdir("\(mount)/\(root)/s\(index)", 0o755)
            let pid = try spawnDaemon(["/bin/sleep", "600"], log: "/dev/null")
            sleepers.append(pid)
            writeFile("\(mount)/\(root)/s\(index)/cgroup.procs", "\(pid)\n")
            config += """
                [[watch]]
                name = "server\(index)"
                cgroup = "/\(root)/s\(index)"
                units_url = "http://127.0.0.1:\(port)/metrics"
                units_metric = 'requests_total{code="200"}'
                units_name = "request"

                """
        }
        var daemons: [(pid: pid_t, socket: String)] = []
        defer {
            for daemon in daemons {
                kill(daemon.pid, SIGTERM)
                var status: Int32 = 0
                waitpid(daemon.pid, &status, 0)
            }
        }
        for (name, text) in [("plain", plain), ("watched", config)] {
            writeFile("\(work)/\(name).toml", text)
            let socket = "\(work)/\(name).sock"
            let pid = try spawnDaemon(
                [
                    directory + "/sustain-measured", "--config", "\(work)/\(name).toml", "--socket", socket,
                    "--database", "\(work)/\(name).sqlite",
                ], log: "\(work)/\(name).log")
            daemons.append((pid, socket))
        }
        for daemon in daemons {
            let client = ServiceClient(socketPath: daemon.socket)
            for _ in 0..<200 where !client.isReachable { sleepFor(.milliseconds(50)) }
            guard client.isReachable else {
                print("daemon did not start; see \(work)/*.log")
                return
            }
        }
        sleepFor(.seconds(6))  // start-up is not the steady state; the first scrapes have been made
        let before = daemons.map { cpuNanoseconds(of: $0.pid) }
        let start = ContinuousClock.now
        sleepFor(window)
        let seconds = start.duration(to: .now).seconds
        let shares = zip(daemons, before).map { Double(cpuNanoseconds(of: $0.0.pid) - $0.1) / 1e9 / seconds }
        let list = try ServiceClient(socketPath: daemons[1].socket).watches()
        let found = list.watches.filter { $0.cgroup != nil && $0.units == 0 }.count
        let added = shares[1] - shares[0]
        row(
            "daemon CPU, \(count) watched servers",
            "10 Hz, each watch in its own cgroup and scraped every 5 s (\(found) of \(count) found and counting); "
                + "\(fixed(window.seconds, 0)) s window, two services side by side: without watches "
                + "\(fixed(shares[0] * 100, 3))%, with \(fixed(shares[1] * 100, 3))%",
            ratio: shares[1] / max(shares[0], 1e-9), target: "<= 0.2% of a core added",
            ok: added <= 0.002 && found == count, value: "+\(fixed(added * 100, 3))%")
    }

    /// CPU time of every thread of `pid` (`/proc/PID/task/*/schedstat`, nanoseconds on the CPU).
    static func cpuNanoseconds(of pid: pid_t) -> Int {
        SafeFile.names(in: "/proc/\(pid)/task", prefix: "").compactMap { task in
            readText("/proc/\(pid)/task/\(task)/schedstat")?.split(separator: " ").first.flatMap { Int($0) }
        }.reduce(0, +)
    }

    static func writeFile(_ path: String, _ text: String) {
        guard let file = fopen(path, "w") else { return }
        fputs(text, file)
        fclose(file)
    }
}
