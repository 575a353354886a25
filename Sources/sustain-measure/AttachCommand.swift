import ArgumentParser
import FoundationEssentials
import LinuxSupport
import Meter
import Reports
import SustainAPI
import SustainConfiguration
import SustainCore

extension SustainMeasure {
    /// `sustain-measure attach`: one report of a server that is already running, over a window, with what it
    /// served and the cost per unit: the way to measure a deployed model under a load test.
    struct AttachCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "attach",
            abstract:
                "Measure a running server over a window: its energy, carbon, units served, J and g per unit, SCI.",
            discussion: """
                The service (sustain-measured) measures the window and attributes the machine's energy to the \
                server's cgroup by CPU time, plus the GPUs its processes use; the units come from the server's own \
                Prometheus counter, read here at the window's start and end (and every 2 s between, so that a \
                restart of its counter is counted). Root names any server; a user one whose processes are all \
                theirs. Example: sustain-measure attach --unit vllm.service --duration 60 \
                --units-url http://127.0.0.1:8000/metrics --units-metric vllm:generation_tokens_total --units-name token
                """)

        @Option(help: ArgumentHelp("The server's main process.", valueName: "pid")) var pid: Int32?
        @Option(help: ArgumentHelp("The server's cgroup, as in /proc/PID/cgroup.", valueName: "path"))
        var cgroup: String?
        @Option(
            name: .customLong("unit"),
            help: ArgumentHelp("The server's systemd unit (vllm.service).", valueName: "name"))
        var systemdUnit: String?
        @Option(help: ArgumentHelp("How long to measure, in seconds.", valueName: "seconds")) var duration: Double
        @Option(help: ArgumentHelp("The server's own Prometheus endpoint.", valueName: "url")) var unitsURL: String?
        @Option(
            help: ArgumentHelp(
                "Its counter of units of work, with optional matchers (http_requests_total{code=\"200\"}).",
                valueName: "metric"))
        var unitsMetric: String?
        @Option(
            name: .customLong("units-name"),
            help: ArgumentHelp("What one unit of work is (token, request).", valueName: "word"))
        var unit: String = "unit"
        @Option(help: ArgumentHelp("Where to write the report (- for stdout).", valueName: "file")) var report: String?
        @Option(help: ArgumentHelp("sustain-measured's socket (default: [daemon] socket).", valueName: "path"))
        var socket: String?
        @Flag(name: .shortAndLong, help: "No summary on stderr.") var quiet = false
        @OptionGroup var carbon: CarbonOptions

        func validate() throws {
            guard [pid != nil, cgroup != nil, systemdUnit != nil].count(where: { $0 }) == 1 else {
                throw ValidationError("Name the server once: --pid, --cgroup or --unit (its systemd unit).")
            }
            guard duration.isFinite, duration > 0, duration <= 30 * 86_400 else {
                throw ValidationError("--duration must be from 0 to 30 days, in seconds.")
            }
            guard (unitsURL == nil) == (unitsMetric == nil) else {
                throw ValidationError("--units-url and --units-metric go together (where the counter is, and which).")
            }
            if let unitsURL {
                do {
                    _ = try PlainHTTPURL(unitsURL)
                } catch {
                    throw ValidationError("--units-url: \(error).")
                }
            }
            if let unitsMetric {
                do {
                    _ = try UnitsSelector(unitsMetric)
                } catch {
                    throw ValidationError("--units-metric: \(error).")
                }
            }
            // The service's own check of a unit's name (refused there only after the whole window otherwise).
            guard Configuration.isUnitName(unit) else {
                throw ValidationError("--units-name must be a word such as token or request.")
            }
        }

        /// What the job names: the server's process, or its cgroup (with this process for the job's liveness).
        func target() throws -> (label: String, pid: Int32?, cgroup: String?) {
            if let pid { return ("pid \(pid)", pid, nil) }
            if let cgroup {
                guard CgroupV2.isPlausible(cgroup) else {
                    throw ValidationError("--cgroup must be an absolute cgroup path without '..'.")
                }
                return ("cgroup \(cgroup)", CurrentProcess.pid, cgroup)
            }
            let unit = systemdUnit ?? ""
            guard let mount = CgroupV2.mountPoint(), let path = CgroupV2.path(ofUnit: unit, mount: mount) else {
                throw ValidationError(
                    "The unit \(unit.escapingControlCharacters) has no cgroup: is it started (systemctl status)?")
            }
            return ("unit \(unit)", CurrentProcess.pid, path)
        }

        func run() throws {
            let (label, pid, cgroup) = try target()
            let path = try socket ?? carbon.configuration().daemon.socket
            let client = ServiceClient(socketPath: path)
            guard client.isReachable else {
                throw ValidationError(
                    "sustain-measured is not reachable at \(path): attach needs the service (it attributes the "
                        + "machine's energy to the server's cgroup). Start it (see README) or pass --socket.")
            }
            let scraper = try unitsURL.map { url in
                UnitsScraper(url: try PlainHTTPURL(url), selector: try UnitsSelector(unitsMetric ?? ""))
            }
            var units = WatchUnits()
            if let scraper { units.record(scraper.scrape()) }  // the base, just before the window
            let request = try carbon.request()
            let started: RunningJob
            do {
                started = try client.start(
                    JobStart(
                        command: ["attach:" + label], pid: pid, labels: ["attach": label],
                        carbon: request.isEmpty ? nil : request, cgroup: cgroup, observe: true))
            } catch {
                throw ValidationError("sustain-measured did not start the measurement: \(error).")
            }
            if !quiet {
                Terminal.write(
                    "sustain-measure: measuring \(label) for \(Quantity.duration(duration)) (\(started.id))\n")
            }
            // Every 2 s the counter again, so that a reset (a restarted server) is counted, not lost.
            let end = MonotonicInstant.now + .milliseconds(Int64((duration * 1000).rounded()))
            while MonotonicInstant.now < end {
                let left = MonotonicInstant.now.seconds(to: end)
                CurrentProcess.sleep(seconds: min(2, max(0, left)))
                if let scraper, MonotonicInstant.now < end { units.record(scraper.scrape()) }
            }
            let stoppedAt = MonotonicInstant.now
            if let scraper { units.record(scraper.scrape()) }
            let served = scraper.map { scraper in
                Self.served(units, unit: unit, source: "scrape \(scraper.url.description) \(scraper.selector)")
            }
            let bytes: [UInt8]
            do {
                bytes = try client.stop(
                    started.id, JobStop(exitCode: nil, endedAtMonotonic: stoppedAt.nanoseconds, units: served))
            } catch {
                throw ValidationError("sustain-measured did not end the measurement \(started.id): \(error).")
            }
            let result: Report
            do {
                result = try Report.decode(Data(bytes))
            } catch {
                throw ValidationError("sustain-measured sent a report that could not be read: \(error).")
            }
            let written = report == "-" ? nil : (report ?? ReportLocation.defaultPath(id: result.id))
            if let written {
                do {
                    try result.write(to: written)
                } catch {
                    Terminal.error("sustain-measure: \(error)")
                }
            } else {
                print(String(decoding: bytes, as: UTF8.self))
            }
            if !quiet { Terminal.write(result.summary(reportPath: written)) }
        }

        /// What the scrapes counted, or why nothing could be.
        static func served(_ units: WatchUnits, unit: String, source: String) -> UnitsServed {
            let worked = units.scrapes - units.failures
            guard worked >= 2 || (worked == 1 && units.counter.resets > 0) else {
                return UnitsServed(
                    count: nil, unit: unit, source: source,
                    missing: [
                        "units: the counter could not be read at both ends of the window (\(worked) of "
                            + "\(units.scrapes) reads worked; the last failure: "
                            + "\(units.lastError?.description ?? "none"))"
                    ])
            }
            let missing =
                units.failures > 0
                ? [
                    "units: \(units.failures) of \(units.scrapes) reads of the counter failed (the last: "
                        + "\(units.lastError?.description ?? "none")); units served meanwhile are counted at the next read"
                ] : []
            return UnitsServed(count: units.total, unit: unit, source: source, missing: missing)
        }
    }
}
