import Foundation
import Reports
import SustainTestSupport
import Testing

/// `--cpu-power-limit` as root in the fake 2-socket tree, whose simulator honours the long-term RAPL limit
/// (a package runs at min(demand, limit)): package 0 draws 85 W and package 1 70 W, each limit is 300 W as shipped.
/// A cap of 80 W holds package 0 at 80 W (counted 80 + 70 + 12 + 9 = 171 W), and every limit is back at 300 W
/// after the job, after a SIGTERM to the wrapper, and when the request is refused.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct PowerCapTests {
    static func inFakeTree(_ script: String, scenario: String = "two-socket") throws -> (
        status: Int32, text: String, stderr: String
    ) {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // What the kernel would show of a limit file: its leading digits (libpowercap writes its whole buffer, NUL
        // and all, and the tmpfs keeps the bytes; the simulator rewrites them within 5 ms).
        let limit = directory.appendingPathComponent("limit")
        try "#!/bin/sh\nhead -c 32 \"$1\" | tr -c '0-9' ' ' | awk '{print $1}'\n".write(
            to: limit, atomically: true, encoding: .utf8)
        chmod(limit.path, 0o755)
        let outcome = try Harness.run([
            "/usr/bin/unshare", "-m", "--propagation", "private", Harness.product("sustain-fakesys"), "--scenario",
            scenario, "--", "/bin/sh", "-c",
            """
            C0=/sys/class/powercap/intel-rapl:0/constraint_0_power_limit_uw
            C1=/sys/class/powercap/intel-rapl:1/constraint_0_power_limit_uw
            L=\(limit.path)
            M=\(Harness.product("sustain-measure"))
            \(script)
            """,
        ])
        return (outcome.status, String(decoding: outcome.stdout, as: UTF8.self), outcome.stderr)
    }

    @Test func aCapHoldsDuringTheJobAndIsPutBackAfter() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = directory.appendingPathComponent("r.json").path
        let (status, text, stderr) = try Self.inFakeTree(
            """
            echo "before $($L $C0) $($L $C1)"
            $M --no-daemon -q --cpu-power-limit 80 --report \(report) -- /bin/sh -c "echo during \\$($L $C0) \\$($L $C1); sleep 1"
            echo "after $($L $C0) $($L $C1)"
            """)
        #expect(status == 0, "\(stderr)")
        #expect(text.contains("before 300000000 300000000"), "\(text)")
        #expect(text.contains("during 80000000 80000000"), "\(text)")
        #expect(text.contains("after 300000000 300000000"), "\(text)")
        let result = try Report.decode(Data(contentsOf: URL(fileURLWithPath: report)))
        let joules = try #require(result.energy.joules)
        let expected = 171 * result.durationSeconds
        #expect(abs(joules - expected) / expected < 0.005, "\(joules) J vs \(expected) J")
        let control = try #require(result.powerControl)
        #expect(control.map(\.device).sorted() == ["intel-rapl:0", "intel-rapl:1"])
        #expect(control.allSatisfy { $0.originalWatts == 300 && $0.appliedWatts == 80 && $0.constraint == "long_term" })
        #expect(control.allSatisfy { $0.restoredAt.map { $0 >= result.endedAt.addingTimeInterval(-0.01) } == true })
    }

    @Test func aSignalledWrapperPutsTheLimitBack() throws {
        let (status, text, stderr) = try Self.inFakeTree(
            """
            $M --no-daemon -q --cpu-power-limit 80 -- /bin/sleep 5 & W=$!
            sleep 1; echo "during $($L $C0)"
            kill -TERM $W; wait $W; echo "rc $?"
            echo "after $($L $C0) $($L $C1)"
            """)
        #expect(status == 0, "\(stderr)")
        #expect(text.contains("during 80000000"), "\(text)")
        #expect(text.contains("rc 143"), "\(text)")
        #expect(text.contains("after 300000000 300000000"), "\(text)")
    }

    @Test func aLimitOutsideTheBoundsIsRefusedAndNothingChanges() throws {
        let (status, text, stderr) = try Self.inFakeTree(
            """
            $M --no-daemon -q --cpu-power-limit 20 -- /bin/true; echo "rc $?"
            $M --no-daemon -q --cpu-power-limit abc -- /bin/true; echo "rc $?"
            echo "after $($L $C0) $($L $C1)"
            """)
        #expect(status == 0, "\(stderr)")
        #expect(text.contains("rc 64\nrc 64\nafter 300000000 300000000"), "\(text)")
        #expect(stderr.contains("20.0 W is outside intel-rapl:0's allowed limits, 75.0–300.0 W"), "\(stderr)")
        #expect(stderr.contains("--cpu-power-limit must be a positive number of watts, got abc"), "\(stderr)")
    }

    /// A machine without RAPL (the empty scenario: no powercap zone at all): refused before the command runs, with what is missing; tuning there likewise.
    @Test func aMachineWithoutRAPLLimitsIsRefusedAndSaysWhy() throws {
        let (status, text, stderr) = try Self.inFakeTree(
            """
            $M --no-daemon -q --cpu-power-limit 80 -- /bin/echo ran; echo "rc $?"
            $M --no-daemon -q --tune-power cpu --step-mark step -- /bin/echo ran; echo "rc $?"
            """, scenario: "empty")
        #expect(status == 0, "\(stderr)")
        #expect(text == "rc 64\nrc 64\n", "\(text)")
        #expect(
            stderr.contains("no CPU package with a long_term RAPL constraint under /sys/class/powercap"), "\(stderr)")
        #expect(stderr.contains("--tune-power cpu: no CPU package with a long_term RAPL constraint"), "\(stderr)")
    }
}
