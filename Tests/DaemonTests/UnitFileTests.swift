import Foundation
import SustainTestSupport
import Testing

/// The systemd unit: `systemd-analyze verify` is clean and the offline security exposure is at most 2.0.
@Suite(
    .enabled(
        if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "SKIPPED: no systemd-analyze"))
struct UnitFileTests {
    static let unit = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("systemd/sustain-measured.service")

    /// The unit with ExecStart pointing at the built binary (verify checks that it exists).
    static func installedCopy() throws -> URL {
        let directory = try Harness.temporaryDirectory()
        let text = try String(contentsOf: unit, encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/sustain-measured", with: Harness.product("sustain-measured"))
        let copy = directory.appendingPathComponent("sustain-measured.service")
        try text.write(to: copy, atomically: true, encoding: .utf8)
        return copy
    }

    @Test func verifyIsClean() throws {
        let outcome = try Harness.run(["/usr/bin/systemd-analyze", "verify", try Self.installedCopy().path])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.isEmpty, "\(outcome.stderr)")
    }

    @Test func exposureIsAtMostTwo() throws {
        let outcome = try Harness.run([
            "/usr/bin/systemd-analyze", "security", "--offline=yes", try Self.installedCopy().path,
        ])
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        let line = try #require(text.split(separator: "\n").first { $0.contains("Overall exposure level") })
        let figure = try #require(
            line.split(separator: " ").compactMap { Double($0) }.first, "no figure in \(line)")
        #expect(figure <= 2.0, "\(line)")
    }

    @Test func sysusersCreatesTheSocketGroup() throws {
        let text = try String(
            contentsOf: Self.unit.deletingLastPathComponent().appendingPathComponent("sustain.sysusers"),
            encoding: .utf8)
        #expect(text.split(separator: "\n").contains { $0.hasPrefix("g sustain") })
        let unit = try String(contentsOf: Self.unit, encoding: .utf8)
        #expect(unit.contains("Group=sustain"))
        #expect(unit.contains("RuntimeDirectory=sustain"))
        #expect(unit.contains("StateDirectory=sustain"))
    }
}
