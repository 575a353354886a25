import Foundation
import SustainTestSupport
import Testing

/// The shipped SLURM prolog and epilog never fail a job (hostile input, round 3): `exec … || exit 0` never reached
/// its `exit 0`, so a missing binary (127) or a refused job id (64) went to slurmd, which drains the node. Each
/// failure is run here: the script exits 0 and says why on stderr (slurmd's log).
struct SlurmScriptTests {
    static let slurm = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("slurm")

    @Test(arguments: ["prolog", "epilog"])
    func theScriptsExitZeroWhateverHappens(script: String) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = Self.slurm.appendingPathComponent(script).path
        let cases: [(environment: [String: String], says: String)] = [
            (["SUSTAIN_MEASURE": directory.path + "/missing"], "exited 127"),
            (["SLURM_JOB_ID": "1; rm -rf /", "SLURM_JOB_UID": "-1"], "exited"),
            ([:], "exited"),
        ]
        for (environment, says) in cases {
            let outcome = try Harness.run(
                ["/bin/sh", path],
                environment: [
                    "PATH": "/usr/bin:/bin", "SUSTAIN_MEASURE": Harness.product("sustain-measure"),
                    "SUSTAIN_SOCKET": directory.path + "/none.sock", "SUSTAIN_SLURM_STATE": directory.path + "/state",
                ].merging(environment) { $1 })
            #expect(outcome.status == 0, "\(script) \(environment): \(outcome.stderr)")
            #expect(
                outcome.stderr.contains("sustain slurm \(script)") && outcome.stderr.contains(says),
                "\(script) \(environment): \(outcome.stderr)")
        }
    }
}
