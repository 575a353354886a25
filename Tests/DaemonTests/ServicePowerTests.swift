import Foundation
import Reports
import SustainTestSupport
import Testing

/// Power limits through sustain-measured, in the fake 2-socket tree whose simulator honours the long-term RAPL
/// limit (package 0 draws 85 W, package 1 70 W; each limit is 300 W as shipped; counted 176 W uncapped, 171 W
/// under an 80 W cap). An unprivileged member of the `[control]` group (`staff`, its primary group) sets a cap
/// through the service; the limit files are read before, during and after, and after every way a job can end:
/// its stop, a SIGKILL of the wrapper and its command together (back within 1 s), a SIGKILL of the service
/// followed by a restart (the journal replayed). A non-member and a limit under the configured minimum are refused
/// before anything runs, and nothing changes.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct ServicePowerTests {
    static let config = """
        [control]
        groups = ["staff"]
        cpu_power_limit_min_watts = 60

        """

    /// Runs `script` with a daemon in the fake tree; `$L FILE` prints a limit file's value, `$C0`/`$C1` are the
    /// packages' long-term limit files, `$MEMBER` runs a command as an unprivileged member of `staff`.
    static func run(_ script: String, in directory: URL) throws -> (status: Int32, text: String, stderr: String) {
        let reader = directory.appendingPathComponent("limit")
        // What the kernel would show of a limit file: its leading digits (libpowercap writes its whole buffer).
        try "#!/bin/sh\nhead -c 32 \"$1\" | tr -c '0-9' ' ' | awk '{print $1}'\n".write(
            to: reader, atomically: true, encoding: .utf8)
        chmod(reader.path, 0o755)
        let outcome = try SocketTests.withDaemon(
            scenario: "two-socket", in: directory, config: Self.config,
            """
            C0=/sys/class/powercap/intel-rapl:0/constraint_0_power_limit_uw
            C1=/sys/class/powercap/intel-rapl:1/constraint_0_power_limit_uw
            L=$D/limit
            MEMBER="setpriv --reuid=20001 --regid=50 --clear-groups"
            OTHER="setpriv --reuid=20002 --regid=20002 --clear-groups"
            # Prints how long (in tenths of a second, at most 5 s) until both packages are back at 300 W.
            until_restored() {
                for i in $(seq 1 50); do
                    [ "$($L $C0) $($L $C1)" = "300000000 300000000" ] && { echo "$1 restored in $i"; return; }
                    sleep 0.1
                done
                echo "$1 NOT restored: $($L $C0) $($L $C1)"
            }
            \(script)
            """)
        return (outcome.status, String(decoding: outcome.stdout, as: UTF8.self), outcome.stderr)
    }

    @Test func aMemberCapsAJobThroughTheServiceAndTheLimitComesBack() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (status, text, stderr) = try Self.run(
            """
            echo "before $($L $C0) $($L $C1)"
            $MEMBER $D/sustain-measure -q --socket $SOCK --cpu-power-limit 80 --report $D/r.json -- \
                /bin/sh -c "echo during \\$($L $C0) \\$($L $C1); sleep 1"
            echo "rc $?"
            echo "after $($L $C0) $($L $C1)"
            """, in: directory)
        #expect(status == 0, "\(stderr)")
        #expect(text.contains("before 300000000 300000000"), "\(text)")
        #expect(text.contains("during 80000000 80000000"), "\(text)")
        #expect(text.contains("rc 0\nafter 300000000 300000000"), "\(text)")
        let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent("r.json")))
        #expect(report.measuredBy == "sustain-measured")
        let joules = try #require(report.energy.joules)
        let expected = 171 * report.durationSeconds
        #expect(abs(joules - expected) / expected < 0.005, "\(joules) J vs \(expected) J")
        let control = try #require(report.powerControl)
        #expect(control.map(\.device).sorted() == ["intel-rapl:0", "intel-rapl:1"])
        #expect(
            control.allSatisfy {
                $0.originalWatts == 300 && $0.requestedWatts == 80 && $0.appliedWatts == 80 && $0.leftAtWatts == 300
                    && $0.restoredAt != nil && $0.requestedBy.contains("uid 20001")
            }, "\(control)")
        let log = try String(contentsOf: directory.appendingPathComponent("daemon.log"), encoding: .utf8)
        #expect(log.contains("power limits set") && log.contains("power limits released"), "\(log)")
    }

    @Test func aKilledClientAndCommandGiveTheLimitBackWithinASecond() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (status, text, stderr) = try Self.run(
            """
            $MEMBER $D/sustain-measure -q --socket $SOCK --cpu-power-limit 80 -- /bin/sleep 30 & W=$!
            sleep 1
            echo "held $($L $C0) $($L $C1)"
            pkill -KILL -P $W; kill -KILL $W; wait $W 2>/dev/null
            until_restored killed
            """, in: directory)
        #expect(status == 0, "\(stderr)")
        #expect(text.contains("held 80000000 80000000"), "\(text)")
        let tenths = try #require(Self.tenths(in: text, after: "killed restored in "), "\(text)")
        print("power limit back \(tenths * 100) ms after a SIGKILL of wrapper and command")
        #expect(tenths <= 10, "restored after \(tenths) tenths of a second")
        let log = try String(contentsOf: directory.appendingPathComponent("daemon.log"), encoding: .utf8)
        #expect(log.contains("power limits released"), "\(log)")
    }

    @Test func aKilledServicePutsTheLimitBackWhenItStartsAgain() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (status, text, stderr) = try Self.run(
            """
            $MEMBER $D/sustain-measure -q --socket $SOCK --cpu-power-limit 80 --report $D/r.json -- /bin/sleep 4 \
                & W=$!
            sleep 1
            kill -KILL $DAEMON; wait $DAEMON 2>/dev/null
            echo "service killed $($L $C0) $($L $C1)"
            start_daemon
            until_restored restarted
            wait $W; echo "rc $?"
            """, in: directory)
        #expect(status == 0, "\(stderr)")
        #expect(text.contains("service killed 80000000 80000000"), "\(text)")
        #expect(text.contains("restarted restored in"), "\(text)")
        #expect(text.contains("rc 0"), "\(text)")
        let log = try String(contentsOf: directory.appendingPathComponent("daemon.log"), encoding: .utf8)
        #expect(log.contains("power journal: intel-rapl:0 put back to 300.0 W"), "\(log)")
        // The job ran on through the restart; its report says its limits did not last.
        let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent("r.json")))
        #expect(report.warnings.contains { $0.contains("asked for power limits (cpu 80.0 W)") }, "\(report.warnings)")
    }

    @Test func aGracefulStopPutsTheLimitBack() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (status, text, stderr) = try Self.run(
            """
            $MEMBER $D/sustain-measure -q --socket $SOCK --cpu-power-limit 80 -- /bin/sleep 3 & W=$!
            sleep 1
            kill -TERM $DAEMON; wait $DAEMON
            echo "service stopped $($L $C0) $($L $C1)"
            start_daemon
            wait $W
            """, in: directory)
        #expect(status == 0, "\(stderr)")
        #expect(text.contains("service stopped 300000000 300000000"), "\(text)")
    }

    @Test func aNonMemberAndALimitUnderTheMinimumAreRefusedAndNothingChanges() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (status, text, stderr) = try Self.run(
            """
            $OTHER $D/sustain-measure -q --socket $SOCK --cpu-power-limit 80 -- /bin/echo ran; echo "rc $?"
            $OTHER $D/sustain-measure -q --socket $SOCK --tune-power cpu --step-mark s -- /bin/echo ran; echo "rc $?"
            $MEMBER $D/sustain-measure -q --socket $SOCK --cpu-power-limit 50 -- /bin/echo ran; echo "rc $?"
            $MEMBER $D/sustain-measure -q --no-daemon --cpu-power-limit 80 -- /bin/echo ran; echo "rc $?"
            $MEMBER $D/sustain-measure -q --socket $D/nothing.sock --cpu-power-limit 80 -- /bin/echo ran; echo "rc $?"
            echo "after $($L $C0) $($L $C1)"
            """, in: directory)
        #expect(status == 0, "\(stderr)")
        #expect(!text.contains("ran"), "no command ran: \(text)")
        #expect(text.contains("rc 64\nrc 64\nrc 64\nrc 64\nrc 64\nafter 300000000 300000000"), "\(text)")
        #expect(
            stderr.contains("power_limits: uid 20002 may not set power limits")
                || stderr.contains("may not set power limits: only root and members of the service's [control] groups"))
        #expect(stderr.contains("power_tuning:"), "a non-member's tuning is refused too: \(stderr)")
        #expect(stderr.contains("50.0 W is outside intel-rapl:0's allowed limits, 60.0–300.0 W"), "\(stderr)")
        #expect(stderr.contains("--cpu-power-limit needs root, or sustain-measured (not --no-daemon)"), "\(stderr)")
        #expect(stderr.contains("which does not answer at \(directory.path)/nothing.sock"), "\(stderr)")
    }

    static func tenths(in text: String, after prefix: String) -> Int? {
        guard let range = text.range(of: prefix) else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }
}

