import Foundation
import Reports
import SustainTestSupport
import Testing

/// An unprivileged user's experiment through `sustain-measured`: each run (and the baseline) is a service job
/// labelled with the experiment's id, in the service's log, and measured as any job is (176 W in the fake 2-socket
/// tree): each run within 0.5 % of the injected energy over its window, the baseline within 1 % of the idle power.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct ServiceExperimentTests {
    @Test func eachRunIsAServiceJobLabelledWithTheExperiment() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try SocketTests.withDaemon(
            scenario: "unreadable", in: directory,
            """
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure --socket $SOCK -q --repeat 2 \\
                --baseline 1 --report $D/exp.json -- /bin/sleep 0.5
            ID=$(sed -n 's/^  "id" : "\\(exp-[^"]*\\)".*/\\1/p' $D/exp.json)
            echo "listed=$(setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure report list \\
                --socket $SOCK --label experiment=$ID | grep -c 'sleep')"
            """)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let experiment = try Experiment.decode(Data(contentsOf: directory.appendingPathComponent("exp.json")))
        let runs = experiment.configurations[0].runs
        #expect(runs.count == 2 && experiment.failedRuns == 0)
        for run in runs {
            let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent(run.report)))
            #expect(report.measuredBy == "sustain-measured", "\(report.warnings)")
            #expect(report.labels["experiment"] == experiment.id)
            let joules = try #require(run.energyJoules)
            let injected = 176 * run.durationSeconds
            #expect(abs(joules - injected) / injected < 0.005, "\(joules) J vs \(injected) J")
            print("service experiment run: \((joules / injected - 1) * 100) %")
        }
        let baseline = try #require(experiment.baseline)
        #expect(abs(baseline.before.watts - 176) / 176 < 0.01, "\(baseline.before.watts) W")
        print("service experiment baseline: \((baseline.before.watts / 176 - 1) * 100) %")
        // Two runs and two baselines, each a job of the service's log under the experiment's label.
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        #expect(text.contains("listed=4"), "\(text) \(outcome.stderr)")
    }
}
