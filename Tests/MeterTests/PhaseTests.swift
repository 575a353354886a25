import Foundation
import Reports
import SustainTestSupport
import Testing

/// Phases end to end: a training-like Python script (the stdlib-only helper, Tests/Fixtures/phased_training.py)
/// marks `load`, five `epoch`s with units and a nested `step`, and `eval`, wrapped by `sustain-measure` in the fake
/// 2-socket tree (176 W counted at load factor 1). The script steps the machine's power between phases (0.25× to
/// 3×), so each phase is held to the energy injected at its own power over its own window, and the top-level phases
/// and the time outside them add up to the job's total.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct PhaseTests {
    static let script = """
        import sys, time
        sys.path.insert(0, sys.argv[1])
        import sustain_marks
        with sustain_marks.phase("load"):
            time.sleep(0.4)
        for epoch in range(5):
            with sustain_marks.phase("epoch", units=4096, unit="tokens"):
                time.sleep(0.2)
                with sustain_marks.phase("step"):
                    time.sleep(0.1)
        sustain_marks.event("checkpoint")
        time.sleep(0.1)
        with sustain_marks.phase("eval"):
            time.sleep(0.3)
        sustain_marks.begin("never-ended")
        """

    @Test func everyPhaseIsTheInjectedEnergyOfItsWindowAndTheyAddUp() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let reportPath = directory.appendingPathComponent("r.json").path
        let outcome = try Harness.run([
            "/usr/bin/unshare", "-m", "--propagation", "private", Harness.product("sustain-fakesys"), "--scenario",
            "two-socket", "--", Harness.product("sustain-measure"), "--no-daemon", "--report", reportPath, "--",
            "/usr/bin/env",
            "python3", PhasedTraining.script, PhasedTraining.clients,
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try Report.decode(Data(contentsOf: URL(fileURLWithPath: reportPath)))
        #expect(report.phases.map(\.name) == PhasedTraining.phaseNames)
        let mismatches = PhasedTraining.mismatches(report.phases.map { ($0.name, $0.seconds, $0.joules) })
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
        // The power really changed: the last epoch drew 3× the first's per second.
        let epochs = report.phases.filter { $0.name == "epoch" }
        let watts = epochs.compactMap { phase in phase.joules.map { $0 / phase.seconds } }
        #expect(watts.count == 5 && watts[4] / watts[0] > 2.9, "\(watts)")
        #expect(epochs.allSatisfy { $0.units == 4096 && $0.unit == "tokens" && $0.joulesPerUnit != nil })
        #expect(report.phases.filter { $0.name == "step" }.allSatisfy { $0.parent == "epoch" })
        #expect(report.phases.first { $0.name == "never-ended" }?.closedAtJobEnd == true)
        #expect(report.warnings.contains { $0.contains("never ended") && $0.contains("never-ended") })
        #expect(report.events.map(\.name) == ["checkpoint"])
        let totals = try #require(report.phaseTotals.first { $0.name == "epoch" })
        #expect(totals.count == 5 && totals.units == 5 * 4096)
        // Conservation: top-level phases plus the energy outside them are the job's total.
        let total = try #require(report.energy.joules)
        let topLevel = report.phases.filter { $0.parent == nil }.compactMap(\.joules).reduce(0, +)
        let outside = try #require(report.unphasedJoules)
        #expect(abs(topLevel + outside - total) / total < 0.001, "\(topLevel) + \(outside) J vs \(total) J")
        #expect(outcome.stderr.contains("epoch ×5") && outcome.stderr.contains("per unit"), "\(outcome.stderr)")
        // The summary's sparkline: the highest block where the power peaks (the last epoch, 3×).
        let curve = try #require(outcome.stderr.split(separator: "\n").first { $0.hasPrefix("  curve   ") })
        #expect(curve.contains("█") && curve.contains("▁") && curve.contains("counted power"), "\(curve)")
        // The power timeline holds the job's counted energy, and shows the steps.
        let timeline = try #require(report.timeline)
        #expect(abs(timeline.countedJoules - total) / total < 0.005, "\(timeline.countedJoules) J vs \(total) J")
        let peak = timeline.countedWatts.compactMap { $0 }.max() ?? 0
        #expect(peak > 3 * 176 * 0.9 && timeline.series.filter(\.counted).count == 4, "\(peak) W")
    }

    /// `--start-at-mark epoch`: the totals start at the first `begin epoch` (like perf stat --delay); a mark that
    /// never comes leaves the whole run counted, and says so.
    @Test func startAtMarkCountsFromTheFirstBegin() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("train.py")
        try Self.script.write(to: script, atomically: true, encoding: .utf8)
        let clients = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("clients/python").path
        var reports: [Report] = []
        for mark in ["epoch", "nope"] {
            let path = directory.appendingPathComponent("\(mark).json").path
            let outcome = try Harness.run([
                "/usr/bin/unshare", "-m", "--propagation", "private", Harness.product("sustain-fakesys"), "--scenario",
                "two-socket", "--", Harness.product("sustain-measure"), "-q", "--no-daemon", "--start-at-mark", mark,
                "--report", path,
                "--", "/usr/bin/env", "python3", script.path, clients,
            ])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            reports.append(try Report.decode(Data(contentsOf: URL(fileURLWithPath: path))))
        }
        let delayed = reports[0]
        let firstEpoch = try #require(delayed.phases.first { $0.name == "epoch" })
        #expect(abs(delayed.startedAt.timeIntervalSince(firstEpoch.startedAt)) < 0.002)
        let joules = try #require(delayed.energy.joules)
        #expect(abs(joules - 176 * delayed.durationSeconds) / (176 * delayed.durationSeconds) < 0.005)
        #expect(delayed.durationSeconds < reports[1].durationSeconds - 0.3, "the 0.4 s load is not counted")
        #expect(delayed.warnings.contains { $0.contains("Counted from the first \"begin epoch\"") })
        #expect(reports[1].warnings.contains { $0.contains("never marked") }, "\(reports[1].warnings)")
    }

    /// Marks from a shell with no binary of ours (the README's one-liner), and hostile ones: an `end` with no
    /// `begin`, bytes that are not UTF-8, an over-long name, 20,000 marks in one job (the listing stops at 1,000;
    /// the totals count all), and a mark after the wrapper is gone (refused at once, nothing created).
    @Test func shellMarksAndHostileMarksAreSurvivedAndSaid() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("job.sh")
        try """
        echo "end nothing" > "$SUSTAIN_MARKS"
        printf 'begin \\377\\376\\n' > "$SUSTAIN_MARKS"
        echo "begin $(head -c 300 /dev/zero | tr '\\0' a)" > "$SUSTAIN_MARKS"
        echo "begin shell" > "$SUSTAIN_MARKS"; sleep 0.3; echo "end shell units=10 unit=items" > "$SUSTAIN_MARKS"
        python3 -c '
        import os
        with open(os.environ["SUSTAIN_MARKS"], "w") as f:
            for i in range(10000):
                f.write("begin e\\nend e units=1 unit=item\\n")
        '
        (for i in $(seq 100); do [ -e "$SUSTAIN_MARKS" ] || break; sleep 0.05; done
         \(Harness.product("sustain-measure")) mark late 2> \(directory.path)/late.err
         echo "late=$?" >> \(directory.path)/late.err; ls "$(dirname "$SUSTAIN_MARKS")" >> \(directory.path)/late.err 2>&1) \\
            > /dev/null &
        """.write(to: script, atomically: true, encoding: .utf8)
        let reportPath = directory.appendingPathComponent("r.json").path
        let outcome = try Harness.run([
            "/usr/bin/unshare", "-m", "--propagation", "private", Harness.product("sustain-fakesys"), "--scenario",
            "two-socket", "--", Harness.product("sustain-measure"), "--no-daemon", "--report", reportPath, "--",
            "/bin/sh",
            script.path,
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try Report.decode(Data(contentsOf: URL(fileURLWithPath: reportPath)))
        let shell = try #require(report.phases.first { $0.name == "shell" })
        let joules = try #require(shell.joules)
        #expect(abs(joules - 176 * shell.seconds) / (176 * shell.seconds) < 0.005, "\(joules) J in \(shell.seconds) s")
        #expect(shell.units == 10 && shell.unit == "items")
        #expect(report.phases.count == 1000, "the listing stops at 1,000")
        let e = try #require(report.phaseTotals.first { $0.name == "e" })
        #expect(e.count == 10_000 && e.units == 10_000)
        #expect(
            report.warnings.contains { $0.contains("not understood") && $0.contains("not UTF-8") }, "\(report.warnings)"
        )
        #expect(report.warnings.contains { $0.contains("\"end nothing\"") && $0.contains("no open phase") })
        #expect(report.warnings.contains { $0.contains("beyond the first 1000") })
        let total = try #require(report.energy.joules)
        let topLevel = report.phaseTotals.compactMap(\.joules).reduce(0, +)
        let outside = try #require(report.unphasedJoules)
        #expect(abs(topLevel + outside - total) / total < 0.001, "\(topLevel) + \(outside) J vs \(total) J")
        // The late mark: the channel is gone with the wrapper; `mark` says so at once, and creates nothing.
        var late = ""
        for _ in 0..<80 where !late.contains("late=") {
            Thread.sleep(forTimeInterval: 0.1)
            late = (try? String(contentsOfFile: directory.path + "/late.err", encoding: .utf8)) ?? ""
        }
        #expect(late.contains("late=1") && late.contains("No such file"), "\(late)")
    }

    /// No byte sequence from the job stops the mark reader or holds the wrapper: a NUL line (once the reader's quit
    /// sentinel), a full pipe of them written non-blocking, an endless line. Crossing phases (`begin a; begin b;
    /// end a; end b`) keep top-level + unphased = total: `end a` ends b too. A wrapper killed with SIGKILL leaves its
    /// private FIFO directory; the next wrapper of that user removes it.
    @Test func hostileStreamsNeverHoldTheWrapperAndCrossingPhasesAddUp() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let runtime = directory.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: runtime, withIntermediateDirectories: true)
        chmod(runtime.path, 0o700)
        let script = directory.appendingPathComponent("job.sh")
        try """
        printf '\\000\\n' > "$SUSTAIN_MARKS"
        echo "begin a" > "$SUSTAIN_MARKS"; sleep 0.2
        echo "begin b" > "$SUSTAIN_MARKS"; sleep 0.2
        echo "end a" > "$SUSTAIN_MARKS"; sleep 0.2
        echo "end b" > "$SUSTAIN_MARKS"; sleep 0.1
        python3 -c '
        import os
        fd = os.open(os.environ["SUSTAIN_MARKS"], os.O_WRONLY | os.O_NONBLOCK)
        for chunk in (b"\\0\\n" * 4096, b"x" * 100000, b"\\0" * 100000 + b"\\n"):
            for _ in range(64):
                try:
                    os.write(fd, chunk)
                except BlockingIOError:
                    pass
        '
        """.write(to: script, atomically: true, encoding: .utf8)
        // A wrapper killed with SIGKILL mid-job: its directory stays until the next wrapper of the user starts.
        let killed = try Harness.run(
            [
                "/bin/sh", "-c",
                "\(Harness.product("sustain-measure")) --no-daemon -q --report \(directory.path)/k.json -- sleep 3 &"
                    + " sleep 1; ls \(runtime.path); kill -9 $!; sleep 0.2; ls \(runtime.path)",
            ], environment: ["XDG_RUNTIME_DIR": runtime.path, "PATH": "/usr/bin:/bin"])
        let left = String(decoding: killed.stdout, as: UTF8.self).split(separator: "\n")
        #expect(left.count == 2 && left.allSatisfy { $0.hasPrefix("sustain-marks-") }, "\(left)")

        let reportPath = directory.appendingPathComponent("r.json").path
        let started = ContinuousClock.now
        let outcome = try Harness.run(
            [
                "/usr/bin/unshare", "-m", "--propagation", "private", Harness.product("sustain-fakesys"), "--scenario",
                "two-socket", "--", Harness.product("sustain-measure"), "--no-daemon", "--report", reportPath, "--",
                "/bin/sh",
                script.path,
            ], environment: ["XDG_RUNTIME_DIR": runtime.path, "PATH": "/usr/bin:/bin"], timeout: .seconds(60))
        let wall = (ContinuousClock.now - started) / .seconds(1)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try Report.decode(Data(contentsOf: URL(fileURLWithPath: reportPath)))
        #expect(wall < report.durationSeconds + 3, "the wrapper took \(wall) s for a \(report.durationSeconds) s job")
        let leftAfter = try FileManager.default.contentsOfDirectory(atPath: runtime.path)
        #expect(leftAfter.isEmpty, "the killed wrapper's directory was removed: \(leftAfter)")
        // Crossing phases: b ends with a; its own `end b` is expected, not unmatched.
        let a = try #require(report.phases.first { $0.name == "a" })
        let b = try #require(report.phases.first { $0.name == "b" })
        #expect(b.parent == "a" && abs(b.endedAt.timeIntervalSince(a.endedAt)) < 0.001)
        #expect(abs((a.joules ?? 0) - 176 * a.seconds) / (176 * a.seconds) < 0.005, "\(a)")
        #expect(report.warnings.contains { $0.contains("closed with it: b") }, "\(report.warnings)")
        #expect(!report.warnings.contains { $0.contains("\"end b\"") }, "\(report.warnings)")
        let total = try #require(report.energy.joules)
        let topLevel = report.phases.filter { $0.parent == nil }.compactMap(\.joules).reduce(0, +)
        let outside = try #require(report.unphasedJoules)
        #expect(abs(topLevel + outside - total) / total < 0.001, "\(topLevel) + \(outside) J vs \(total) J")
        #expect(report.warnings.contains { $0.contains("not understood") }, "\(report.warnings)")
    }

    @Test func outsideAJobMarkSaysSoAtOnce() throws {
        let started = ContinuousClock.now
        let outcome = try Harness.run(
            [Harness.product("sustain-measure"), "mark", "begin", "x"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("no job to mark"), "\(outcome.stderr)")
        #expect(started.duration(to: .now) < .seconds(5))
    }

    /// The helper's own tests (standard library only), run with the system's python3.
    @Test func thePythonHelpersTestsPass() throws {
        let clients = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("clients/python").path
        let outcome = try Harness.run([
            "/usr/bin/env", "python3", "-m", "unittest", "discover", "-s", clients + "/tests",
        ])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("OK"), "\(outcome.stderr)")
    }
}
