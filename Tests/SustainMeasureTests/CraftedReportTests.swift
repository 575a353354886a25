import Foundation
import Reports
import SustainTestSupport
import Testing

/// Crafted report files (hostile input, round 3): `report html` trapped (SIGILL) on timeline arrays of different
/// lengths, `report merge` summed a negative energy, and two different files for the same host and id kept the
/// first silently. Each file is refused with the field named (exit 64, no trap), and a conflict is said.
@Suite(.serialized)
struct CraftedReportTests {
    /// A real report of `/bin/true` (no counters here: estimated), as JSON to edit.
    static func base(in directory: URL) throws -> [String: Any] {
        let path = directory.appendingPathComponent("base.json").path
        let outcome = try Harness.run([
            Harness.product("sustain-measure"), "--no-daemon", "-q", "--report", path, "--", "/bin/true",
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        return try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    static func write(_ json: [String: Any], _ name: String, in directory: URL) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func implausibleFilesAreRefusedWithTheFieldNamed() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let base = try Self.base(in: directory)
        var negative = base
        var energy = try #require(base["energy"] as? [String: Any])
        energy["joules"] = -500.0
        negative["energy"] = energy
        var uneven = base
        uneven["timeline"] = [
            "bucket_seconds": 0.1, "offset_seconds": 0, "seconds": [0.1, 0.1, 0.1], "counted_watts": [1, 2],
            "counted_min_watts": [1], "counted_max_watts": [1, 2, 3], "series": [], "note": "crafted",
        ]
        let cases = [
            ("negative.json", "energy.joules", ["merge"]),
            ("uneven.json", "arrays of different lengths", ["html", "merge"]),
        ]
        let files = [
            "negative.json": try Self.write(negative, "negative.json", in: directory),
            "uneven.json": try Self.write(uneven, "uneven.json", in: directory),
        ]
        let good = try Self.write(base, "good.json", in: directory)
        for (name, field, commands) in cases {
            for command in commands {
                let outcome = try Harness.run(
                    [Harness.product("sustain-measure"), "report", command, good, try #require(files[name])]
                        + ["-o", directory.appendingPathComponent("out-\(command)").path])
                #expect(outcome.status == 64, "\(command) \(name): \(outcome.status) \(outcome.stderr)")
                #expect(outcome.stderr.contains(name) && outcome.stderr.contains(field), "\(outcome.stderr)")
            }
        }
    }

    @Test func twoDifferentFilesForOneHostAndIdAreAConflict() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var base = try Self.base(in: directory)
        var energy = try #require(base["energy"] as? [String: Any])
        energy["joules"] = 100.0
        base["energy"] = energy
        let first = try Self.write(base, "first.json", in: directory)
        energy["joules"] = 900.0
        base["energy"] = energy
        let second = try Self.write(base, "second.json", in: directory)
        let merged = directory.appendingPathComponent("merged.json").path
        let outcome = try Harness.run([
            Harness.product("sustain-measure"), "report", "merge", first, second, "-o", merged,
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try Report.decode(Data(contentsOf: URL(fileURLWithPath: merged)))
        #expect(report.energy.joules == 100)
        #expect(
            report.warnings.contains { $0.hasPrefix("CONFLICT") && $0.contains("100.0 J") && $0.contains("900.0 J") },
            "\(report.warnings)")
    }
}
