import Foundation
import Reports
import SustainTestSupport
import Testing

/// `report merge`: one report for a job's nodes, each at its own grid's intensity; a report given twice counts once;
/// a node of the list that sent nothing is named and the total is marked incomplete.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct MergeTests {
    @Test func nodesAreSummedOnceAndTheMissingOnesNamed() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var paths: [String] = []
        for (node, region) in [("node01", "FR"), ("node02", "PL")] {
            let path = directory.appendingPathComponent("\(node).json").path
            let outcome = try Harness.run([
                "/usr/bin/unshare", "-m", "--propagation", "private", Harness.product("sustain-fakesys"), "--scenario",
                "two-socket", "--", Harness.product("sustain-measure"), "--no-daemon", "-q", "--region", region,
                "--label",
                "slurm_job_id=77", "--no-daemon", "--report", path, "--", "/bin/sleep", "0.5",
            ])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            // The two runs stand for two nodes of one job.
            var report = try Report.decode(Data(contentsOf: URL(fileURLWithPath: path)))
            report.host.hostname = node
            try report.write(to: path)
            paths.append(path)
        }
        let merged = directory.appendingPathComponent("merged.json").path
        let outcome = try Harness.run(
            [Harness.product("sustain-measure"), "report", "merge"] + paths + [
                paths[1], "--nodes", "node[01-03]", "-o", merged,
            ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try Report.decode(Data(contentsOf: URL(fileURLWithPath: merged)))
        let parts = try paths.map { try Report.decode(Data(contentsOf: URL(fileURLWithPath: $0))) }
        let joules = try parts.map { try #require($0.energy.joules) }
        #expect(report.nodes?.map(\.host) == ["node01", "node02"])
        #expect(abs((report.energy.joules ?? 0) - joules.reduce(0, +)) < 1e-6, "each node once")
        let kilograms = try parts.map { try #require($0.carbon.kgCo2e) }
        #expect(abs((report.carbon.kgCo2e ?? 0) - kilograms.reduce(0, +)) < 1e-12, "each at its own grid")
        #expect(kilograms[1] / joules[1] > 3 * kilograms[0] / joules[0], "Poland's grid is dirtier than France's")
        #expect(report.missingNodes == ["node03"])
        #expect(report.warnings.contains { $0.hasPrefix("INCOMPLETE") && $0.contains("node03") })
        #expect(report.warnings.contains { $0.contains("given more than once") })
        #expect(report.labels["slurm_job_id"] == "77")
        #expect(report.energy.domains.contains { $0.id == "node02/intel-rapl:0" })
        #expect(outcome.stderr.contains("INCOMPLETE"), "\(outcome.stderr)")
    }
}
