import Foundation
import SustainTestSupport
import Testing

/// The systemd unit: `systemd-analyze verify` is clean and the offline security exposure is at most 2.0.
@Suite(
    .enabled(
        if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "SKIPPED: no systemd-analyze"))
struct UnitFileTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("systemd")
    static let unit = directory.appendingPathComponent("sustain-measured.service")

    /// The units with ExecStart pointing at the built binaries (verify checks that they exist).
    static func installedCopies() throws -> URL {
        let copies = try Harness.temporaryDirectory()
        for name in ["sustain-measured.service", "sustain-intensity-fetch.service", "sustain-intensity-fetch.timer"] {
            var text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            for binary in ["sustain-measured", "sustain-intensity"] {
                text = text.replacingOccurrences(of: "/usr/local/bin/\(binary)", with: Harness.product(binary))
            }
            try text.write(to: copies.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return copies
    }

    /// The service's copy with a drop-in beside it (`sustain-measured.service.d/NAME`).
    static func withDropIn(_ name: String) throws -> URL {
        let copies = try installedCopies()
        let dropIns = copies.appendingPathComponent("sustain-measured.service.d")
        try FileManager.default.createDirectory(at: dropIns, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: directory.appendingPathComponent("sustain-measured.service.d/\(name)"),
            to: dropIns.appendingPathComponent(name))
        return copies
    }

    @Test(arguments: ["sustain-measured.service", "sustain-intensity-fetch.service sustain-intensity-fetch.timer"])
    func verifyIsClean(units: String) throws {
        let copies = try Self.installedCopies()
        let paths = units.split(separator: " ").map { copies.appendingPathComponent(String($0)).path }
        let outcome = try Harness.run(["/usr/bin/systemd-analyze", "verify"] + paths)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.isEmpty, "\(outcome.stderr)")
    }

    /// The service and the fetcher (the one unit with network) are both locked down.
    @Test(arguments: ["sustain-measured.service", "sustain-intensity-fetch.service"])
    func exposureIsAtMostTwo(unit: String) throws {
        let outcome = try Harness.run([
            "/usr/bin/systemd-analyze", "security", "--offline=yes",
            try Self.installedCopies().appendingPathComponent(unit).path,
        ])
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        let line = try #require(text.split(separator: "\n").first { $0.contains("Overall exposure level") })
        let figure = try #require(
            line.split(separator: " ").compactMap { Double($0) }.first, "no figure in \(line)")
        #expect(figure <= 2.0, "\(line)")
    }

    /// The fetcher runs unprivileged and writes only its cache; the service's unit keeps no network.
    @Test func theFetcherIsUnprivilegedAndTheServiceStaysOffline() throws {
        let fetch = try String(
            contentsOf: Self.directory.appendingPathComponent("sustain-intensity-fetch.service"), encoding: .utf8)
        for line in [
            "DynamicUser=yes", "CacheDirectory=sustain-intensity", "CacheDirectoryMode=0755",
            "ProtectSystem=strict", "CapabilityBoundingSet=",
        ] {
            #expect(fetch.split(separator: "\n").contains { $0 == line }, "\(line)")
        }
        let service = try String(contentsOf: Self.unit, encoding: .utf8)
        #expect(service.split(separator: "\n").contains("PrivateNetwork=yes"))
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

    /// The drop-ins that open TCP (for /metrics, for the watched servers' counters) are read, clean, and keep the
    /// unit's exposure at most 2.0, with every peer but the allowed ones refused.
    @Test(arguments: ["metrics.conf", "watch.conf"]) func aNetworkDropInOpensTCPAndNothingElse(name: String) throws {
        let copies = try Self.withDropIn(name)
        let unit = copies.appendingPathComponent("sustain-measured.service").path
        let verify = try Harness.run(["/usr/bin/systemd-analyze", "verify", unit])
        #expect(verify.status == 0 && verify.stderr.isEmpty, "\(verify.stderr)")
        let security = try Harness.run(["/usr/bin/systemd-analyze", "security", "--offline=yes", unit])
        let text = String(decoding: security.stdout, as: UTF8.self)
        let line = try #require(text.split(separator: "\n").first { $0.contains("Overall exposure level") })
        #expect(line.split(separator: " ").compactMap { Double($0) }.first.map { $0 <= 2.0 } == true, "\(line)")
        #expect(!text.contains("✗ PrivateNetwork=") || text.contains("IPAddressDeny"), "the drop-in was read")
        let dropIn = try String(
            contentsOf: Self.directory.appendingPathComponent("sustain-measured.service.d/\(name)"),
            encoding: .utf8)
        for line in ["PrivateNetwork=no", "IPAddressDeny=any", "IPAddressAllow=localhost"] {
            #expect(dropIn.split(separator: "\n").contains { $0 == line }, "\(line)")
        }
    }
}
