import Foundation
import Reports
import SustainTestSupport
import Testing

@testable import IntensityData

/// A job at constant power (the fake 2-socket tree: 176 W counted) across a step in the grid's intensity, 100 → 500
/// g/kWh at a known instant: its carbon is Σ energy × intensity, not total × one figure; a job half covered by the
/// series says so and falls back to the yearly figure for the rest.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct HourlyCarbonTests {
    static let watts = 176.0

    /// `sustain-measure [extra] -- sleep SECONDS` in the fake tree; the report.
    static func measure(seconds: Double, extra: [String], in directory: URL) throws -> Report {
        try measureWithSummary(seconds: seconds, extra: extra, in: directory).report
    }

    /// The report and the summary printed on stderr.
    static func measureWithSummary(seconds: Double, extra: [String], in directory: URL) throws -> (
        report: Report, summary: String
    ) {
        let path = directory.appendingPathComponent("report.json").path
        let outcome = try Harness.run(
            [
                "/usr/bin/unshare", "-m", "--propagation", "private", Harness.product("sustain-fakesys"),
                "--scenario", "two-socket", "--", Harness.product("sustain-measure"), "--no-daemon", "--report", path,
            ] + extra + ["--", "/bin/sleep", String(seconds)])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        return (try Report.decode(Data(contentsOf: URL(fileURLWithPath: path))), outcome.stderr)
    }

    static func iso(_ seconds: Double) -> String {
        ISO8601DateFormatter.string(
            from: Date(timeIntervalSince1970: seconds), timeZone: .gmt,
            formatOptions: [.withInternetDateTime, .withFractionalSeconds])
    }

    @Test func carbonFollowsAStepInTheSeriesWithinHalfAPercent() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let step = (Date().timeIntervalSince1970 + 2).rounded()
        let csv = directory.appendingPathComponent("step.csv")
        try """
        timestamp,g_per_kwh,basis
        \(Self.iso(step - 3600)),100,lifecycle
        \(Self.iso(step)),500,lifecycle
        \(Self.iso(step + 3600)),500,lifecycle

        """.write(to: csv, atomically: true, encoding: .utf8)
        let report = try Self.measure(seconds: 4, extra: ["--intensity-series", csv.path], in: directory)
        let start = report.startedAt.timeIntervalSince1970
        let end = report.endedAt.timeIntervalSince1970
        #expect(start < step - 1 && end > step + 1, "the job spans the step")
        // Injected: 176 W before the step at 100 g/kWh, after it at 500 g/kWh.
        let expectedKg = (Self.watts * (step - start) * 100 + Self.watts * (end - step) * 500) / 3_600_000 / 1000
        let kg = try #require(report.carbon.kgCo2e)
        #expect(abs(kg - expectedKg) / expectedKg < 0.005, "\(kg) kg vs \(expectedKg) kg")
        let once = (report.energy.joules ?? 0) / 3_600_000 * 100 / 1000
        #expect(kg > once * 1.5, "not total × the first figure")
        let series = try #require(report.carbon.intensitySeries)
        #expect(series.usedForTotal && series.coverage.map { $0 > 0.999 } == true)
        #expect(series.pointsUsed == 2 && series.minGPerKwh == 100 && series.maxGPerKwh == 500)
        #expect(series.slices == "timeline")
        #expect(report.carbon.intensityBasis == "lifecycle")
        #expect(report.carbon.intensitySource.contains("hourly series"), "\(report.carbon.intensitySource)")
        let printed = String(format: "%.0f", try #require(series.meanGPerKwh))
        print("hourly carbon: \(kg) kg vs \(expectedKg) kg (\((kg / expectedKg - 1) * 100) %), mean \(printed) g/kWh")
    }

    @Test func aJobHalfCoveredSaysSoAndTheYearlyFigureFillsTheRest() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let edge = (Date().timeIntervalSince1970 + 2).rounded()
        let file = directory.appendingPathComponent("half.json")
        // The cache's own format: one period that ends 2 s into the job.
        try """
        {"schema": "sustain.intensity.v1", "provider": "uk-carbon-intensity", "zone": "GB", "region": "GB",
         "basis": "lifecycle", "attribution": "test", "fetched_at": "\(Self.iso(edge - 60))",
         "points": [{"start": "\(Self.iso(edge - 3600))", "end": "\(Self.iso(edge))", "g_per_kwh": 300}]}
        """.write(to: file, atomically: true, encoding: .utf8)
        let (report, summary) = try Self.measureWithSummary(
            seconds: 4, extra: ["--intensity-series", file.path, "--region", "FR"], in: directory)
        #expect(summary.contains("energy-weighted (hourly series uk-carbon-intensity GB for"), "\(summary)")
        #expect(summary.contains("FR yearly for the rest"), "\(summary)")
        let start = report.startedAt.timeIntervalSince1970
        let end = report.endedAt.timeIntervalSince1970
        let series = try #require(report.carbon.intensitySeries)
        let share = (edge - start) / (end - start)
        let coverage = try #require(series.coverage)
        #expect(abs(coverage - share) < 0.01, "coverage \(coverage) vs \(share)")
        let yearly = series.fallbackGPerKwh
        #expect(series.fallbackSource.contains("Ember"), "\(series.fallbackSource)")
        let expectedKg =
            (Self.watts * (edge - start) * 300 + Self.watts * (end - edge) * yearly) / 3_600_000 / 1000
        let kg = try #require(report.carbon.kgCo2e)
        #expect(abs(kg - expectedKg) / expectedKg < 0.005, "\(kg) kg vs \(expectedKg) kg")
        #expect(report.carbon.intensitySource.contains("of the energy"), "\(report.carbon.intensitySource)")
        #expect(report.carbon.resolvedFrom == "--region")
    }

    /// A configured series that is missing never stops a job: the report says which figure was used and why.
    @Test func aMissingConfiguredSeriesIsSaidAndTheYearlyFigureUsed() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("sustain.toml")
        try "[impact]\nregion = \"DE\"\nintensity_series = \"\(directory.path)/none.json\"\n".write(
            to: config, atomically: true, encoding: .utf8)
        let report = try Self.measure(seconds: 1, extra: ["--config", config.path], in: directory)
        #expect(report.carbon.intensitySeries == nil)
        #expect(report.carbon.kgCo2e != nil && report.carbon.regionCode == "DE")
        #expect(report.warnings.contains { $0.contains("intensity series could not be used") }, "\(report.warnings)")
    }

    /// `--start-at-mark` with a series (the one-report issue): the window moves to the mark before the series is
    /// looked up. A job that marks `train` 1 s in, across a step from 100 to 500 g/kWh 1 s after the mark, gets
    /// Σ energy × intensity over its counted window, within 0.5 % (the series was looked up 1 s early: far off).
    @Test func aStartMarkMovesTheWindowBeforeTheSeriesIsLookedUp() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let step = Date().timeIntervalSince1970 + 2.3
        let csv = directory.appendingPathComponent("step.csv")
        try """
        timestamp,g_per_kwh
        \(Self.iso(step - 3600)),100
        \(Self.iso(step)),500

        """.write(to: csv, atomically: true, encoding: .utf8)
        let path = directory.appendingPathComponent("report.json").path
        let outcome = try Harness.run([
            "/usr/bin/unshare", "-m", "--propagation", "private", Harness.product("sustain-fakesys"), "--scenario",
            "two-socket", "--", Harness.product("sustain-measure"), "-q", "--no-daemon", "--report", path,
            "--intensity-series", csv.path, "--start-at-mark", "train", "--", "/bin/sh", "-c",
            "sleep 1; echo 'begin train' > $SUSTAIN_MARKS; sleep 2.5",
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try Report.decode(Data(contentsOf: URL(fileURLWithPath: path)))
        let start = report.startedAt.timeIntervalSince1970
        let end = report.endedAt.timeIntervalSince1970
        #expect(start < step - 0.5 && end > step + 0.5, "the counted window spans the step: \(start) \(step) \(end)")
        let joules = try #require(report.energy.joules)
        let watts = joules / report.durationSeconds
        let expectedKg = (watts * (step - start) * 100 + watts * (end - step) * 500) / 3_600_000 / 1000
        let kg = try #require(report.carbon.kgCo2e)
        #expect(abs(kg - expectedKg) / expectedKg < 0.005, "\(kg) kg vs \(expectedKg) kg")
        #expect(report.warnings.contains { $0.contains("Counted from the first \"begin train\"") })
    }
}
