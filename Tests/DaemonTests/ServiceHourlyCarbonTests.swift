import Foundation
import Reports
import SustainTestSupport
import Testing

/// The service's configured intensity series (`[impact] intensity_series`, what the fetch timer keeps fresh): an
/// unprivileged user's job across a step from 100 to 500 g/kWh, at constant power in the fake 2-socket tree
/// (176 W counted), gets Σ energy × intensity, and the daemon never reads the network.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct ServiceHourlyCarbonTests {
    @Test func theServiceChargesEachSideOfAStepAtItsIntensity() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let step = (Date().timeIntervalSince1970 + 3).rounded()
        func iso(_ seconds: Double) -> String {
            ISO8601DateFormatter.string(
                from: Date(timeIntervalSince1970: seconds), timeZone: TimeZone(identifier: "UTC")!,
                formatOptions: [.withInternetDateTime])
        }
        let series = directory.appendingPathComponent("series.csv")
        try "timestamp,g_per_kwh,basis\n\(iso(step - 3600)),100,direct\n\(iso(step)),500,direct\n".write(
            to: series, atomically: true, encoding: .utf8)
        let outcome = try SocketTests.withDaemon(
            scenario: "unreadable", in: directory, config: "[impact]\nintensity_series = \"\(series.path)\"\n",
            """
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure --socket $SOCK -q \\
                --report $D/r.json -- /bin/sleep 4
            """)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent("r.json")))
        #expect(report.measuredBy == "sustain-measured")
        if let timeline = report.timeline {
            // The edge buckets carry the job's power, not the calibration's remainder.
            let edges = [timeline.countedWatts.first, timeline.countedWatts.last].compactMap { $0 ?? nil }
            #expect(edges.allSatisfy { abs($0 - 176) / 176 < 0.02 }, "\(timeline.countedWatts)")
        }
        let start = report.startedAt.timeIntervalSince1970
        let end = report.endedAt.timeIntervalSince1970
        #expect(start < step - 1 && end > step + 1, "the job spans the step")
        let expectedKg = (176 * (step - start) * 100 + 176 * (end - step) * 500) / 3_600_000 / 1000
        let kg = try #require(report.carbon.kgCo2e)
        #expect(abs(kg - expectedKg) / expectedKg < 0.005, "\(kg) kg vs \(expectedKg) kg")
        let use = try #require(report.carbon.intensitySeries)
        #expect(use.usedForTotal && use.coverage.map { $0 > 0.999 } == true && use.pointsUsed == 2)
        #expect(report.carbon.intensityBasis == "direct")
        print("service hourly carbon: \(kg) kg vs \(expectedKg) kg (\((kg / expectedKg - 1) * 100) %)")
    }
}