/// GPU limits through the service: the fake NVML (two GPUs demanding 250 W, limits 100–300 W) loaded by the
/// service, its limits in a state directory every process reads. A member's 150 W holds during the job and is back
/// at 300 W after it, and within a second of a SIGKILL of the wrapper and its command.
@Suite(
    .serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)),
    .enabled(if: FakeNVML.library != nil, Comment(rawValue: FakeNVML.skipped)))
struct ServiceGPUPowerTests {
    @Test func aMembersGPUCapHoldsAndComesBackEvenAfterSIGKILL() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("nvml")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        let outcome = try SocketTests.withDaemon(
            scenario: "two-socket", in: directory, config: ServicePowerTests.config,
            environment: [
                "SUSTAIN_NVML_LIBRARY": FakeNVML.library ?? "", "FAKE_NVML_GPUS": "250:counter,250:counter",
                "FAKE_NVML_STATE": state.path,
            ],
            """
            MEMBER="setpriv --reuid=20001 --regid=50 --clear-groups"
            G="$D/nvml/limit-0 $D/nvml/limit-1"
            # (The limit files are the service's, 0600: read here, as root, while the job runs.)
            $MEMBER $D/sustain-measure -q --socket $SOCK --gpu-power-limit 150 --report $D/r.json -- /bin/sleep 1.5 &
            sleep 0.8
            echo "during $(cut -d' ' -f1 $G | tr '\\n' ' ')"
            wait $!
            echo "after $(cut -d' ' -f1 $G | tr '\\n' ' ')"
            $MEMBER $D/sustain-measure -q --socket $SOCK --gpu-power-limit 120 -- /bin/sleep 30 & W=$!
            sleep 1
            echo "held $(cut -d' ' -f1 $G | tr '\\n' ' ')"
            pkill -KILL -P $W; kill -KILL $W; wait $W 2>/dev/null
            for i in $(seq 1 50); do
                [ "$(cut -d' ' -f1 $G | tr '\\n' ' ')" = "300000 300000 " ] && { echo "killed restored in $i"; break; }
                sleep 0.1
            done
            """)
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("during 150000 150000"), "\(text)")
        #expect(text.contains("after 300000 300000"), "\(text)")
        #expect(text.contains("held 120000 120000"), "\(text)")
        let tenths = try #require(ServicePowerTests.tenths(in: text, after: "killed restored in "), "\(text)")
        #expect(tenths <= 10, "restored after \(tenths) tenths of a second")
        let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent("r.json")))
        let control = try #require(report.powerControl)
        #expect(control.map(\.device) == ["nvidia:0", "nvidia:1"], "\(control)")
        #expect(control.allSatisfy { $0.originalWatts == 300 && $0.appliedWatts == 150 && $0.restoredAt != nil })
    }
}

