import ArgumentParser
import FoundationEssentials
import LinuxSupport
import Reports
import SustainAPI
import SustainCore

extension SustainMeasure {
    /// SLURM's prolog and epilog: every job on the node is measured by the node's `sustain-measured`, with no change
    /// to the user's script. slurm.conf: `Prolog=/usr/local/libexec/sustain/slurm-prolog` and
    /// `Epilog=/usr/local/libexec/sustain/slurm-epilog` (shipped in `slurm/`), which run these.
    struct Slurm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "SLURM prolog and epilog: register each job with sustain-measured, and close it.",
            subcommands: [Prolog.self, Epilog.self])
    }
}

/// What the prolog and the epilog share: the socket and where the node keeps each SLURM job's sustain job id.
struct SlurmOptions: ParsableArguments {
    @Option(help: ArgumentHelp("sustain-measured's socket.", valueName: "path"))
    var socket = "/run/sustain/sustain.sock"

    @Option(help: ArgumentHelp("Where the prolog leaves each job's id for the epilog (root only).", valueName: "dir"))
    var stateDirectory = "/run/sustain/slurm"

    /// A SLURM job id from the environment slurmd gives its prolog and epilog.
    func slurmJobID() throws -> String {
        guard let id = CurrentProcess.variable("SLURM_JOB_ID") ?? CurrentProcess.variable("SLURM_JOBID"),
            !id.isEmpty, id.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "_") })
        else {
            throw ValidationError("SLURM_JOB_ID is not set (or not a job id): run this as slurm.conf's Prolog/Epilog.")
        }
        return id
    }

    func statePath(_ job: String) -> String { "\(stateDirectory)/\(job)" }
}

extension SustainMeasure.Slurm {
    struct Prolog: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register the SLURM job in the environment with sustain-measured (slurm.conf Prolog).",
            discussion: "Never fails the job: a problem is said on stderr (slurmd's log) and the job runs unmeasured.")
        @OptionGroup var options: SlurmOptions

        func run() throws {
            let job = try options.slurmJobID()
            // The job's owner: a uid slurmd gives; never "none, so root" (SLURM_JOB_UID=-1 registered for root).
            guard let text = CurrentProcess.variable("SLURM_JOB_UID"), let uid = UInt32(text), uid != UInt32.max
            else {
                throw ValidationError(
                    "SLURM_JOB_UID is not a uid (\((CurrentProcess.variable("SLURM_JOB_UID") ?? "unset").escapingControlCharacters)): "
                        + "job \(job) is not measured.")
            }
            // Where the epilog will find the job's id, made before the job is registered: a registration whose id
            // cannot be kept would stay open until the service gives up on it.
            do {
                try SafeFile.makeDirectories(options.stateDirectory, mode: 0o700)
            } catch {
                throw ValidationError(
                    "cannot keep job ids in \(options.stateDirectory): \(error); job \(job) is not measured.")
            }
            var labels = ["slurm_job_id": job]
            for (label, variable) in [
                ("slurm_cluster", "SLURM_CLUSTER_NAME"), ("slurm_partition", "SLURM_JOB_PARTITION"),
                ("slurm_nodes", "SLURM_NODELIST"), ("slurm_node", "SLURMD_NODENAME"),
            ] {
                if let value = CurrentProcess.variable(variable), !value.isEmpty { labels[label] = value }
            }
            // SLURM's own cgroup for the job, when its cgroup plugin made one (cgroup v2).
            let cgroup = CgroupV2.mountPoint().flatMap { mount in
                [
                    "/system.slice/slurmstepd.scope/job_\(job)",
                    "/slurm/uid_\(uid)/job_\(job)",
                ]
                .first { SafeFile.kind(of: mount + $0) == .directory }
            }
            let start = JobStart(
                command: ["slurm-job", job], labels: labels, cgroup: cgroup,
                uid: uid)
            do {
                let client = ServiceClient(socketPath: options.socket)
                let running = try client.start(start)
                do {
                    try SafeFile.replace(options.statePath(job), with: Array(running.id.utf8), mode: 0o600)
                } catch {
                    // The epilog could not close it: close it now, rather than leave it open for days.
                    _ = try? client.stop(running.id, JobStop())
                    throw error
                }
            } catch {
                Terminal.error("sustain-measure slurm prolog: job \(job) is not measured: \(error)")
            }
        }
    }

    struct Epilog: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close the SLURM job in the environment (slurm.conf Epilog); print its energy and carbon.",
            discussion: """
                Never fails the job: a problem is said on stderr (slurmd's log). The summary line is appended to \
                the job's output file (StdOut from scontrol), as seff does, unless --no-summary; only to a regular \
                file the job's user owns, never through a symbolic link.
                """)
        @OptionGroup var options: SlurmOptions

        @Flag(name: .customLong("summary"), inversion: .prefixedNo, help: "Append the summary to the job's output.")
        var summary = true

        @Option(help: ArgumentHelp("scontrol, to find the job's output file.", valueName: "path"))
        var scontrol = "/usr/bin/scontrol"

        /// The job's StdOut path, from `scontrol show job -o ID`; nil when it cannot be told.
        func outputFile(of job: String) -> String? {
            guard let result = try? ChildProcess.output(of: scontrol, arguments: ["show", "job", "-o", job]),
                result.status == .exited(0)
            else { return nil }
            let text = String(decoding: result.output, as: UTF8.self)
            let field = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("StdOut=") }
            let path = field.map { String($0.dropFirst("StdOut=".count)) }
            return path.flatMap { $0.hasPrefix("/") ? $0 : nil }
        }

        func run() throws {
            let job = try options.slurmJobID()
            let path = options.statePath(job)
            guard let bytes = try? SafeFile.readRegular(path, limit: 256), !bytes.isEmpty else {
                Terminal.error("sustain-measure slurm epilog: job \(job) was not registered by the prolog.")
                return
            }
            try? FileManager.default.removeItem(atPath: path)
            let id = String(decoding: bytes, as: UTF8.self)
            let exit = CurrentProcess.variable("SLURM_JOB_EXIT_CODE2").flatMap {
                Int32($0.split(separator: ":").first ?? "")
            }
            do {
                let answer = try ServiceClient(socketPath: options.socket).stop(id, JobStop(exitCode: exit))
                let report = try Report.decode(Data(answer))
                let line =
                    "sustain: SLURM job \(job) on \(report.host.hostname): "
                    + "\(report.energy.joules.map(Quantity.energy) ?? "energy not measured"), "
                    + "\(report.carbon.kgCo2e.map { Quantity.carbon($0) + " CO2e" } ?? "carbon unknown") "
                    + "over \(Quantity.duration(report.durationSeconds)) (sustain job \(report.id); "
                    + "sustain-measure report show --slurm-job \(job))\n"
                print(line, terminator: "")
                if summary, let owner = CurrentProcess.variable("SLURM_JOB_UID").flatMap(UInt32.init),
                    let file = outputFile(of: job)
                {
                    do {
                        try SafeFile.append(Array(line.utf8), toFileOf: owner, at: file)
                    } catch {
                        Terminal.error("sustain-measure slurm epilog: job \(job): summary not appended: \(error)")
                    }
                }
            } catch {
                Terminal.error("sustain-measure slurm epilog: job \(job): \(error)")
            }
        }
    }
}
