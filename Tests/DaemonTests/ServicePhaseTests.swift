import Foundation
import Reports
import SustainTestSupport
import Testing

/// Phases of a job measured by `sustain-measured`: an unprivileged user's Python script (the stdlib-only helper)
/// marks its steps, the wrapper relays them, the service takes each as a fresh reading. In the fake 2-socket tree at
/// a steady 176 W counted.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct ServicePhaseTests {
    @Test func phasesThroughTheServiceAreExactAndOnlyTheOwnerMarks() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let helper = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("clients/python/sustain_marks").path
        try FileManager.default.copyItem(atPath: helper, toPath: directory.appendingPathComponent("sustain_marks").path)
        try """
        import sys, time
        sys.path.insert(0, sys.argv[1])
        import sustain_marks
        with sustain_marks.phase("load"):
            time.sleep(0.3)
        for epoch in range(3):
            with sustain_marks.phase("epoch", units=1000, unit="samples"):
                time.sleep(0.3)
        sustain_marks.event("done")
        """.write(to: directory.appendingPathComponent("train.py"), atomically: true, encoding: .utf8)
        let outcome = try SocketTests.withDaemon(
            scenario: "unreadable", in: directory,
            """
            chmod -R a+rX $D/sustain_marks $D/train.py
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure --socket $SOCK \\
                --report $D/r.json -- /usr/bin/env python3 $D/train.py $D
            ID=$(curl -sf --unix-socket $SOCK -X POST -d '{"command":["x"]}' http://x/v1/jobs \\
                | sed 's/.*"id":"\\([^"]*\\)".*/\\1/')
            echo "other-mark=$(setpriv --reuid=4242 --regid=4242 --clear-groups curl -s -o /dev/null -w '%{http_code}' \\
                --unix-socket $SOCK -X POST -d '{"marks":["begin x"]}' http://x/v1/jobs/$ID/marks)"
            echo "owner-mark=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket $SOCK -X POST \\
                -d '{"marks":["begin x"]}' http://x/v1/jobs/$ID/marks)"
            """)
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("other-mark=403") && text.contains("owner-mark=200"), "\(text)")
        let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent("r.json")))
        #expect(report.measuredBy == "sustain-measured")
        #expect(report.phases.map(\.name) == ["load", "epoch", "epoch", "epoch"], "\(report.warnings)")
        for phase in report.phases {
            let joules = try #require(phase.joules)
            let injected = 176 * phase.seconds
            #expect(abs(joules - injected) / injected < 0.005, "\(phase.name): \(joules) J vs \(injected) J")
        }
        #expect(report.events.map(\.name) == ["done"])
        #expect(report.phaseTotals.first { $0.name == "epoch" }?.units == 3000)
        let total = try #require(report.energy.joules)
        let topLevel = report.phases.compactMap(\.joules).reduce(0, +)
        let outside = try #require(report.unphasedJoules)
        #expect(abs(topLevel + outside - total) / total < 0.001, "\(topLevel) + \(outside) vs \(total)")
    }
}
