import Foundation
import SustainCore
import SustainTestSupport
import Testing

@testable import Impact
@testable import IntensityData

/// Series files as users write them, the cache as `intensity fetch` writes it, and `intensity show` on a stored
/// series.
struct SeriesFileTests {
    static let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/intensity-gb-sample.csv").path

    /// What the wrapper keeps of a long series while its job runs: the periods from the job's start on; a series
    /// that ended before keeps its first and last periods (the report names its span).
    @Test func aSeriesKeepsWhatAJobStartingNowCanUse() throws {
        let series = try SeriesFile.parseCSV(
            "timestamp,g_per_kwh\n2026-11-28T00:00Z,100\n2026-11-28T01:00Z,200\n2026-11-28T02:00Z,300\n",
            basis: .lifecycle, name: "x.csv")
        let at = { (text: String) in try #require(UTCTimestamp.seconds(parsing: text)) }
        #expect(series.ending(after: try at("2026-11-28T01:30Z")).points.map(\.gramsPerKilowattHour) == [200, 300])
        #expect(series.ending(after: try at("2026-11-27T00:00Z")).points.count == 3)
        #expect(series.ending(after: try at("2026-11-29T00:00Z")).points.map(\.gramsPerKilowattHour) == [100, 300])
    }

    @Test func aCSVBecomesPeriodsThatLastUntilTheNextRow() throws {
        let series = try SeriesFile.parseCSV(
            "timestamp,g_per_kwh\n2026-11-28T00:00Z,100\n2026-11-28T00:30:00+00:00,200\n\n# a comment\n"
                + "2026-11-28 01:00:00,300\r\n",
            basis: .lifecycle, name: "x.csv")
        #expect(series.points.map(\.gramsPerKilowattHour) == [100, 200, 300])
        #expect(series.points.map { $0.end - $0.start } == [1800, 1800, 1800], "the last as long as the one before")
        #expect(series.basis == .lifecycle && series.provider == "file")
    }

    @Test(arguments: [
        ("time,value\n2026-11-28T00:00Z,1\n", "line 1: expected the header"),
        ("timestamp,g_per_kwh\n2026-11-28T00:00Z\n", "line 2: expected 2 fields"),
        ("timestamp,g_per_kwh\nyesterday,100\n", "\"yesterday\" is not an ISO 8601 time"),
        ("timestamp,g_per_kwh\n2026-11-28T00:00Z,-5\n", "from 0 to 5000"),
        ("timestamp,g_per_kwh,basis\n2026-11-28T00:00Z,1,direct\n2026-11-28T01:00Z,1,marginal\n", "different bases"),
        ("timestamp,g_per_kwh\n2026-11-28T00:00Z,1\n2026-11-28T00:00Z,2\n", "two rows at"),
        ("timestamp,g_per_kwh\n", "no rows"),
        ("timestamp,g_per_kwh,basis\n2026-11-28T00:00Z,1,direct,extra\n", "line 2: expected 3 fields"),
        ("timestamp,g_per_kwh\n2026-11-28T00:00Z,1,direct\n", "line 2: expected 2 fields"),
        ("timestamp,g_per_kwh\n2026-11-28T00:00Z,\n", "line 2: expected 2 fields"),
    ])
    func aBadCSVSaysWhereAndWhy(text: String, message: String) {
        #expect {
            _ = try SeriesFile.parseCSV(text, basis: .lifecycle, name: "x.csv")
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func theCacheIsWrittenAtomicallyReadableAndBounded() throws {
        let directory = try Harness.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let day = 86_400.0
        let now = 100 * day
        func fetched(from: Double, count: Int, value: Double) throws -> IntensitySeries {
            try IntensitySeries(
                provider: "uk-carbon-intensity", zone: "GB", basis: .direct,
                points: (0..<count).map {
                    IntensityPoint(
                        start: from + Double($0) * 1800, end: from + Double($0 + 1) * 1800,
                        gramsPerKilowattHour: value)
                }, fetchedAt: now, attribution: "test")
        }
        // 40 days of half-hours, then today's again with other figures: 30 days are kept, today's replaced.
        var stored = try SeriesCache.store(
            try fetched(from: now - 40 * day, count: 40 * 48, value: 100), region: "GB", directory: directory, now: now)
        #expect(stored.series.points.count == 30 * 48)
        stored = try SeriesCache.store(
            try fetched(from: now - day, count: 48, value: 200), region: "GB", directory: directory, now: now)
        #expect(stored.series.points.count == 30 * 48)
        #expect(stored.series.points.suffix(48).allSatisfy { $0.gramsPerKilowattHour == 200 })
        let loaded = try SeriesFile.load(stored.path)
        #expect(loaded.series == stored.series && loaded.region == "GB")
        let attributes = try FileManager.default.attributesOfItem(atPath: stored.path)
        #expect(attributes[.posixPermissions] as? Int == 0o644)
        #expect((attributes[.size] as? Int ?? 0) < 200_000, "30 days of half-hours stay small")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["uk-carbon-intensity-GB.json"])
        // A cache file that is not a series is replaced, and said.
        try "garbage".write(toFile: stored.path, atomically: true, encoding: .utf8)
        let replaced = try SeriesCache.store(
            try fetched(from: now - day, count: 48, value: 300), region: "GB", directory: directory, now: now)
        #expect(replaced.note?.contains("could not be read") == true)
        #expect(replaced.series.points.count == 48)
    }

    @Test func showFindsTheGreenestStartOnAStoredSeries() throws {
        let outcome = try Harness.run([
            Harness.product("sustain-measure"), "intensity", "show", "--series", Self.sample, "--at",
            "2026-11-28T19:00Z", "--hours", "3", "--duration", "2h",
        ])
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("2026-11-28 19:00    191"))
        #expect(
            text.hasSuffix(
                "start at 2026-11-28 20:00 UTC (in 1 h), mean 127 g/kWh, 17 % less than starting now (154 g/kWh).\n"),
            "\(text)")
        let uncovered = try Harness.run([
            Harness.product("sustain-measure"), "intensity", "show", "--series", Self.sample, "--at",
            "2026-11-28T23:00Z", "--duration", "3h",
        ])
        #expect(String(decoding: uncovered.stdout, as: UTF8.self).contains("does not cover a whole 3h window"))
    }

    /// A bad --intensity-series stops the run before the command starts.
    @Test func aBadSeriesFileStopsTheRunBeforeTheCommand() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bad = directory.appendingPathComponent("bad.csv")
        try "timestamp,g_per_kwh\n2026-11-28T00:00Z,lots\n".write(to: bad, atomically: true, encoding: .utf8)
        let marker = directory.appendingPathComponent("ran").path
        let outcome = try Harness.run([
            Harness.product("sustain-measure"), "--no-daemon", "--intensity-series", bad.path, "--report",
            directory.appendingPathComponent("r.json").path, "--", "/usr/bin/touch", marker,
        ])
        #expect(outcome.status == 64)
        #expect(outcome.stderr.contains("--intensity-series") && outcome.stderr.contains("line 2"), "\(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the command did not run")
    }
}
