import Foundation
import Reports
import SustainTestSupport
import Testing

/// Phases of a job measured by `sustain-measured`: an unprivileged user's training-like Python script (the
/// stdlib-only helper, Tests/Fixtures/phased_training.py) marks its steps and steps the machine's power between
/// them; the wrapper relays the marks, the service takes each as a fresh reading. In the fake 2-socket tree (176 W
/// counted at load factor 1).
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct ServicePhaseTests {
    @Test func phasesThroughTheServiceAreExactAndOnlyTheOwnerMarks() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(
            atPath: PhasedTraining.clients + "/sustain_marks",
            toPath: directory.appendingPathComponent("sustain_marks").path)
        try FileManager.default.copyItem(
            atPath: PhasedTraining.script, toPath: directory.appendingPathComponent("train.py").path)
        let outcome = try SocketTests.withDaemon(
            scenario: "unreadable", in: directory,
            """
            chmod -R a+rX $D/sustain_marks $D/train.py
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure --socket $SOCK \\
                --report $D/r.json -- /usr/bin/env python3 $D/train.py $D
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure --socket $SOCK -q \\
                --start-at-mark epoch --report $D/delayed.json -- /usr/bin/env python3 $D/train.py $D
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
        #expect(report.phases.map(\.name) == PhasedTraining.phaseNames, "\(report.warnings)")
        let mismatches = PhasedTraining.mismatches(report.phases.map { ($0.name, $0.seconds, $0.joules) })
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
        #expect(report.events.map(\.name) == ["checkpoint"])
        let totals = try #require(report.phaseTotals.first { $0.name == "epoch" })
        #expect(totals.count == 5 && totals.units == 5 * 4096, "\(totals)")
        let total = try #require(report.energy.joules)
        let topLevel = report.phases.filter { $0.parent == nil }.compactMap(\.joules).reduce(0, +)
        let outside = try #require(report.unphasedJoules)
        #expect(abs(topLevel + outside - total) / total < 0.001, "\(topLevel) + \(outside) vs \(total)")

        // The power timeline holds the job's counted energy, and shows the steps.
        let timeline = try #require(report.timeline)
        #expect(abs(timeline.countedJoules - total) / total < 0.005, "\(timeline.countedJoules) J vs \(total) J")
        let peak = timeline.countedMaxWatts.compactMap { $0 }.max() ?? 0
        #expect(peak > 3 * 176 * 0.9 && timeline.series.filter(\.counted).count == 4, "\(peak) W")
        // --start-at-mark epoch through the service: counted from the first `begin epoch`, as the wrapper alone does.
        let delayed = try Report.decode(Data(contentsOf: directory.appendingPathComponent("delayed.json")))
        let firstEpoch = try #require(delayed.phases.first { $0.name == "epoch" })
        #expect(abs(delayed.startedAt.timeIntervalSince(firstEpoch.startedAt)) < 0.002)
        #expect(
            delayed.warnings.contains { $0.contains("Counted from the first \"begin epoch\"") }, "\(delayed.warnings)")
        #expect(delayed.durationSeconds < report.durationSeconds - 0.4, "the 0.4 s load is not counted")
        let counted = try #require(delayed.energy.joules)
        let after = delayed.phases.filter { $0.parent == nil && $0.name != "load" }
        let inPhases = after.compactMap(\.joules).reduce(0, +)
        let outsideSeconds = delayed.durationSeconds - after.map(\.seconds).reduce(0, +)
        // Between phases the machine runs at 0.25× to 3× of 176 W.
        #expect(
            counted >= inPhases * 0.999 && counted <= inPhases + 3 * 176 * outsideSeconds + 0.001 * inPhases,
            "\(counted) J counted, \(inPhases) J in phases, \(outsideSeconds) s outside")
    }

    /// A flood of marks does not stretch the job (hostile input, round 3): a Python loop of `phase("step")` for 2 s
    /// at about 1,000 phases a second and a raw burst of 20,000 lines, as an unprivileged user through the service.
    /// The report's window is the command's life (the script prints its own), its energy 176 W over that window,
    /// the marks reach the service in batches (each at the instant the wrapper read it), and whatever was shed is
    /// said; the wrapper exits within a few seconds of the command.
    @Test func aFloodOfMarksDoesNotStretchTheJob() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(
            atPath: PhasedTraining.clients + "/sustain_marks",
            toPath: directory.appendingPathComponent("sustain_marks").path)
        try """
        import os, sys, time
        sys.path.insert(0, sys.argv[1])
        import sustain_marks
        began = time.monotonic()
        steps = 0
        while time.monotonic() - began < 2.0:
            with sustain_marks.phase("step"):
                time.sleep(0.0005)
            steps += 1
        fd = os.open(os.environ["SUSTAIN_MARKS"], os.O_WRONLY | os.O_NONBLOCK)
        burst = 0
        for _ in range(10000):
            try:
                os.write(fd, b"begin raw\\nend raw\\n")
                burst += 1
            except BlockingIOError:
                pass
        print(f"steps={steps} burst={burst} seconds={time.monotonic() - began:.4f}", flush=True)
        """.write(to: directory.appendingPathComponent("flood.py"), atomically: true, encoding: .utf8)
        let outcome = try SocketTests.withDaemon(
            scenario: "unreadable", in: directory,
            """
            chmod -R a+rX $D/sustain_marks $D/flood.py
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure --socket $SOCK -q \\
                --report $D/r.json -- /usr/bin/env python3 $D/flood.py $D > $D/out.txt
            """)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let printed = try String(contentsOf: directory.appendingPathComponent("out.txt"), encoding: .utf8)
        let fields = Dictionary(
            uniqueKeysWithValues: printed.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { pair in
                let parts = pair.split(separator: "=")
                return parts.count == 2 ? (String(parts[0]), Double(parts[1]) ?? -1) : nil
            })
        let steps = try #require(fields["steps"])
        let childSeconds = try #require(fields["seconds"])
        #expect(steps > 500, "\(printed)")
        let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent("r.json")))
        #expect(report.measuredBy == "sustain-measured")
        // The window is the command's life: its own timing plus Python's start and exit, never the relay's time.
        #expect(
            report.durationSeconds > childSeconds && report.durationSeconds < childSeconds + 0.5,
            "\(report.durationSeconds) s reported for a \(childSeconds) s loop; \(report.warnings)")
        let joules = try #require(report.energy.joules)
        let injected = 176 * report.durationSeconds
        #expect(abs(joules - injected) / injected < 0.005, "\(joules) J vs \(injected) J")
        // Every step mark was relayed or said to be shed.
        let step = try #require(report.phaseTotals.first { $0.name == "step" })
        let shed = report.warnings.first { $0.contains("shed by the wrapper") }
        #expect(step.count == Int(steps) || shed != nil, "\(step.count) of \(steps) steps, \(report.warnings)")
        let total = joules
        let topLevel = report.phaseTotals.compactMap(\.joules).reduce(0, +)
        let outside = try #require(report.unphasedJoules)
        #expect(abs(topLevel + outside - total) / total < 0.001, "\(topLevel) + \(outside) J vs \(total) J")
    }
}
