import ArgumentParser
import FoundationEssentials
import LinuxSupport
import Reports
import SustainCore

/// `sustain-measure --repeat N [--warmup-runs K] [--cooldown S] [--baseline S] [--ignore-failure]
/// [--param NAME=V1,V2 …] -- CMD`: runs the plan's runs one after another, each as this program measuring one
/// run (the same options, `{NAME}` substituted and `NAME` set in its environment, through the service when there
/// is one), so that every run is a full report of its own; then assembles the experiment once.
struct ExperimentDriver {
    let plan: ExperimentPlan
    let repeats: Int
    let warmups: Int
    let cooldown: Double
    let baseline: Double?
    let ignoreFailure: Bool
    let quiet: Bool
    /// The options given, less the experiment's own and the outputs (each run gets its own `--report`).
    let options: [String]
    /// The command, with `{NAME}` where a parameter goes.
    let command: [[UInt8]]
    let reportPath: String
    let id: String

    /// The options of a run: what was given, less `--repeat`, `--warmup-runs`, `--cooldown`, `--baseline`,
    /// `--ignore-failure`, `--param`, `--report`, `--html` (each with its value, as `--x v` or `--x=v`).
    static func runOptions(_ parserArguments: [String]) -> [String] {
        let withValue: Set<String> = [
            "--repeat", "--warmup-runs", "--cooldown", "--baseline", "--param", "--report", "--html",
        ]
        var result: [String] = []
        var skipNext = false
        for argument in parserArguments.prefix(while: { $0 != "--" }) {
            if skipNext {
                skipNext = false
                continue
            }
            let name = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            if argument == "--ignore-failure" { continue }
            if withValue.contains(name) {
                skipNext = !argument.contains("=")
                continue
            }
            result.append(argument)
        }
        return result
    }

    /// Runs the experiment, writes it, and ends the process: 0, 1 when a measured run failed (unless
    /// `--ignore-failure`), 130 when interrupted.
    func run() throws -> Never {
        let directory = String(reportPath.dropLast(reportPath.hasSuffix(".json") ? 5 : 0)) + ".runs"
        let directoryName = String(directory.split(separator: "/").last ?? "")
        guard let executable = CurrentProcess.executablePath else {
            throw ValidationError("Cannot find this program's own path (/proc/self/exe) to run the experiment's runs.")
        }
        let startedAt = Date()
        let measured = plan.runs.filter { !$0.warmup }.count
        say(
            "experiment \(id): \(plan.configurations.count) configuration(s) × \(repeats) run(s)"
                + (plan.runs.count > measured ? " + \(plan.runs.count - measured) warm-up run(s)" : "")
                + "; reports in \(directory)/")
        var before: Experiment.Baseline?
        if let baseline {
            say("measuring the idle machine for \(Quantity.fixed(baseline, 1)) s (baseline)…")
            before = try measureBaseline(seconds: baseline, name: "before", executable: executable, into: directory)
        }
        var records: [Experiment.RunRecord] = []
        var interrupted = false
        for (index, planned) in plan.runs.enumerated() {
            if index > 0, cooldown > 0 { CurrentProcess.sleep(seconds: cooldown) }
            let configuration = plan.configurations[planned.configuration]
            let name =
                "c\(planned.configuration + 1)-"
                + (planned.warmup ? "w\(planned.round)" : "r\(planned.round - warmups)")
            let relative = "\(directoryName)/\(name).json"
            let path = "\(directory)/\(name).json"
            for (key, value) in configuration { CurrentProcess.setVariable(key, value) }
            let arguments =
                [executable]
                + options.map { ExperimentPlan.substitute($0, configuration) }
                + [
                    "--report", path, "--quiet", "--label", "experiment=\(id)",
                    "--label", "experiment_configuration=\(planned.configuration + 1)",
                    "--label", "experiment_run=\(name)", "--",
                ]
            let exit = runChild(
                executable: executable, arguments: arguments.map { Array($0.utf8) } + substituted(configuration))
            let label =
                configuration.isEmpty
                ? ""
                : " [" + configuration.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                    + "]"
            guard let report = try? Report.decode(Data(contentsOf: URL(fileURLWithPath: path))) else {
                say(
                    "run \(index + 1)/\(plan.runs.count)\(label): no report (\(describe(exit))); see the messages above"
                )
                if case .signaled(let signal) = exit, [2, 15].contains(signal) {
                    interrupted = true
                    break
                }
                continue
            }
            records.append(
                Experiment.RunRecord(
                    configuration: planned.configuration, round: planned.round, warmup: planned.warmup,
                    report: report, path: relative))
            say(
                "run \(index + 1)/\(plan.runs.count)\(label)\(planned.warmup ? " (warm-up)" : ""): "
                    + "\(report.energy.joules.map(Quantity.energy) ?? "energy not measured"), "
                    + "\(Quantity.duration(report.durationSeconds)), \(describe(exit))")
            // Written after every run: an experiment cut short (a crash, a kill) keeps what it measured.
            var partial = assemble(records, before: before, after: nil, startedAt: startedAt)
            if index + 1 < plan.runs.count {
                partial.warnings.insert("IN PROGRESS: \(records.count) of \(plan.runs.count) runs so far.", at: 0)
                try? partial.write(to: reportPath)
            }
            if report.interrupted {
                interrupted = true
                break
            }
        }
        var after: Experiment.Baseline?
        if let baseline, !interrupted {
            say("measuring the idle machine again for \(Quantity.fixed(baseline, 1)) s (baseline drift)…")
            after = try? measureBaseline(seconds: baseline, name: "after", executable: executable, into: directory)
        }
        var experiment = assemble(records, before: before, after: after, startedAt: startedAt)
        if interrupted {
            experiment.warnings.insert(
                "INTERRUPTED after \(records.count) of \(plan.runs.count) runs: the statistics are of those.", at: 0)
        }
        do {
            try experiment.write(to: reportPath)
        } catch {
            Terminal.error("sustain-measure: \(error)")
            throw ExitCode(1)
        }
        if !quiet { Terminal.write(experiment.summary(path: reportPath)) }
        if interrupted { throw ExitCode(130) }
        throw ExitCode(experiment.failedRuns > 0 && !ignoreFailure ? 1 : 0)
    }

