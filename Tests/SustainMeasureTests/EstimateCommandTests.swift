import Foundation
import SustainTestSupport
import Testing

/// `sustain-measure estimate` and `compare` end to end.
struct EstimateCommandTests {
    static let binary = Harness.product("sustain-measure")

    static func json(_ outcome: ProcessOutcome) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: outcome.stdout) as? [String: Any])
    }

    @Test func trainEstimateListsEveryAssumption() throws {
        let outcome = try Harness.run([
            Self.binary, "estimate", "train", "--params", "7e9", "--tokens", "2e12", "--hardware", "nvidia-h100-sxm",
            "--devices", "64", "--region", "FR", "--json",
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let object = try Self.json(outcome)
        #expect(object["schema"] as? String == "sustain.estimate.v1")
        #expect(object["method"] as? String == "estimated")
        #expect(abs((object["flops"] as? Double ?? 0) - 8.4e22) < 1e9)
        let seconds = 8.4e22 / (989e12 * 0.4 * 64)
        #expect(abs((object["seconds"] as? Double ?? 0) - seconds) / seconds < 1e-9)
        let carbon = try #require(object["carbon"] as? [String: Any])
        #expect(carbon["region_code"] as? String == "FR")
        #expect(carbon["intensity_basis"] as? String == "lifecycle")
        let assumptions = try #require(object["assumptions"] as? [[String: Any]]).compactMap { $0["name"] as? String }
        #expect(
            Set(["formula", "params", "tokens", "hardware", "precision", "mfu", "devices", "power", "pue", "intensity"])
                .isSubset(of: Set(assumptions)))
    }

    @Test func deployTextSaysItIsAnEstimate() throws {
        let outcome = try Harness.run([
            Self.binary, "estimate", "deploy", "--params", "7e9", "--tokens-per-request", "500", "--requests", "1e6",
            "--hardware", "nvidia-l4",
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        #expect(text.contains("C_deploy = 2 × parameters × tokens per request × requests"))
        #expect(text.contains("estimated, not measured"))
        #expect(text.contains("mfu: 0.1"))
    }

    @Test func calibrateFromAMeasuredReport() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("short.json").path
        try Harness.run([Self.binary, "-q", "--report", path, "--", "/bin/true"])
        // Make it a measured run of 36 kJ over 120 s (this machine may have no counters).
        var report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        report["duration_seconds"] = 120.0
        report["energy"] = ["joules": 36_000.0, "method": "measured", "domains": [] as [Any]]
        try JSONSerialization.data(withJSONObject: report).write(to: URL(fileURLWithPath: path))

        let tokens = String(1000 * 2e15 / 6e8)
        let outcome = try Harness.run([
            Self.binary, "estimate", "train", "--params", "1e8", "--tokens", tokens, "--calibrate", path,
            "--calibration-flops", "2e15", "--json",
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let object = try Self.json(outcome)
        #expect(abs((object["joules"] as? Double ?? 0) - 36_000_000) < 1)
        #expect(abs((object["seconds"] as? Double ?? 0) - 120_000) < 1e-3)
    }

    /// A watched server's report calibrates a deployment: 2,000 requests of 100 tokens of a 7e9 model served with
    /// 5,600 J of the server's own energy (not the machine's 36 kJ): the estimate of 10,000 requests is five times
    /// the measurement, and against an H100 the measurement implies an MFU.
    @Test func calibrateADeploymentFromAWatchedServersUnits() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("watch.json").path
        try Harness.run([Self.binary, "-q", "--report", path, "--", "/bin/true"])
        var report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        report["duration_seconds"] = 3600.0
        report["energy"] = ["joules": 36_000.0, "method": "measured", "domains": [] as [Any]]
        report["units"] = [
            "count": 2000.0, "unit": "request", "source": "test", "energy_basis": "attributed", "joules": 5600.0,
            "missing": [] as [Any],
        ]
        try JSONSerialization.data(withJSONObject: report).write(to: URL(fileURLWithPath: path))
        let arguments = [
            Self.binary, "estimate", "deploy", "--params", "7e9", "--requests", "10000", "--tokens-per-request",
            "100", "--calibrate", path, "--hardware", "nvidia-h100-sxm", "--json",
        ]
        let outcome = try Harness.run(arguments)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let object = try Self.json(outcome)
        #expect(abs((object["joules"] as? Double ?? 0) - 5 * 5600) < 1e-6, "\(object)")
        let assumptions = (object["assumptions"] as? [[String: Any]]) ?? []
        let measured = assumptions.first { $0["name"] as? String == "measured" }
        #expect((measured?["value"] as? String)?.hasPrefix("2.8") == true, "\(assumptions)")
        let against = assumptions.first { $0["name"] as? String == "against the formula" }
        #expect((against?["note"] as? String)?.contains("implies MFU") == true, "\(assumptions)")
        // Counted in requests without --tokens-per-request: said, not guessed.
        let vague = try Harness.run([
            Self.binary, "estimate", "deploy", "--params", "7e9", "--tasks", "5", "--flops-per-param-per-task", "2",
            "--calibrate", directory.appendingPathComponent("none.json").path,
        ])
        #expect(vague.status == 64)
    }

    @Test(arguments: [
        ["estimate", "train", "--params", "7e9", "--tokens", "2e12"],  // no hardware
        ["estimate", "train", "--params", "7e9", "--tokens", "2e12", "--hardware", "nvidia-h900"],
        ["estimate", "train", "--params", "-7", "--tokens", "2e12", "--hardware", "nvidia-l4"],
        ["estimate", "train", "--params", "7e9", "--tokens", "2e12", "--hardware", "nvidia-l4", "--mfu", "1.5"],
        ["estimate", "train", "--params", "7e9", "--tokens", "2e12", "--hardware", "nvidia-l4", "--pue", "0.8"],
        ["estimate", "train", "--params", "7e9", "--hardware", "nvidia-l4"],
        ["estimate", "deploy", "--params", "7e9", "--requests", "5", "--hardware", "nvidia-l4"],
        [
            "estimate", "train", "--params", "7e9", "--tokens", "1e9", "--calibrate", "/nonexistent.json",
            "--calibration-flops", "1",
        ],
    ])
    func badInputIsRejectedWithTheFieldNamed(arguments: [String]) throws {
        let outcome = try Harness.run([Self.binary] + arguments)
        #expect(outcome.status == 64, "\(arguments): \(outcome.stderr)")
        #expect(outcome.stderr.contains("Error"), "\(outcome.stderr)")
    }

    /// An expected-quality column: the candidates no other beats on both energy and quality are marked.
    @Test func compareMarksTheParetoOptimalCandidates() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("c.csv")
        // mid costs more than small and is expected to be worse: dominated. large is the best, at the most energy.
        try """
        name,params,tokens,hardware,devices,quality
        small,1.3e9,2.6e10,nvidia-a100-sxm,8,0.71
        mid,3e9,6e10,nvidia-a100-sxm,8,0.70
        large,7e9,1.4e11,nvidia-h100-sxm,32,0.78
        """.write(to: file, atomically: true, encoding: .utf8)
        let outcome = try Harness.run([Self.binary, "compare", file.path, "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: outcome.stdout) as? [[String: Any]])
        let optimal = Dictionary(
            uniqueKeysWithValues: rows.map { ($0["name"] as? String ?? "", $0["pareto_optimal"] as? Bool) })
        #expect(optimal == ["small": true, "mid": false, "large": true])
        // A loss-like column turns the front around: the cheapest with the lowest "quality" wins alone.
        let lower = try Harness.run([Self.binary, "compare", file.path, "--quality-lower-is-better"])
        let text = String(decoding: lower.stdout, as: UTF8.self)
        #expect(text.split(separator: "\n").filter { $0.hasSuffix("optimal") || $0.contains("optimal ") }.count == 2)
        #expect(text.split(separator: "\n").contains { $0.contains("mid") && $0.contains("optimal") })
    }

    @Test func compareRanksAndNamesTheBadLine() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("good.csv")
        try """
        name,params,tokens,hardware,devices
        large,7e9,1.4e11,nvidia-h100-sxm,32
        small,1.3e9,2.6e10,nvidia-a100-sxm,8
        """.write(to: good, atomically: true, encoding: .utf8)
        let outcome = try Harness.run([Self.binary, "compare", good.path, "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: outcome.stdout) as? [[String: Any]])
        #expect(rows.compactMap { $0["name"] as? String } == ["small", "large"])

        let bad = directory.appendingPathComponent("bad.csv")
        try "name,params,tokens,hardware\nok,1e9,1e9,nvidia-l4\nbroken,1e9,lots,nvidia-l4\n"
            .write(to: bad, atomically: true, encoding: .utf8)
        let failed = try Harness.run([Self.binary, "compare", bad.path])
        #expect(failed.status == 64)
        #expect(failed.stderr.contains("bad.csv:3, field tokens"), "\(failed.stderr)")
    }
}