extension ServiceGPUPowerTests {
    /// `--tune-power gpu` through the service for a member: the service's tuner follows the job's relayed step
    /// marks (the workload of PowerTuningTests: t(P) = 20 ms × (200 / min(P, 200))^1.5), chooses 200 W for
    /// energy as the brute-force search does, and every limit is back at 300 W after; the job's next run
    /// (`--label job=train`) reuses the sweep the service kept.
    @Test func aMemberTunesAJobThroughTheService() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("nvml")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        chmod(state.path, 0o755)
        let workload = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/limit-workload.py").path
        let outcome = try SocketTests.withDaemon(
            scenario: "two-socket", in: directory, config: ServicePowerTests.config,
            environment: [
                "SUSTAIN_NVML_LIBRARY": FakeNVML.library ?? "", "FAKE_NVML_GPUS": "250:counter,250:counter",
                "FAKE_NVML_STATE": state.path,
            ],
            """
            cp \(workload) $D/workload.py; chmod 755 $D/workload.py
            setpriv --reuid=20001 --regid=50 --clear-groups $D/sustain-measure -q --socket $SOCK --tune-power gpu \
                --step-mark step --objective energy --label job=train --report $D/r.json -- /usr/bin/python3 \
                $D/workload.py $D/nvml/limit-0 150
            echo "rc $?"
            setpriv --reuid=20001 --regid=50 --clear-groups $D/sustain-measure -q --socket $SOCK --tune-power gpu \
                --step-mark step --objective energy --label job=train --report $D/again.json -- /usr/bin/python3 \
                $D/workload.py $D/nvml/limit-0 20
            echo "after $(cut -d' ' -f1 $D/nvml/limit-0 $D/nvml/limit-1 | tr '\\n' ' ')"
            """)
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(text.contains("rc 0\nafter 300000 300000"), "\(text)")
        let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent("r.json")))
        let tuning = try #require(report.powerTuning, "\(report.warnings)")
        #expect(tuning.state == "chosen", "\(tuning.reason ?? "")")
        #expect(tuning.choiceWatts == 200)
        #expect(tuning.stepsSeen == 150)
        let saving = try #require(tuning.predictedEnergySaving)
        let profiles = tuning.candidates.map { "\(Int($0.watts)) W \(String(format: "%.3f", $0.joulesPerStep)) J" }
        print("service tuning: predicted saving \(saving), J/step \(profiles.joined(separator: ", "))")
        #expect(abs(saving - 0.2) < 0.02, "predicted saving \(saving) vs the curve's 0.2")
        #expect(report.powerControl?.allSatisfy { $0.requestedBy.contains("uid 20001") } == true)
        // The sweep was kept in the service's state directory; the job's next run skips it.
        #expect(tuning.profilePath?.hasPrefix(directory.path + "/power-profiles/gpu--") == true, "\(tuning)")
        let again = try Report.decode(Data(contentsOf: directory.appendingPathComponent("again.json")))
        #expect(again.powerTuning?.state == "reused" && again.powerTuning?.choiceWatts == 200)
        #expect(again.powerControl?.count == 2 && again.powerControl?.allSatisfy { $0.appliedWatts == 200 } == true)
    }
}
