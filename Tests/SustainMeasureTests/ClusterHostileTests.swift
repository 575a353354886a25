import Foundation
import Reports
import SustainTestSupport
import Testing

/// `report cluster` against a hostile or broken Prometheus (hostile input, round 3): NaN, 1e308 and negative
/// counters or times crashed it (SIGILL) or went into the report; another user's job labelled with the same SLURM
/// id was counted; a chunk size that overflows trapped the client. Each is said, and nothing traps.
@Suite(.serialized)
struct ClusterHostileTests {
    static let server = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hostile_prometheus.py").path

    static func withServer(mode: String, _ body: (Int) throws -> Void) throws {
        let port = 20_000 + Int(getpid() % 20_000)
        let server = try Harness.Background(["/usr/bin/env", "python3", Self.server, String(port), mode])
        defer { server.stop() }
        for _ in 0..<100 {
            let probe = try Harness.run([
                "/usr/bin/env", "python3", "-c", "import socket; socket.create_connection(('127.0.0.1', \(port)), 1)",
            ])
            if probe.status == 0 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        try body(port)
    }

    @Test func implausibleValuesAreLeftOutAndAnotherUsersJobIsNotCounted() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.withServer(mode: "values") { port in
            let cluster = [
                Harness.product("sustain-measure"), "report", "cluster", "--slurm-job", "77", "--prometheus",
                "http://127.0.0.1:\(port)",
            ]
            let ambiguous = try Harness.run(cluster + ["-o", directory.path + "/a.json"])
            #expect(ambiguous.status == 64, "\(ambiguous.stderr)")
            #expect(ambiguous.stderr.contains("alice, mallory") && ambiguous.stderr.contains("--user"))
            let path = directory.path + "/r.json"
            let outcome = try Harness.run(cluster + ["--user", "alice", "-o", path])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            let report = try Report.decode(Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(report.energy.joules == 100, "only nodeA's 100 J is a plausible counter")
            #expect(
                report.carbon.kgCo2e.map { abs($0 - 0.0025) < 1e-9 } == true,
                "\(String(describing: report.carbon.kgCo2e))")
            #expect(report.warnings.contains { $0.contains("not finite, non-negative") }, "\(report.warnings)")
            #expect(report.durationSeconds.isFinite && report.durationSeconds >= 0)
        }
    }

    @Test func anOverflowingChunkIsAnErrorNotATrap() throws {
        try Self.withServer(mode: "chunks") { port in
            let outcome = try Harness.run([
                Harness.product("sustain-measure"), "report", "cluster", "--slurm-job", "77", "--prometheus",
                "http://127.0.0.1:\(port)", "-o", "/dev/null",
            ])
            #expect(outcome.status != 0 && outcome.status < 128, "status \(outcome.status): \(outcome.stderr)")
            #expect(outcome.stderr.contains("HTTP chunk"), "\(outcome.stderr)")
        }
    }
}
