import Foundation
import Reports
import SustainTestSupport
import Testing

/// A job measured through `sustain-measured` is as exact as one measured by the wrapper alone: its start and stop
/// are fresh readings, and its `started_at`, `ended_at` and `duration_seconds` are the instants of those readings.
/// In the fake 2-socket tree at a steady 176 W (package and dram of both sockets), every report is compared with
/// the energy injected over its own window, at 1 Hz sampling (where a tick error would be a whole second) and at
/// 10 Hz, 20 runs each, with the counters moving every millisecond as real RAPL's do, while the machine is loaded:
/// two busy loops, a loop of short processes and a flood of requests to the service itself. And 50 jobs at once.
/// Jobs last 2 s: each end of a window may be off by one counter step (0.05 % of 2 s together at 1 ms). The 50
/// jobs at once last 4 s: fifty wrappers starting together on two cores stall the simulator for a millisecond or
/// two (seen −0.101 % on a 2 s job in a fresh-clone CI run), the counters' own granularity, which a 0.1 % bound on
/// 2 s cannot absorb. The simulator's two real-time threads still stand still when the host does not run the VM's
/// CPUs (seen: 6 to 47 stalls of 2 ms or more in a loaded test, the longest 18 ms; once a −0.110 % job): only a
/// window that starts or ends in such a stall, which the simulator records, is allowed that stall's energy more.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct ServiceAccuracyTests {
    static let watts = 176.0
    static let tolerance = 0.001

    typealias Stall = FakesysTruth.Stall

    /// Runs jobs as `users` users at once (each `perUser` jobs of `seconds`), through the daemon sampling every
    /// `interval` seconds; returns the reports and the simulator's stalls.
    static func reports(
        interval: Double, users: Int, perUser: Int, seconds: Double, counterPeriod: Int = 500, loaded: Bool = false
    ) throws -> (reports: [Report], stalls: [Stall]) {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The load: two busy loops, a loop of short processes, and a flood of requests to the service.
        let load =
            loaded
            ? """
            ( while :; do :; done ) & LOAD="$!"
            ( while :; do :; done ) & LOAD="$LOAD $!"
            ( while :; do /bin/true; done ) & LOAD="$LOAD $!"
            ( while :; do curl -s --max-time 2 --unix-socket $SOCK http://localhost/v1/snapshot > /dev/null; done ) &
            LOAD="$LOAD $!"
            sleep 0.5
            """ : "LOAD=\"\""
        let outcome = try SocketTests.withDaemon(
            scenario: "unreadable", in: directory, config: "interval = \(interval)\n",
            fakesys: [
                "--period-microseconds", "\(counterPeriod)", "--truth", directory.appendingPathComponent("truth").path,
            ],
            """
            \(load)
            PIDS=""
            for u in $(seq 1 \(users)); do
                ( for j in $(seq 1 \(perUser)); do
                    setpriv --reuid=$((20000 + u)) --regid=$((20000 + u)) --clear-groups $D/sustain-measure -q \
                        --socket $SOCK --report $D/r-$u-$j.json -- /bin/sleep \(seconds)
                  done ) &
                PIDS="$PIDS $!"
            done
            wait $PIDS
            [ -z "$LOAD" ] || kill $LOAD
            """)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let reports = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("r-") }
            .map { try Report.decode(Data(contentsOf: directory.appendingPathComponent($0))) }
        let truth = try FakesysTruth.read(directory.appendingPathComponent("truth").path)
        return (reports, truth.stalls)
    }

    /// How far behind the injected energy the counters may have been at `instant` (a report's, to the
    /// millisecond): the length of a stall around it, else 0.
    static func lag(at instant: Date, _ stalls: [Stall]) -> Double {
        let t = instant.timeIntervalSince1970
        return stalls.filter { $0.from - 0.001 <= t && t <= $0.to + 0.001 }.map { $0.to - $0.from }.max() ?? 0
    }

    /// Each report's counted energy against the injected power over its own window; returns the errors. The bound
    /// is 0.1 %, widened only for a window that starts or ends while the simulator's counters stood still, by that
    /// stall's energy (said).
    static func check(_ run: (reports: [Report], stalls: [Stall]), expected count: Int, label: String) -> [Double] {
        let reports = run.reports
        #expect(reports.count == count, "\(label): \(reports.count) reports")
        var errors: [Double] = []
        for report in reports {
            #expect(report.measuredBy == "sustain-measured", "\(label): \(report.warnings)")
            guard let joules = report.energy.joules else {
                Issue.record("\(label): no energy in \(report.id)")
                continue
            }
            let injected = Self.watts * report.durationSeconds
            let error = (joules - injected) / injected
            errors.append(error)
            let stalled = lag(at: report.startedAt, run.stalls) + lag(at: report.endedAt, run.stalls)
            if stalled > 0 {
                print("\(label): a window's end fell in a simulator stall of \(stalled * 1000) ms: \(error * 100) %")
            }
            #expect(
                abs(error) < Self.tolerance + stalled / report.durationSeconds,
                "\(label): \(joules) J vs \(injected) J (\(error * 100) %); stalls at its ends \(stalled) s")
            // The instants the report gives are the window's (ISO 8601 to the millisecond).
            let window = report.endedAt.timeIntervalSince(report.startedAt)
            #expect(
                abs(window - report.durationSeconds) < 0.002, "\(label): \(window) s vs \(report.durationSeconds) s")
        }
        let worst = errors.map(abs).max() ?? 0
        let longest = run.stalls.map { $0.to - $0.from }.max() ?? 0
        print(
            "service accuracy \(label): \(errors.count) runs, worst \(String(format: "%+.4f", worst * 100)) %; "
                + "simulator: \(run.stalls.count) stalls, longest \(String(format: "%.1f", longest * 1000)) ms")
        return errors
    }

    @Test func at1HzUnderLoadEveryJobIsWithinATenthOfAPercent() throws {
        let reports = try Self.reports(
            interval: 1, users: 10, perUser: 2, seconds: 2, counterPeriod: 1000, loaded: true)
        _ = Self.check(reports, expected: 20, label: "1 Hz, 1 ms counters, loaded")
    }

    @Test func at10HzUnderLoadEveryJobIsWithinATenthOfAPercent() throws {
        let reports = try Self.reports(
            interval: 0.1, users: 10, perUser: 2, seconds: 2, counterPeriod: 1000, loaded: true)
        _ = Self.check(reports, expected: 20, label: "10 Hz, 1 ms counters, loaded")
    }

    @Test func fiftyJobsAtOnceAreEachWithinATenthOfAPercent() throws {
        let reports = try Self.reports(interval: 0.1, users: 50, perUser: 1, seconds: 4)
        _ = Self.check(reports, expected: 50, label: "50 at once")
    }
}