    func assemble(
        _ records: [Experiment.RunRecord], before: Experiment.Baseline?, after: Experiment.Baseline?, startedAt: Date
    ) -> Experiment {
        Experiment.assemble(
            id: id, command: command.map { String(decoding: $0, as: UTF8.self) }, plan: plan,
            commands: plan.configurations.map { configuration in
                substituted(configuration).map { String(decoding: $0, as: UTF8.self) }
            }, records: records, baseline: before.map { Experiment.Baselines(before: $0, after: after) },
            cooldownSeconds: cooldown, ignoreFailure: ignoreFailure, startedAt: startedAt, endedAt: Date())
    }

    /// Measures `sleep seconds` as a run (the same options, the first configuration's values), for the baseline.
    func measureBaseline(seconds: Double, name: String, executable: String, into directory: String) throws
        -> Experiment.Baseline
    {
        let path = "\(directory)/baseline-\(name).json"
        var given = options.map { ExperimentPlan.substitute($0, plan.configurations[0]) }
        if let index = given.firstIndex(where: { $0 == "--start-at-mark" }), index + 1 < given.count {
            given.removeSubrange(index...(index + 1))
        }
        given.removeAll { $0.hasPrefix("--start-at-mark=") }
        let arguments =
            [executable] + given
            + [
                "--report", path, "--quiet", "--label", "experiment=\(id)", "--label", "experiment_baseline=\(name)",
                "--", "/bin/sleep", Quantity.fixed(seconds, 3),
            ]
        _ = runChild(executable: executable, arguments: arguments.map { Array($0.utf8) })
        let report: Report
        do {
            report = try Report.decode(Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw ValidationError("The baseline could not be measured (\(error)); run without --baseline.")
        }
        do {
            return try Experiment.Baseline(
                report: report, path: "\(directory.split(separator: "/").last ?? "")/baseline-\(name).json")
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The command's words with `configuration`'s values in place of `{NAME}`; bytes that are not UTF-8 are kept
    /// as they are in words without a brace.
    func substituted(_ configuration: [String: String]) -> [[UInt8]] {
        command.map { word in
            guard !configuration.isEmpty, word.contains(UInt8(ascii: "{")) else { return word }
            return Array(ExperimentPlan.substitute(String(decoding: word, as: UTF8.self), configuration).utf8)
        }
    }

    /// Runs one child to its end; SIGINT and SIGTERM reach it (it is in this process group).
    func runChild(executable: String, arguments: [[UInt8]]) -> ExitStatus {
        do {
            let child = try ChildProcess(executable: Array(executable.utf8), arguments: arguments)
            return child.wait()
        } catch {
            Terminal.error("sustain-measure: \(error)")
            return .exited(127)
        }
    }

    func describe(_ exit: ExitStatus) -> String {
        switch exit {
        case .exited(let code): "exit \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }

    func say(_ text: String) {
        if !quiet { Terminal.write("sustain-measure: \(text)\n") }
    }
}
