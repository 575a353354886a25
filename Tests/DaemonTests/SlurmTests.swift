import Foundation
import Reports
import SustainTestSupport
import Testing

/// slurmctld, slurmd and munged from Debian's packages (`.ci/run` installs them).
let slurmInstalled = ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/bin/sbatch"].allSatisfy {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// SLURM jobs measured with no change to the user's script: a real one-node SLURM (slurmctld + slurmd + munge, the
/// shipped prolog and epilog) beside `sustain-measured` in the fake 2-socket tree (176 W counted). An unprivileged
/// user's `sbatch` job is registered for that user, measured within 0.5 % of the injected energy, found by
/// `report show --slurm-job`, and its output ends with the epilog's summary line.
@Suite(
    .serialized,
    .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)),
    .enabled(
        if: slurmInstalled,
        "SKIPPED: slurm-wlm and munge are not installed (apt-get install slurm-wlm munge): SLURM is untested"))
struct SlurmTests {
    @Test func anSbatchJobIsMeasuredForItsUserAndSaysSoInItsOutput() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let port = 17_000 + Int(getpid() % 1000) * 2
        let d = directory.path
        try """
        ClusterName=sustaintest
        SlurmctldHost=\(host)(127.0.0.1)
        SlurmUser=root
        AuthType=auth/munge
        AuthInfo=socket=\(d)/munge/munge.sock
        ProctrackType=proctrack/linuxproc
        TaskPlugin=task/none
        SelectType=select/cons_tres
        SelectTypeParameters=CR_Core
        JobAcctGatherType=jobacct_gather/none
        StateSaveLocation=\(d)/slurm-state
        SlurmdSpoolDir=\(d)/slurm-spool
        SlurmctldPidFile=\(d)/slurmctld.pid
        SlurmdPidFile=\(d)/slurmd.pid
        SlurmctldLogFile=\(d)/slurmctld.log
        SlurmdLogFile=\(d)/slurmd.log
        SlurmctldPort=\(port)
        SlurmdPort=\(port + 1)
        Prolog=\(d)/prolog
        Epilog=\(d)/epilog
        NodeName=\(host) NodeAddr=127.0.0.1 CPUs=\(ProcessInfo.processInfo.activeProcessorCount) State=UNKNOWN
        PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP

        """.write(to: directory.appendingPathComponent("slurm.conf"), atomically: true, encoding: .utf8)
        // The shipped scripts, pointed at this test's binary, socket and state directory.
        for script in ["prolog", "epilog"] {
            let text = try String(contentsOf: repository.appendingPathComponent("slurm/\(script)"), encoding: .utf8)
            try "#!/bin/sh\nexport SUSTAIN_MEASURE=\(Harness.product("sustain-measure")) SUSTAIN_SOCKET=\(d)/s.sock "
                .appending("SUSTAIN_SLURM_STATE=\(d)/slurm-jobs\n")
                .appending(
                    text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().joined(separator: "\n")
                )
                .write(to: directory.appendingPathComponent(script), atomically: true, encoding: .utf8)
            chmod(directory.appendingPathComponent(script).path, 0o755)
        }
        let outcome = try SocketTests.withDaemon(
            scenario: "unreadable", in: directory,
            """
            export SLURM_CONF=$D/slurm.conf
            mkdir -p $D/slurm-state $D/slurm-spool $D/munge && chown munge:munge $D/munge && chmod 0755 $D/munge
            # Daemons of this test only (own munge socket), their output away from the test's pipes.
            su -s /bin/sh munge -c "munged --socket=$D/munge/munge.sock --pid-file=$D/munge/munged.pid \\
                --log-file=$D/munge/munged.log" < /dev/null > $D/munged.out 2>&1 || cat $D/munged.out
            slurmctld < /dev/null > $D/slurmctld.out 2>&1 && slurmd < /dev/null > $D/slurmd.out 2>&1
            for i in $(seq 1 100); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 0.1; done
            sinfo -h -o %t | grep -q idle || { echo "SLURM node not idle:"; sinfo; tail -5 $D/slurmctld.log \\
                $D/slurmd.log; }
            setpriv --reuid=65534 --regid=65534 --clear-groups timeout 60 sbatch --wait -n 2 -o $D/job.out \\
                --wrap 'echo hello from the job; srun -n 2 sh -c "$D/sustain-measure --socket $SOCK -q \\
                    --report $D/rank-\\$SLURM_PROCID.json -- sleep 1"; sleep 2' > $D/sbatch.txt 2>&1
            echo "sbatch=$?"
            JOB=$(sed -n 's/Submitted batch job //p' $D/sbatch.txt)
            for i in $(seq 1 50); do [ -s $D/job.out ] && grep -q '^sustain:' $D/job.out && break; sleep 0.1; done
            setpriv --reuid=65534 --regid=65534 --clear-groups $D/sustain-measure report show --socket $SOCK \\
                --slurm-job $JOB > $D/slurm.json
            echo "show=$? job=$JOB"
            curl -s --unix-socket $SOCK http://x/metrics | grep "^sustain_job_energy_joules_total{" \\
                | grep "slurm_job_id=\\"$JOB\\"" | sed 's/.*job="\\([^"]*\\)".*/\\1/' | sort -u > $D/metric-jobs.txt
            PIDS="$(cat $D/slurmd.pid) $(cat $D/slurmctld.pid) $(cat $D/munge/munged.pid)"
            kill $PIDS
            for p in $PIDS; do for i in $(seq 1 50); do kill -0 $p 2>/dev/null || break; sleep 0.1; done; done
            true
            """)
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        #expect(
            outcome.status == 0 && text.contains("sbatch=0") && text.contains("show=0"), "\(text)\n\(outcome.stderr)")
        let report = try Report.decode(Data(contentsOf: directory.appendingPathComponent("slurm.json")))
        let job = text.split(separator: " ").first { $0.hasPrefix("job=") }.map { String($0.dropFirst(4)) } ?? ""
        #expect(report.labels["slurm_job_id"] == job.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(report.owner?.uid == 65534, "registered for the job's user, not root")
        #expect(report.labels["slurm_cluster"] == "sustaintest")
        let joules = try #require(report.energy.joules)
        let injected = 176 * report.durationSeconds
        #expect(abs(joules - injected) / injected < 0.005, "\(joules) J vs \(injected) J")
        #expect(report.durationSeconds > 3, "the job's whole run, prolog to epilog")
        // Two ranks wrapped with srun inside the job the prolog registered: each keeps its report, and neither
        // adds the node's energy again (counted_in the prolog's registration, no counter of their own).
        for rank in 0..<2 {
            let path = directory.appendingPathComponent("rank-\(rank).json")
            let rankReport = try Report.decode(Data(contentsOf: path))
            #expect(rankReport.countedIn == report.id, "rank \(rank): \(rankReport.warnings)")
            #expect(rankReport.labels["slurm_job_id"] == report.labels["slurm_job_id"])
            #expect(rankReport.energy.joules != nil && rankReport.durationSeconds < report.durationSeconds)
        }
        #expect(report.countedIn == nil)
        let counted = try String(contentsOf: directory.appendingPathComponent("metric-jobs.txt"), encoding: .utf8)
        #expect(counted == report.id + "\n", "one per-job counter for the SLURM job on this node: \(counted)")
        let output = try String(contentsOf: directory.appendingPathComponent("job.out"), encoding: .utf8)
        #expect(output.hasPrefix("hello from the job\n"))
        #expect(
            output.contains("sustain: SLURM job \(job.trimmingCharacters(in: .whitespacesAndNewlines))"), "\(output)")
        #expect(output.contains(Quantity.energy(joules)), "the summary's energy is the report's: \(output)")
    }
}
