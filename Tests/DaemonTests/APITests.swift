import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SustainAPI
import Synchronization
import Testing

@testable import Daemon
@testable import Impact
@testable import Meter
@testable import Reports
@testable import SustainCore

/// A clock that advances only when a test says so: energy over a window is then exact, and nothing waits.
final class ManualClock: InstantSource, @unchecked Sendable {
    private let current = Mutex(MonotonicInstant(nanoseconds: 1_000_000_000_000))
    var now: MonotonicInstant { current.withLock { $0 } }
    func advance(_ duration: Duration) { current.withLock { $0 = $0 + duration } }
}

/// A package counter advancing at a known, constant power.
final class ConstantPowerSource: EnergySource, @unchecked Sendable {
    let name = "test"
    let watts: Double
    let start: MonotonicInstant
    let clock: any InstantSource
    let channels: [ChannelDescriptor]
    let diagnostics: [String] = []

    /// `origin`: when the counter read 0 (a restarted daemon's source shares its predecessor's).
    init(watts: Double, origin: MonotonicInstant? = nil, clock: any InstantSource = SystemClock()) {
        self.watts = watts
        self.clock = clock
        start = origin ?? clock.now
        channels = [
            ChannelDescriptor(
                id: ChannelID("intel-rapl:0"), source: .powercap, name: "package-0", kind: .package,
                quantity: .energyCounter(CounterRange(maxMicrojoules: 262_143_328_850, plausibleMaxPower: Watts(1000))),
                group: "intel-rapl", path: "test")
        ]
    }

    func read(_ index: Int) -> Reading {
        .counter(MicrojouleCounter(UInt64((watts * start.seconds(to: clock.now) * 1_000_000).rounded())))
    }
}

/// The API in process, served on a real Unix socket and spoken to with the wrapper's own client
/// (`SocketTestClient`), with identities from a test-only header.
struct APITests {
    struct Fixture {
        let router: Router<APIContext>
        let sampler: Sampler
        let store: JobStore
        let directory: URL
        var registry: JobRegistry? = nil
    }

    /// With a `clock`, time moves only when the test advances it (exact windows, no waiting).
    static func fixture(watts: Double = 100, clock: ManualClock? = nil) throws -> Fixture {
        let logger = Logger(label: "test")
        let time: any InstantSource = clock ?? SystemClock()
        let source = ConstantPowerSource(watts: watts, clock: time)
        // On a manual clock, no ticks on the sampler's real-time timer: a tick that took its instant just before
        // `clock.advance` and read the source just after saw the whole advance's energy in no time, judged it a
        // counter reset and counted nothing (seen once under CI's load: a 36 s job short of its 3600 J). Every
        // reading is then a fresh one, taken by a request while the clock stands still.
        let sampler = try Sampler(
            sources: [source], requestedInterval: clock == nil ? .milliseconds(10) : .seconds(60),
            publishesCheckpoints: true, clock: time, logger: logger)
        try sampler.start()
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("sustain-api-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try JobStore(path: directory.appendingPathComponent("jobs.sqlite").path)
        let registry = JobRegistry(
            sampler: sampler, sources: [SourceSummary(name: "test", channels: source.channels, diagnostics: [])],
            store: store, carbon: .worldAverage(), logger: logger)
        let metrics = MetricsExporter(sampler: sampler, registry: registry)
        let router = API.router(
            registry: registry, store: store, sampler: sampler, metrics: metrics, identity: .testHeader(adminGroup: nil)
        )
        if let clock { clock.advance(.milliseconds(50)) } else { Thread.sleep(forTimeInterval: 0.05) }
        return Fixture(router: router, sampler: sampler, store: store, directory: directory, registry: registry)
    }

    static func headers(uid: UInt32) -> HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json"]
        if let name = HTTPField.Name("X-Sustain-Test-Uid") { fields[name] = String(uid) }
        return fields
    }

