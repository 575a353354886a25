import Foundation
import Reports
import SustainTestSupport
import Testing

/// The service's configured intensity series (`[impact] intensity_series`, what the fetch timer keeps fresh): an
/// unprivileged user's job across a step from 100 to 500 g/kWh, at constant power in the fake 2-socket tree
/// (176 W counted), gets Σ energy × intensity, and the daemon never reads the network.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct ServiceHourlyCarbonTests {
    static func iso(_ seconds: Double) -> String {
        ISO8601DateFormatter.string(
            from: Date(timeIntervalSince1970: seconds), timeZone: .gmt,
            formatOptions: [.withInternetDateTime, .withFractionalSeconds])
    }

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

    /// The configured series as an attacker who owns the fetcher's cache would plant it (hostile input, round 3):
    /// a symbolic link or a hard link to a root-only file, a file owned by another user, and a file whose first
    /// line is a secret. The service reads none of the planted files, and no user's report quotes any of them: it
    /// says the yearly figure was used and the service's log says why.
    @Test func aPlantedSeriesIsNotReadAndNothingOfItIsQuoted() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let cache = directory.appendingPathComponent("cache")
        let outcome = try SocketTests.withDaemon(
            scenario: "unreadable", in: directory,
            config: "[impact]\nintensity_series = \"\(cache.path)/series.csv\"\n",
            """
            mkdir -p $D/cache && chmod 755 $D/cache
            printf 'SECRET-SHADOW-LINE,1\\n' > $D/secret && chmod 600 $D/secret
            job() { setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure --socket $SOCK -q \\
                --report $D/$1.json -- /bin/true; }
            ln -s $D/secret $D/cache/series.csv; job link
            rm $D/cache/series.csv; ln $D/secret $D/cache/series.csv; job hard
            rm $D/cache/series.csv; cp $D/secret $D/cache/series.csv; chown 65534 $D/cache/series.csv; job owner
            rm $D/cache/series.csv; cp $D/secret $D/cache/series.csv; chmod 644 $D/cache/series.csv; job content
            """)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        for name in ["link", "hard", "owner", "content"] {
            let text = try String(contentsOf: directory.appendingPathComponent("\(name).json"), encoding: .utf8)
            #expect(!text.contains("SECRET"), "\(name): the report quotes the planted file")
            let report = try Report.decode(Data(text.utf8))
            #expect(report.warnings.contains { $0.contains("intensity series could not be used") }, "\(name)")
            #expect(report.carbon.intensitySeries == nil)
        }
        let log = try String(contentsOf: directory.appendingPathComponent("daemon.log"), encoding: .utf8)
        #expect(log.contains("hard link") && log.contains("owned by uid 65534"), "\(log.suffix(2000))")
    }

    /// One carbon figure (the one-report issue): through the service, with the user's own series, region and a
    /// configuration file unlike the service's (PUE 1.3, a price), the report the user gets and the row the service
    /// stores carry the same `carbon` (decoded, equal), the row has the series, and the figure is Σ energy ×
    /// intensity × PUE within 0.5 %. With `--start-at-mark`, the series is looked up over the counted window.
    @Test func theUsersFileAndTheStoredRowCarryOneCarbonFigure() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // 100 g/kWh, 500 from a step inside the first job, 100 again from one inside the second's counted window.
        let now = Date().timeIntervalSince1970
        let steps: [(at: Double, grams: Double)] = [(now - 3600, 100), (now + 2.5, 500), (now + 6.9, 100)]
        let series = directory.appendingPathComponent("user-series.csv")
        try (["timestamp,g_per_kwh"] + steps.map { "\(Self.iso($0.at)),\(Int($0.grams))" }).joined(separator: "\n")
            .write(to: series, atomically: true, encoding: .utf8)
        /// Σ power × intensity over [start, end], in kg, at the steps above.
        func expected(watts: Double, from start: Double, to end: Double) -> Double {
            var grams = 0.0
            for (index, step) in steps.enumerated() {
                let until = index + 1 < steps.count ? steps[index + 1].at : .infinity
                let overlap = min(end, until) - max(start, step.at)
                if overlap > 0 { grams += watts * overlap / 3_600_000 * step.grams }
            }
            return grams / 1000
        }
        let userConfig = directory.appendingPathComponent("user.toml")
        try "[impact]\npue = 1.3\nprice = 0.25\ncurrency = \"EUR\"\n".write(
            to: userConfig, atomically: true, encoding: .utf8)
        let outcome = try SocketTests.withDaemon(
            scenario: "unreadable", in: directory, config: "[impact]\nregion = \"PL\"\npue = 1.1\n",
            """
            chmod 644 $D/user-series.csv $D/user.toml
            as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
            as_user $D/sustain-measure --socket $SOCK -q --config $D/user.toml --region FR \\
                --intensity-series $D/user-series.csv --report $D/r.json -- /bin/sleep 4
            as_user $D/sustain-measure --socket $SOCK -q --config $D/user.toml --region FR \\
                --intensity-series $D/user-series.csv --start-at-mark train --report $D/m.json -- \\
                /bin/sh -c "sleep 1; echo 'begin train' > \\$SUSTAIN_MARKS; sleep 2"
            for name in r m; do
                ID=$(sed -n 's/^  "id" : "\\([^"]*\\)".*/\\1/p' $D/$name.json | head -1)
                as_user $D/sustain-measure report show $ID --socket $SOCK > $D/$name-row.json
            done
            """)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        for name in ["r", "m"] {
            let file = try Report.decode(Data(contentsOf: directory.appendingPathComponent("\(name).json")))
            let row = try Report.decode(Data(contentsOf: directory.appendingPathComponent("\(name)-row.json")))
            #expect(file.measuredBy == "sustain-measured" && row.id == file.id)
            #expect(file.carbon == row.carbon, "\(name): the file and the stored row differ")
            #expect(row.carbon.intensitySeries?.usedForTotal == true, "\(name): the row has the series")
            #expect(
                row.carbon.pue == 1.3 && row.carbon.cost?.currency == "EUR", "the user's settings, not the service's")
            let start = file.startedAt.timeIntervalSince1970
            let end = file.endedAt.timeIntervalSince1970
            let joules = try #require(file.energy.joules)
            let watts = joules / file.durationSeconds
            let step = steps[name == "r" ? 1 : 2].at
            #expect(start < step - 0.2 && end > step + 0.2, "\(name): spans a step: \(start) \(step) \(end)")
            let expectedKg = 1.3 * expected(watts: watts, from: start, to: end)
            let kg = try #require(file.carbon.kgCo2e)
            #expect(abs(kg - expectedKg) / expectedKg < 0.005, "\(name): \(kg) kg vs \(expectedKg) kg")
        }
    }
}