    static func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    /// A job registered with a container's cgroup (root, as a runtime hook or the SLURM prolog would) is labelled
    /// with the container and pod its path says, and a plain job is not.
    @Test func aJobInAPodIsLabelledFromItsCgroupPath() async throws {
        let fixture = try Self.fixture(watts: 100)
        defer { _ = fixture.sampler.stop() }
        let id = "3f6c2b8e9a1d4c5b7e0f2a4c6e8b0d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b"
        let cgroup =
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6d6f1a2b_3c4d_4e5f_8a9b_0c1d2e3f4a5b"
            + ".slice/cri-containerd-\(id).scope"
        try await withServedRouter(fixture.router) { client in
            var reports: [Report] = []
            for body in [#"{"command": ["serve"], "cgroup": "\#(cgroup)"}"#, #"{"command": ["plain"]}"#] {
                let started = try await client.execute(
                    uri: "/v1/jobs", method: .post, headers: Self.headers(uid: 0), body: Self.body(body))
                #expect(started.status == .created)
                let job = try #require(try Self.json(started)["id"] as? String)
                let stopped = try await client.execute(
                    uri: "/v1/jobs/\(job)/stop", method: .post, headers: Self.headers(uid: 0), body: Self.body("{}"))
                reports.append(try Report.decode(Data(buffer: stopped.body)))
            }
            #expect(
                reports[0].container == [
                    "container_runtime": "containerd", "container_id": id,
                    "pod_uid": "6d6f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "qos_class": "Burstable",
                    "cgroup_driver": "systemd",
                ])
            #expect(reports[1].container == nil)
            // And in /metrics, as an info series to join on `job` (kept a while after the job ends).
            let metrics = String(
                buffer: try await client.execute(uri: "/metrics", method: .get, headers: Self.headers(uid: 0)).body)
            let info = metrics.split(separator: "\n").filter { $0.hasPrefix("sustain_job_container_info{") }
            #expect(info.count == 1, "\(info)")
            #expect(
                info.first?.contains(
                    "job=\"\(reports[0].id)\",user=\"root\",cgroup_driver=\"systemd\",container_id=\"\(id)\","
                        + "container_runtime=\"containerd\",pod_uid=\"6d6f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b\","
                        + "qos_class=\"Burstable\"} 1.0") == true, "\(info)")
        }
    }

    @Test func startStopGivesTheEnergyOfTheWindowAndLogsIt() async throws {
        let clock = ManualClock()
        let fixture = try Self.fixture(watts: 100, clock: clock)
        defer { _ = fixture.sampler.stop() }
        try await withServedRouter(fixture.router) { client in
            let started = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: Self.headers(uid: 1000),
                body: Self.body(#"{"command": ["train.py"], "labels": {"slurm_job_id": "7"}}"#))
            #expect(started.status == .created)
            let id = try #require(try Self.json(started)["id"] as? String)
            clock.advance(.milliseconds(500))
            let stopped = try await client.execute(
                uri: "/v1/jobs/\(id)/stop", method: .post, headers: Self.headers(uid: 1000),
                body: Self.body(#"{"exit_code": 0}"#))
            #expect(stopped.status == .ok)
            let report = try Report.decode(Data(buffer: stopped.body))
            #expect(report.id == id)
            #expect(report.exitCode == 0)
            #expect(report.owner?.uid == 1000)
            #expect(report.labels == ["slurm_job_id": "7"])
            #expect(report.measuredBy == "sustain-measured")
            #expect(report.power.peakWatts == nil, "the service keeps no per-job peak: null, never the mean")
            #expect(report.gaps == [])
            // The manual clock: exactly 0.5 s at exactly 100 W.
            let joules = try #require(report.energy.joules)
            #expect(report.durationSeconds == 0.5)
            #expect(abs(joules - 50) < 1e-9, "\(joules) J")
            let record = try #require(try fixture.store.job(id: id))
            #expect(record.uid == 1000)
            #expect(record.joules == joules)
            #expect(record.labels.contains("slurm_job_id"))
            // Finished: GET returns the stored report; a second stop conflicts.
            let fetched = try await client.execute(
                uri: "/v1/jobs/\(id)", method: .get, headers: Self.headers(uid: 1000))
            #expect(try Report.decode(Data(buffer: fetched.body)).id == id)
            let again = try await client.execute(
                uri: "/v1/jobs/\(id)/stop", method: .post, headers: Self.headers(uid: 1000), body: Self.body("{}"))
            #expect(again.status == .conflict)
        }
    }

    /// A job's own carbon options (the user's flags) are resolved over the service's configuration at the start
    /// (a bad one is a 400 before the command runs), and the report and the stored row carry the one figure.
    @Test func aJobsCarbonOptionsGiveTheOneStoredFigure() async throws {
        let clock = ManualClock()
        let fixture = try Self.fixture(watts: 100, clock: clock)
        defer { _ = fixture.sampler.stop() }
        try await withServedRouter(fixture.router) { client in
            let bad = try await client.execute(
                uri: APIRoute.jobs, method: .post, headers: Self.headers(uid: 1000),
                body: Self.body(#"{"command": ["x"], "carbon": {"region": "QQQ"}}"#))
            #expect(bad.status == .badRequest)
            let misspelt = try await client.execute(
                uri: APIRoute.jobs, method: .post, headers: Self.headers(uid: 1000),
                body: Self.body(#"{"command": ["x"], "carbon": {"intensty": 300}}"#))
            #expect(misspelt.status == .badRequest)
            #expect(String(buffer: misspelt.body).contains("unknown field"))
            let started = try await client.execute(
                uri: APIRoute.jobs, method: .post, headers: Self.headers(uid: 1000),
                body: Self.body(#"{"command": ["x"], "carbon": {"intensity": 300, "pue": 1.2, "region": "FR"}}"#))
            #expect(started.status == .created)
            let id = try #require(try Self.json(started)["id"] as? String)
            clock.advance(.seconds(36))
            let stopped = try await client.execute(
                uri: APIRoute.stop(id), method: .post, headers: Self.headers(uid: 1000), body: Self.body("{}"))
            let report = try Report.decode(Data(buffer: stopped.body))
            // 36 s at 100 W is 1 Wh: × PUE 1.2 × 300 g/kWh = 0.36 g.
            #expect(report.energy.joules.map { abs($0 - 3600) < 1e-9 } == true)
            #expect(report.carbon.kgCo2e.map { abs($0 - 0.000_36) < 1e-15 } == true)
            #expect(report.carbon.intensityGPerKwh == 300)
            #expect(report.carbon.pue == 1.2)
            let joules = try #require(report.energy.joules)
            let expected = joules / 3_600_000 * 1.2 * 300 / 1000
            #expect(abs((report.carbon.kgCo2e ?? 0) - expected) <= 1e-12 * expected)
            #expect(try fixture.store.job(id: id)?.kgCo2e == report.carbon.kgCo2e)
        }
    }

    @Test func usersSeeAndStopOnlyTheirOwnJobsRootSeesAll() async throws {
        let fixture = try Self.fixture()
        defer { _ = fixture.sampler.stop() }
        try await withServedRouter(fixture.router) { client in
            let started = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: Self.headers(uid: 1000),
                body: Self.body(#"{"command": ["a"]}"#))
            let id = try #require(try Self.json(started)["id"] as? String)
            let other = try await client.execute(
                uri: "/v1/jobs/\(id)/stop", method: .post, headers: Self.headers(uid: 2000), body: Self.body("{}"))
            #expect(other.status == .forbidden)
            let peek = try await client.execute(uri: "/v1/jobs/\(id)", method: .get, headers: Self.headers(uid: 2000))
            #expect(peek.status == .forbidden)
            let list = try await client.execute(uri: "/v1/jobs", method: .get, headers: Self.headers(uid: 2000))
            #expect((try Self.json(list)["running"] as? [Any])?.isEmpty == true)
            let rootList = try await client.execute(uri: "/v1/jobs", method: .get, headers: Self.headers(uid: 0))
            #expect((try Self.json(rootList)["running"] as? [Any])?.count == 1)
            let byRoot = try await client.execute(
                uri: "/v1/jobs/\(id)/stop", method: .post, headers: Self.headers(uid: 0), body: Self.body("{}"))
            #expect(byRoot.status == .ok)
        }
    }

    @Test(arguments: [
        ("/v1/jobs", HTTPRequest.Method.post, "not json", HTTPResponse.Status.badRequest),
        ("/v1/jobs", .post, #"{"command": "a string"}"#, .badRequest),
        ("/v1/jobs", .post, #"{"command": []}"#, .badRequest),
        ("/v1/jobs", .post, #"{"command": ["a"], "pid": 1, "colour": "blue"}"#, .badRequest),
        ("/v1/jobs/nope/stop", .post, "{}", .notFound),
        ("/v1/nothing", .get, "", .notFound),
        ("/v1/jobs?since=yesterday", .get, "", .badRequest),
        ("/v1/jobs?label=novalue", .get, "", .badRequest),
    ])
    func badRequestsGetClear4xx(uri: String, method: HTTPRequest.Method, body: String, status: HTTPResponse.Status)
        async throws
    {
        let fixture = try Self.fixture()
        defer { _ = fixture.sampler.stop() }
        try await withServedRouter(fixture.router) { client in
            let response = try await client.execute(
                uri: uri, method: method, headers: Self.headers(uid: 1000), body: body.isEmpty ? nil : Self.body(body))
            #expect(response.status == status, "\(uri) \(body)")
            if response.status != .notFound || uri.hasPrefix("/v1/jobs") {
                #expect(String(buffer: response.body).contains("error"))
            }
        }
    }

    @Test func oversizedBodyIsRefused() async throws {
        let fixture = try Self.fixture()
        defer { _ = fixture.sampler.stop() }
        try await withServedRouter(fixture.router) { client in
            let huge = #"{"command": [""# + String(repeating: "x", count: 1_100_000) + #""]}"#
            let response = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: Self.headers(uid: 1000), body: Self.body(huge))
            #expect(response.status == .contentTooLarge)
        }
    }

    @Test func withoutAnIdentityNothingIsServed() async throws {
        let fixture = try Self.fixture()
        defer { _ = fixture.sampler.stop() }
        try await withServedRouter(fixture.router) { client in
            let response = try await client.execute(uri: "/v1/health", method: .get)
            #expect(response.status == .forbidden)
        }
    }

    @Test func snapshotHealthAndMetricsComeFromTheSameTotals() async throws {
        let fixture = try Self.fixture(watts: 100)
        defer { _ = fixture.sampler.stop() }
        try await withServedRouter(fixture.router) { client in
            try await Task.sleep(for: .milliseconds(200))
            let snapshot = try Self.json(
                try await client.execute(uri: "/v1/snapshot", method: .get, headers: Self.headers(uid: 1000)))
            let watts = try #require(snapshot["counted_watts"] as? Double)
            #expect(abs(watts - 100) < 5)
            let health = try Self.json(
                try await client.execute(uri: "/v1/health", method: .get, headers: Self.headers(uid: 1000)))
            #expect(health["status"] as? String == "ok")
            let metrics = String(
                buffer: try await client.execute(uri: "/metrics", method: .get, headers: Self.headers(uid: 1000)).body)
            #expect(metrics.contains("sustain_energy_joules_total{"))
            #expect(metrics.contains("sustain_power_watts{"))
            #expect(metrics.contains(#"domain="intel-rapl:0""#))
            #expect(metrics.contains("sustain_open_jobs"))
            // The daemon's own cost: time spent sampling and its CPU, both positive counters.
            for name in ["sustain_sampling_seconds_total", "sustain_process_cpu_seconds_total"] {
                let line = metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }
                let value = line.flatMap { Double($0.split(separator: " ").last ?? "") }
                #expect((value ?? 0) > 0, "\(name): \(String(describing: line))")
            }
        }
    }

    /// Per-job counters for Prometheus: a job's energy by domain kind and its carbon, labelled with its SLURM job
    /// id, counting while it runs and still there after it ends (its final value), for its owner and root only.
    @Test func perJobCountersStayAfterTheJobEnds() async throws {
        let fixture = try Self.fixture(watts: 100)
        defer { _ = fixture.sampler.stop() }
        try await withServedRouter(fixture.router) { client in
            let started = try Self.json(
                try await client.execute(
                    uri: "/v1/jobs", method: .post, headers: Self.headers(uid: 1000),
                    body: Self.body(#"{"command": ["x"], "labels": {"slurm_job_id": "42"}}"#)))
            let id = try #require(started["id"] as? String)
            try await Task.sleep(for: .milliseconds(300))
            func value(_ metrics: String, _ name: String) -> Double? {
                let line = metrics.split(separator: "\n").first {
                    $0.hasPrefix(name + "{") && $0.contains(#"job="\#(id)""#) && $0.contains(#"slurm_job_id="42""#)
                }
                return line.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            let running = String(
                buffer: try await client.execute(uri: "/metrics", method: .get, headers: Self.headers(uid: 1000)).body)
            #expect((value(running, "sustain_job_energy_joules_total") ?? 0) > 20, "counting while it runs")
            let report = try Self.json(
                try await client.execute(
                    uri: "/v1/jobs/\(id)/stop", method: .post, headers: Self.headers(uid: 1000),
                    body: Self.body(#"{"exit_code": 0}"#)))
            let joules = try #require((report["energy"] as? [String: Any])?["joules"] as? Double)
            let after = String(
                buffer: try await client.execute(uri: "/metrics", method: .get, headers: Self.headers(uid: 1000)).body)
            let final = try #require(value(after, "sustain_job_energy_joules_total"), "kept after the end")
            #expect(abs(final - joules) < 1e-6 * joules, "the final value is the report's: \(final) vs \(joules)")
            #expect(value(after, "sustain_job_carbon_grams_total") != nil)
            #expect(after.contains(#"domain_kind="package""#) && after.contains(#"host=""#))
            let other = String(
                buffer: try await client.execute(uri: "/metrics", method: .get, headers: Self.headers(uid: 1001)).body)
            #expect(value(other, "sustain_job_energy_joules_total") == nil, "another user does not see it")
            // Past the retention the finished job's series go.
            let registry = try #require(fixture.registry)
            #expect(await registry.jobCounters(retention: 600).contains { $0.id == id })
            #expect(
                await !registry.jobCounters(retention: 0, now: Date().addingTimeInterval(1)).contains { $0.id == id })
        }
    }

    /// The shipped recording rules and Grafana dashboard name only metrics that `/metrics` serves, and the rules
    /// load in Prometheus's own checker when it is installed.
    @Test func theShippedRulesAndDashboardNameOnlyServedMetrics() async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let rules = repository.appendingPathComponent("prometheus/sustain-rules.yml")
        let dashboard = repository.appendingPathComponent("grafana/sustain-dashboard.json")
        var named: Set<String> = []
        for file in [rules, dashboard] {
            let text = try String(contentsOf: file, encoding: .utf8)
            // Metric names: sustain_… not after a colon (a recording rule's own name is level:metric:op).
            for match in text.matches(of: /(^|[^:a-z_])(sustain_[a-z_]+)/.anchorsMatchLineEndings()) {
                named.insert(String(match.output.2))
            }
        }
        #expect(named.count >= 6, "\(named)")
        _ = try JSONSerialization.jsonObject(with: Data(contentsOf: dashboard))  // valid JSON
        let fixture = try Self.fixture(watts: 100)
        defer { _ = fixture.sampler.stop() }
        // A watched server, not found, whose units endpoint does not answer: its series are declared all the same.
        await fixture.registry?.configureWatches([
            .init(
                name: "model", target: .cgroup("/nowhere"), unitsURL: "http://127.0.0.1:1/metrics",
                unitsMetric: try UnitsSelector("requests_total"))
        ])
        await fixture.registry?.recordScrapes([("model", .failure(.unreachable("refused")))])
        try await withServedRouter(fixture.router) { client in
            _ = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: Self.headers(uid: 0),
                body: Self.body(#"{"command": ["x"], "labels": {"slurm_job_id": "1"}}"#))
            try await Task.sleep(for: .milliseconds(100))
            let metrics = String(
                buffer: try await client.execute(uri: "/metrics", method: .get, headers: Self.headers(uid: 0)).body)
            for name in named.sorted() {
                #expect(metrics.contains("# TYPE \(name) "), "\(name) is not in /metrics")
                #expect(MetricName.all.contains(name), "\(name) is not a MetricName")
            }
            // The constants are the exporter's names, all of them.
            let served = Set(metrics.matches(of: #/\# TYPE (sustain_[a-z_]+)\s/#).map { String($0.output.1) })
            // (the attributed share is served only for jobs in cgroups of their own, the container info only for jobs
            // and watches in containers: this fixture has none)
            #expect(served.isSubset(of: MetricName.all), "served \(served.sorted())")
            #expect(
                Set(MetricName.all).subtracting([
                    MetricName.jobAttributedEnergy, MetricName.jobContainer, MetricName.watchContainer,
                ]).isSubset(of: served),
                "constants \(MetricName.all.sorted()), served \(served.sorted())")
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") {
            let check = Process()
            check.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
            check.arguments = ["check", "rules", rules.path]
            check.standardOutput = FileHandle.nullDevice
            try check.run()
            check.waitUntilExit()
            #expect(check.terminationStatus == 0, "promtool check rules \(rules.path)")
        }
    }

    /// Jobs whose windows overlap share the machine's energy, and each report says with how many others.
    @Test func overlappingJobsAreCountedAndSaidInEachReport() async throws {
        let fixture = try Self.fixture(watts: 100)
        defer { _ = fixture.sampler.stop() }
        try await withServedRouter(fixture.router) { client in
            func start() async throws -> String {
                let response = try await client.execute(
                    uri: "/v1/jobs", method: .post, headers: Self.headers(uid: 1000),
                    body: Self.body(#"{"command": ["x"]}"#))
                return try #require(try Self.json(response)["id"] as? String)
            }
            func stop(_ id: String) async throws -> Report {
                let response = try await client.execute(
                    uri: "/v1/jobs/\(id)/stop", method: .post, headers: Self.headers(uid: 1000),
                    body: Self.body("{}"))
                return try Report.decode(Data(buffer: response.body))
            }
            let a = try await start()
            let b = try await start()
            let first = try await stop(a)  // b was open during a
            let c = try await start()  // overlaps b, not a
            let second = try await stop(b)
            let third = try await stop(c)
            let alone = try await stop(try await start())
            #expect(first.overlappingJobs == 1)
            #expect(second.overlappingJobs == 2)
            #expect(third.overlappingJobs == 1)
            #expect(alone.overlappingJobs == 0)
            #expect(second.warnings.contains { $0.contains("2 other job(s) ran on this machine") })
            #expect(!alone.warnings.contains { $0.contains("other job(s)") })
        }
    }

    /// The job's process decides when it is abandoned and which GPUs it is charged: it must exist and be the
    /// caller's own (root and admins may name any).
    @Test func aJobsPidMustBeTheCallersOwnProcess() async throws {
        let fixture = try Self.fixture(watts: 100)
        defer { _ = fixture.sampler.stop() }
        let own = getpid()  // this test process runs as root
        try await withServedRouter(fixture.router) { client in
            func start(uid: UInt32, pid: Int32) async throws -> HTTPResponse.Status {
                try await client.execute(
                    uri: "/v1/jobs", method: .post, headers: Self.headers(uid: uid),
                    body: Self.body(#"{"command": ["x"], "pid": \#(pid)}"#)
                ).status
            }
            let other = try await start(uid: 1000, pid: own)
            #expect(other == .forbidden, "another user's process")
            let root = try await start(uid: 0, pid: own)
            #expect(root == .created, "root may name any")
            let missing = try await start(uid: 1000, pid: 999_999_999)
            #expect(missing == .badRequest, "no such process")
        }
    }

    /// Only root or an admin registers a job for another user (a SLURM prolog) or names its cgroup.
    @Test func onlyRootRegistersForAnotherUserOrNamesACgroup() async throws {
        let fixture = try Self.fixture(watts: 100)
        defer { _ = fixture.sampler.stop() }
        try await withServedRouter(fixture.router) { client in
            func start(uid: UInt32, _ json: String) async throws -> (HTTPResponse.Status, String) {
                let response = try await client.execute(
                    uri: "/v1/jobs", method: .post, headers: Self.headers(uid: uid), body: Self.body(json))
                return (response.status, String(buffer: response.body))
            }
            let forOther = try await start(uid: 1000, #"{"command": ["x"], "uid": 1001}"#)
            #expect(forOther.0 == .badRequest && forOther.1.contains("only root or an admin"), "\(forOther)")
            let cgroup = try await start(uid: 1000, #"{"command": ["x"], "cgroup": "/slurm/job_1"}"#)
            #expect(cgroup.0 == .badRequest && cgroup.1.contains("cgroup"), "\(cgroup)")
            let climbing = try await start(uid: 0, #"{"command": ["x"], "cgroup": "/a/../../etc"}"#)
            #expect(climbing.0 == .badRequest, "\(climbing)")
            let byRoot = try await start(uid: 0, #"{"command": ["x"], "uid": 65534, "cgroup": "/slurm/job_1"}"#)
            #expect(byRoot.0 == .created && byRoot.1.contains(#""uid":65534"#), "\(byRoot)")
        }
    }

    @Test func twoHundredConcurrentJobsByDifferentUsersAreAllRecordedAndNoneCrossed() async throws {
        let fixture = try Self.fixture(watts: 50)
        defer { _ = fixture.sampler.stop() }
        try await withServedRouter(fixture.router) { client in
            try await withThrowingTaskGroup(of: (UInt32, String).self) { group in
                for user in UInt32(1000)..<1200 {
                    group.addTask {
                        let started = try await client.execute(
                            uri: "/v1/jobs", method: .post, headers: Self.headers(uid: user),
                            body: Self.body(#"{"command": ["job-\#(user)"], "labels": {"owner": "\#(user)"}}"#))
                        let id = try #require(try Self.json(started)["id"] as? String)
                        try await Task.sleep(for: .milliseconds(Int.random(in: 0...50)))
                        let stopped = try await client.execute(
                            uri: "/v1/jobs/\(id)/stop", method: .post, headers: Self.headers(uid: user),
                            body: Self.body(#"{"exit_code": \#(user % 7)}"#))
                        let report = try Report.decode(Data(buffer: stopped.body))
                        #expect(report.owner?.uid == user)
                        #expect(report.command == ["job-\(user)"])
                        #expect(report.exitCode == Int32(user % 7))
                        return (user, id)
                    }
                }
                var ids: Set<String> = []
                for try await (user, id) in group {
                    ids.insert(id)
                    let record = try #require(try fixture.store.job(id: id))
                    #expect(record.uid == Int64(user))
                    #expect(record.labels.contains("\"\(user)\""))
                }
                #expect(ids.count == 200)
            }
            var all = JobFilter()
            all.limit = 1000
            #expect(try fixture.store.jobs(all).count == 200)
        }
    }

    @Test func fuzzedRequestsLeaveTheDaemonUpAndATrackedJobUntouched() async throws {
        let fixture = try Self.fixture(watts: 100)
        defer { _ = fixture.sampler.stop() }
        try await withServedRouter(fixture.router) { client in
            let started = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: Self.headers(uid: 1000),
                body: Self.body(#"{"command": ["keep"]}"#))
            let id = try #require(try Self.json(started)["id"] as? String)
            var generator = SystemRandomNumberGenerator()
            let seeds = [
                #"{"command": ["a"], "pid": 1}"#, #"{"exit_code": 0}"#, "{}", "[]", "null", #"{"command": [1, 2]}"#,
                #"{"labels": {"a": 1}}"#, "\u{0}\u{1}\u{2}", #"{"command": ["\u00ff"]}"#,
            ]
            let paths = [
                "/v1/jobs", "/v1/jobs/\(id)/stop", "/v1/jobs/\(id)", "/v1/jobs/x/stop", "/v1/snapshot", "/metrics",
                "/v1/jobs?since=\u{7f}", "/v1/%zz", "/v1/jobs?label==", "/", "/v1/health",
            ]
            let methods: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch]
            var serverErrors = 0
            // 2,000 rounds: each of the 495 seed, path and method triples about four times, mutated anew each time
            // (18 s of a debug build's CPU at 10,000). SUSTAIN_FUZZ_ROUNDS asks for more.
            let rounds = ProcessInfo.processInfo.environment["SUSTAIN_FUZZ_ROUNDS"].flatMap { Int($0) } ?? 2_000
            for round in 0..<rounds {
                var bytes = Array(seeds[Int.random(in: 0..<seeds.count, using: &generator)].utf8)
                for _ in 0..<Int.random(in: 0...4, using: &generator) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(
                        in: 0...255, using: &generator)
                }
                var path = paths[Int.random(in: 0..<paths.count, using: &generator)]
                // Never the tracked job's stop with a valid owner: an attacker is another user.
                let uid: UInt32 = path.contains(id) ? 2000 : UInt32(1000 + round % 3)
                if round % 97 == 0 { path += String(repeating: "/x", count: 50) }
                // A request line the HTTP parser refuses may be answered by a closed connection: not a 5xx.
                let response = try? await client.execute(
                    uri: path, method: methods[Int.random(in: 0..<methods.count, using: &generator)],
                    headers: Self.headers(uid: uid), body: ByteBuffer(bytes: bytes))
                if let response, response.status.code >= 500 { serverErrors += 1 }
            }
            #expect(serverErrors == 0)
            try await Task.sleep(for: .milliseconds(100))
            let stopped = try await client.execute(
                uri: "/v1/jobs/\(id)/stop", method: .post, headers: Self.headers(uid: 1000), body: Self.body("{}"))
            #expect(stopped.status == .ok)
            let report = try Report.decode(Data(buffer: stopped.body))
            let joules = try #require(report.energy.joules)
            #expect(abs(joules - 100 * report.durationSeconds) / (100 * report.durationSeconds) < 0.005)
        }
    }
}
