import ArgumentParser
import FoundationEssentials
import Impact
import LinuxSupport
import Logging
import Meter
import PowerControl
import Reports
import SustainAPI
import SustainConfiguration
import SustainCore

extension SustainMeasure {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run a command and measure its energy (the default: sustain-measure [options] -- CMD)."
        )

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Sampling interval in seconds (default: 0.1, shorter when a counter could wrap sooner).",
                valueName: "seconds"))
        var interval: Double?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Write the JSON report here, mode 0600 (default: $XDG_STATE_HOME/sustain/reports/<id>.json; - for stdout).",
                valueName: "path"))
        var report: String?

        @Flag(name: .shortAndLong, help: "Print nothing of our own on stderr; the report is still written.")
        var quiet = false

        @Flag(name: .long, help: "Log discovery details on stderr.")
        var verbose = false

        @OptionGroup(title: "Carbon and cost")
        var carbon: CarbonOptions

        @Option(
            name: .customLong("cpu-tdp"),
            help: ArgumentHelp(
                "CPU package power in watts for the estimate used when nothing can be measured "
                    + "(default: the bundled table by CPU model, else 4 W per logical CPU).", valueName: "watts"))
        var cpuTDP: Double?

        @Flag(name: .customLong("no-estimate"), help: "When nothing can be measured, report no energy at all.")
        var noEstimate = false

        @Option(
            help: ArgumentHelp(
                "sustain-measured's socket (default: [daemon] socket, /run/sustain/sustain.sock).", valueName: "path"))
        var socket: String?

        @Option(
            name: .customLong("start-at-mark"),
            help: ArgumentHelp(
                "Count only from the first `mark begin NAME` (like perf stat --delay): set-up is not measured.",
                valueName: "name"))
        var startAtMark: String?

        @Flag(name: .customLong("no-daemon"), help: "Measure here even when sustain-measured is running.")
        var noDaemon = false

        @Option(
            name: .customLong("label"),
            help: ArgumentHelp(
                "A job label, key=value (repeatable): in the report and the service's log.", valueName: "key=value"))
        var labels: [String] = []

        @Option(
            name: .customLong("metric"),
            help: ArgumentHelp(
                "A quality metric of the run, name=value (repeatable): `report html` plots it against energy. The job "
                    + "can also send `metric name=value` as a mark.", valueName: "name=value"))
        var metrics: [String] = []

        @Option(
            name: .customLong("html"),
            help: ArgumentHelp("Also write the report as one self-contained HTML page here.", valueName: "file"))
        var html: String?

        @Option(
            name: .customLong("repeat"),
            help: ArgumentHelp(
                "Run the command N times and write an experiment (sustain.experiment.v1): each run a report of its own, "
                    + "statistics with 95 % intervals.", valueName: "n"))
        var repeatCount: Int?

        @Option(
            name: .customLong("warmup-runs"),
            help: ArgumentHelp(
                "With --repeat: runs first, reported as warm-ups, left out of the statistics.", valueName: "k"))
        var warmupRuns = 0

        @Option(help: ArgumentHelp("With --repeat: seconds to wait between runs.", valueName: "seconds"))
        var cooldown = 0.0

        @Option(
            name: .customLong("baseline"),
            help: ArgumentHelp(
                "With --repeat: measure the idle machine this long before the first run (and after the last): net energy.",
                valueName: "seconds"))
        var baselineSeconds: Double?

        @Flag(
            name: .customLong("ignore-failure"),
            help: "With --repeat: count runs that fail in the statistics and exit 0 all the same.")
        var ignoreFailure = false

        @Option(
            name: .customLong("param"),
            help: ArgumentHelp(
                "A parameter to scan (repeatable; the cartesian product): {NAME} in the command and options becomes "
                    + "each value, and NAME is set in the command's environment.", valueName: "NAME=V1,V2"))
        var parameters: [String] = []

        @Option(
            name: .customLong("cpu-power-limit"),
            help: ArgumentHelp(
                "Every CPU package's sustained RAPL limit (long_term) for the job, put back when it ends: as root, "
                    + "or through sustain-measured for members of its [control] groups.",
                valueName: "watts"))
        var cpuPowerLimitText: String?

        @Option(
            name: .customLong("gpu-power-limit"),
            help: ArgumentHelp(
                "Every GPU's power limit (NVML) for the job, put back when it ends: as root, or through "
                    + "sustain-measured for members of its [control] groups.", valueName: "watts"))
        var gpuPowerLimitText: String?

        @Option(
            name: .customLong("tune-power"),
            help: ArgumentHelp(
                "Tune the job's power limit over its own steps (--step-mark): each candidate from the maximum down "
                    + "is profiled over a few steps, the --objective picks one, and it holds for the rest of the job.",
                valueName: "cpu|gpu"))
        var tunePower: PowerLimitRequest.Kind?

        @Option(
            name: .customLong("step-mark"),
            help: ArgumentHelp(
                "The job's step: each `end NAME` (or `event NAME`) it marks ends one (with --tune-power).",
                valueName: "name"))
        var stepMark: String?

        @Option(
            help: ArgumentHelp(
                "What --tune-power minimises: energy, time, cost[:ETA] (Zeus's ETA*E + (1-ETA)*MaxPower*T, ETA 0.5 "
                    + "by default), or slowdown:F (the lowest limit within F x the fastest step). Default cost.",
                valueName: "objective"))
        var objective: String?

        @Option(
            name: .customLong("tune-step"),
            help: ArgumentHelp("The tuner's candidates' spacing in watts (default 25).", valueName: "watts"))
        var tuneStep: Double?

        /// The power options given, for messages.
        var controlOptions: String {
            (powerLimits.map { "--\($0.device.rawValue)-power-limit" } + (tunePower == nil ? [] : ["--tune-power"]))
                .joined(separator: ", ")
        }

        @Option(
            name: .customLong("tune-profiles"),
            help: ArgumentHelp(
                "As root: where --tune-power keeps each sweep for a job labelled --label job=NAME, so that the next "
                    + "run of it skips the sweep (default /var/lib/sustain/power-profiles).", valueName: "dir"))
        var tuneProfiles: String?

        /// `--tune-power` as the request the wrapper or the service carries out.
        var powerTuning: PowerTuningRequest? {
            tunePower.map {
                PowerTuningRequest(
                    device: $0, stepMark: stepMark ?? "", objective: objective ?? PowerTuningRequest.defaultObjective,
                    stepWatts: tuneStep)
            }
        }

        /// The power limits asked for, as watts (a `{NAME}` of an experiment is substituted in each run first).
        var powerLimits: [PowerLimitRequest] {
            [(PowerLimitRequest.Kind.cpu, cpuPowerLimitText), (.gpu, gpuPowerLimitText)].compactMap { kind, text in
                text.flatMap(Double.init).map { PowerLimitRequest(device: kind, watts: $0) }
            }
        }

        @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run, after --.", valueName: "CMD"))
        var command: [String] = []

        /// An experiment rather than one run: `--repeat` or `--param`.
        var isExperiment: Bool { repeatCount != nil || !parameters.isEmpty }

        /// The experiment's plan, checked.
        func experimentPlan() throws -> ExperimentPlan {
            var parsed: [ExperimentPlan.Parameter] = []
            for text in parameters {
                switch ExperimentPlan.parse(text) {
                case .success(let parameter): parsed.append(parameter)
                case .failure(let error): throw ValidationError("\(error).")
                }
            }
            switch ExperimentPlan.make(parameters: parsed, repeats: repeatCount ?? 1, warmups: warmupRuns) {
            case .success(let plan): return plan
            case .failure(let error): throw ValidationError("\(error).")
            }
        }

        /// The command to run, byte for byte (the parser sees only its first word: `SustainMeasure.main`).
        var wrapped: [[UInt8]] { SustainMeasure.wrappedCommand ?? command.map { Array($0.utf8) } }

        /// The command as the report records it.
        var recorded: RecordedCommand { RecordedCommand(wrapped) }

        /// The `--metric` flags (validated).
        var metricValues: [String: Double] {
            var values: [String: Double] = [:]
            for metric in metrics {
                if case .metric(let name, let value) = try? Mark.metric(metric) { values[name] = value }
            }
            return values
        }

        /// Where `--report` and `--html` go, opened before the command runs: a directory the user moves or swaps for
        /// a link while the command runs does not move where root writes. The default report path (the user's own
        /// state directory, named after the job's id) is resolved at the end.
        struct Outputs {
            var report: SafeFile.Destination?
            var html: SafeFile.Destination?
        }

        func openOutputs() throws -> Outputs {
            func open(_ path: String?, _ flag: String) throws -> SafeFile.Destination? {
                guard let path, path != "-" else { return nil }
                do {
                    return try SafeFile.Destination(path, createDirectories: true)
                } catch {
                    throw ValidationError("\(flag) \(path.escapingControlCharacters): \(error).")
                }
            }
            return Outputs(report: try open(report, "--report"), html: try open(html, "--html"))
        }

        /// Writes the report where `--report` said (else stdout for `-`, else the default path); returns the path
        /// written, nil (said) when it could not be.
        func writeReport(_ result: Report, to outputs: Outputs) -> String? {
            do {
                if let destination = outputs.report {
                    try result.write(to: destination)
                    return destination.path
                }
                let path = report ?? ReportLocation.defaultPath(id: result.id)
                try result.write(to: path)
                return path
            } catch {
                Terminal.error("sustain-measure: \(error)")
                return nil
            }
        }

        /// Writes the `--html` page of `report`, private like the JSON (0600); says so when it cannot (the JSON
        /// report is already written).
        func writeHTML(_ report: Report, to outputs: Outputs) {
            guard let destination = outputs.html else { return }
            do {
                try destination.replace(with: Array(HTMLReport.page(for: [report]).utf8), mode: 0o600)
            } catch {
                Terminal.error(
                    "sustain-measure: cannot write --html \(destination.path): \(error). Choose another path.")
            }
        }

        func validate() throws {
            _ = try carbon.settings()
            _ = try jobLabels()
            if let cpuTDP, !(cpuTDP.isFinite && cpuTDP > 0 && cpuTDP < 10_000) {
                throw ValidationError("--cpu-tdp must be a positive number of watts, got \(cpuTDP).")
            }
            // Refused before the command runs, not after: a report never replaces what is not a regular file.
            if let report, report != "-", let kind = SafeFile.kind(of: report), kind != .regular {
                throw ValidationError(
                    "--report \(report) is \(kind.rawValue), not a regular file: sustain-measure replaces report files "
                        + "atomically and will not replace it. Give a file path, or --report - for standard output.")
            }
            for metric in metrics {
                do throws(MarkError) {
                    _ = try Mark.metric(metric)
                } catch {
                    throw ValidationError("--metric \(metric.escapingControlCharacters): \(error).")
                }
            }
            if let html, let kind = SafeFile.kind(of: html), kind != .regular {
                throw ValidationError(
                    "--html \(html) is \(kind.rawValue), not a regular file: sustain-measure will not replace it.")
            }
            if command.isEmpty {
                throw ValidationError("Missing command. Usage: sustain-measure [options] -- CMD [ARGS...]")
            }
            for (option, text) in [("cpu", cpuPowerLimitText), ("gpu", gpuPowerLimitText)] {
                guard let text, !(isExperiment && text.contains("{")) else { continue }
                guard let watts = Double(text), watts.isFinite, watts > 0 else {
                    throw ValidationError("--\(option)-power-limit must be a positive number of watts, got \(text).")
                }
            }
            if let tuning = powerTuning {
                guard let name = stepMark, (try? Mark.name(name)) != nil else {
                    throw ValidationError(
                        "--tune-power needs --step-mark NAME: the mark (`end NAME` or `event NAME`) that ends each of "
                            + "the job's steps.")
                }
                _ = name
                do {
                    _ = try tuning.parsedObjective()
                } catch {
                    throw ValidationError("\(error).")
                }
                if let step = tuneStep, !(step.isFinite && step >= 1) {
                    throw ValidationError("--tune-step must be at least 1 W, got \(step).")
                }
                if powerLimits.contains(where: { $0.device == tuning.device }) {
                    throw ValidationError(
                        "--tune-power \(tuning.device.rawValue) chooses the limit itself: leave out "
                            + "--\(tuning.device.rawValue)-power-limit.")
                }
            } else if stepMark != nil || objective != nil || tuneStep != nil {
                throw ValidationError("--step-mark, --objective and --tune-step go with --tune-power cpu|gpu.")
            }
            if isExperiment {
                let plan = try experimentPlan()
                let texts =
                    wrapped.map { String(decoding: $0, as: UTF8.self) }
                    + RawArguments.split(RawArguments.current()).parserArguments.prefix { $0 != "--" }
                if let name = ExperimentPlan.unknownPlaceholders(in: texts, parameters: plan.parameters).first {
                    throw ValidationError(
                        "{\(name)} is in the command or its options but no --param \(name)=V1,V2,… gives its values.")
                }
                guard cooldown.isFinite, (0...3600).contains(cooldown) else {
                    throw ValidationError("--cooldown must be from 0 to 3600 seconds, got \(cooldown).")
                }
                if let baselineSeconds, !(baselineSeconds.isFinite && (1...3600).contains(baselineSeconds)) {
                    throw ValidationError("--baseline must be from 1 to 3600 seconds, got \(baselineSeconds).")
                }
                if report == "-" {
                    throw ValidationError(
                        "--report - is for one run; an experiment is written to a file (--report PATH).")
                }
                if html != nil {
                    throw ValidationError(
                        "--html is for one run; an experiment's page is `sustain-measure report html EXPERIMENT.json`.")
                }
            } else if warmupRuns != 0 || cooldown != 0 || baselineSeconds != nil || ignoreFailure {
                throw ValidationError(
                    "--warmup-runs, --cooldown, --baseline and --ignore-failure go with --repeat N (an experiment).")
            }
            if let interval {
                guard interval.isFinite, interval > 0, interval <= 3600 else {
                    throw ValidationError(
                        "--interval must be a number of seconds from \(SamplingInterval.minimum.seconds) to 3600, "
                            + "got \(interval).")
                }
                guard interval >= SamplingInterval.minimum.seconds else {
                    throw ValidationError(
                        "--interval \(interval) is below the shortest supported interval, "
                            + "\(SamplingInterval.minimum.seconds) s (RAPL counters update about every 1 ms).")
                }
            }
        }

        func run() throws {
            ChildProcess.prepareSignals()  // before any thread starts
            if isExperiment {
                let plan = try experimentPlan()
                let id = "exp-" + Report.newID()
                try ExperimentDriver(
                    plan: plan, repeats: repeatCount ?? 1, warmups: warmupRuns, cooldown: cooldown,
                    baseline: baselineSeconds, ignoreFailure: ignoreFailure, quiet: quiet,
                    options: ExperimentDriver.runOptions(RawArguments.split(RawArguments.current()).parserArguments),
                    command: wrapped, reportPath: report ?? ReportLocation.defaultPath(id: id), id: id
                ).run()
            }
            let logger = Terminal.bootstrapLogging(verbose: verbose)
            let configuration = try carbon.configuration()
            let carbonSettings = try carbon.settings()
            // A bad --intensity-series stops here, before the command runs; the parse's transient memory (a long
            // file) goes back before the command starts.
            if try carbon.series().loaded != nil { releaseFreeMemory() }
            let executable: [UInt8]
            do {
                executable = try ChildProcess.resolve(wrapped[0])
            } catch {
                Terminal.error("sustain-measure: \(error)")
                throw ExitCode(error.shellCode)
            }

            let outputs = try openOutputs()
            var serviceWarning: String?
            // Power limits: root sets them here and measures here; anyone else asks the service, which holds them
            // and puts them back even when this wrapper is killed; never the job without the limits it asked for.
            let controls = !powerLimits.isEmpty || powerTuning != nil
            let limitsHere = controls && CurrentProcess.effectiveUID == 0
            if controls && !limitsHere && noDaemon {
                throw ValidationError(
                    "\(controlOptions) needs root, or sustain-measured (not --no-daemon): power limits "
                        + "are written by root only.")
            }
            if !noDaemon && !limitsHere {
                let path = socket ?? configuration.daemon.socket
                let client = ServiceClient(socketPath: path)
                let unreachable: SystemError?
                do {
                    try client.checkReachable()
                    unreachable = nil
                } catch {
                    unreachable = error
                }
                if let unreachable, controls {
                    throw ValidationError(
                        "\(controlOptions) needs root, or sustain-measured, which does not answer at "
                            + "\(path) (\(unreachable.reason)); nothing ran.")
                }
                if let unreachable {
                    // Silent only where no service is configured or installed; otherwise said loudly, here and in
                    // the report: measuring alone may read much less than the service would.
                    if socket != nil || path != Configuration.Daemon().socket || ServiceSocket.looksInstalled(path) {
                        serviceWarning =
                            "SERVICE NOT REACHABLE: sustain-measured is configured at \(path) but does not answer "
                            + "(\(unreachable.reason)); this job is measured by the wrapper alone, as uid \(CurrentProcess.uid), "
                            + "with only what this user can read."
                    }
                } else {
                    do {
                        try runThroughDaemon(
                            client, executable: executable, carbonSettings: carbonSettings, outputs: outputs)
                    } catch is DaemonFallback {
                        // fall through: measure here
                    }
                }
            }

            let sources = MachineSources.discover(environment: CurrentProcess.environment, logger: logger)
            let sampler = try Sampler(
                sources: sources, requestedInterval: interval.map { .seconds(fractional: $0) },
                publishesCheckpoints: true, logger: logger)
            let unreadable = sampler.channels.filter { $0.isEnergy && $0.unreadable != nil }
            var shown: Set<String> = []
            if let serviceWarning, !quiet {
                Terminal.warning(serviceWarning)
                shown.insert(serviceWarning)
            }
            if !quiet {
                if !unreadable.isEmpty {
                    let warning = Report.unreadableWarning(unreadable)
                    Terminal.warning(warning)
                    shown.insert(warning)
                }
                if sampler.intervalCapped {
                    Terminal.warning(
                        "--interval shortened to \(sampler.interval.seconds) s so that no counter can wrap unseen.")
                }
            }

            let id = Report.newID()
            // Power limits first: the window measures the job as capped. Put back on every path below.
            let caps =
                limitsHere
                ? try PowerCaps(
                    powerLimits, tuning: powerTuning,
                    profiles: ((try? jobLabels()) ?? [:])["job"].map {
                        (PowerProfileStore(directory: tuneProfiles ?? "/var/lib/sustain/power-profiles"), $0)
                    }, environment: CurrentProcess.environment) : nil
            let startedAt = Date()
            do {
                try sampler.start()
            } catch {
                caps?.restore(reportID: id)
                throw error
            }
            // The job's marks: a private FIFO named by SUSTAIN_MARKS, each mark a fresh reading.
            let observe: (@Sendable (Mark, SamplerCheckpoint) -> Void)? =
                if let caps { { mark, checkpoint in caps.observe(mark, at: checkpoint) } } else { nil }
            let marks = PhaseMarks.open(sampler: sampler, observe: observe)
            let child: ChildProcess
            do {
                child = try ChildProcess(executable: executable, arguments: wrapped)
            } catch {
                _ = sampler.stop()
                marks?.pipe.finish()
                caps?.restore(reportID: id)
                Terminal.error("sustain-measure: \(error)")
                throw ExitCode(error.shellCode)
            }
            sampler.attach(jobRoot: child.pid)
            let status = LiveStatus.startIfTerminal(enabled: !quiet, sampler: sampler, phase: marks?.log)
            var received: [Int32] = []
            let exit = child.wait { received.append($0.signal) }
            // The window ends now, at the command's end; the marks still in the pipe are read after, each placed
            // at the instant it was read, never past the last sample.
            var measurement = sampler.stop()
            let powerControl = caps?.restore(reportID: id) ?? (records: [], notes: [], tuning: nil)
            // The wall-clock end of the window: its last sample, not after the marks are read and the window
            // is cut (an hourly series is applied over startedAt...endedAt).
            let endedAt = startedAt.addingTimeInterval(measurement.duration.seconds)
            marks?.pipe.finish()
            var delay: (name: String, seconds: Double?)?
            if let name = startAtMark {
                // Like perf stat --delay: the window starts at the first `begin NAME`.
                let start = marks?.log.firstBegin(of: name)
                if let start, let end = sampler.latestCheckpoint {
                    var window = sampler.measurement(from: start, to: end)
                    window.samplerCPUSeconds = measurement.samplerCPUSeconds
                    measurement = window
                }
                delay = (name, start.flatMap { marks?.log.offset(of: $0) })
            }
            let phases = marks?.finish(sampler: sampler)
            status?.stop()

            let job = JobFacts(
                id: id, command: recorded,
                exitCode: { if case .exited(let code) = exit { code } else { nil } }(),
                signal: { if case .signaled(let signal) = exit { signal } else { nil } }(),
                signalsReceived: received.map(CurrentProcess.signalName),
                interrupted: received.contains { ChildProcess.interruptingSignals.contains($0) },
                startedAt: startedAt, endedAt: endedAt, host: Report.Host.current(), usage: child.usage)
            let summaries = sources.map {
                SourceSummary(name: $0.name, channels: $0.channels, diagnostics: $0.diagnostics)
            }
            // The estimate is needed only when nothing was measured (it reads /proc/cpuinfo and a table).
            let fallback =
                noEstimate || measurement.countedEnergy != nil
                ? nil
                : child.usage.map { usage in
                    FallbackEstimate(
                        cpuSeconds: usage.cpuSeconds, logicalCPUs: HostFacts.logicalCPUs(),
                        tdp: (cpuTDP ?? configuration.estimate.cpuTDP).map(Watts.init),
                        cpuModel: HostFacts.cpuModel(), maxResidentBytes: usage.maxResidentBytes,
                        durationSeconds: measurement.duration.seconds)
                }
            let (series, seriesWarning) = try carbon.series()
            let result = Report.assemble(
                FinishedJob(
                    facts: job, measurement: measurement, sources: summaries, carbon: carbonSettings,
                    fallback: fallback, gpus: sampler.gpus, phases: phases,
                    startMark: delay.map { ($0.name, $0.seconds) },
                    series: series?.series, seriesWarning: seriesWarning, metrics: metricValues,
                    labels: (try? jobLabels()) ?? [:],  // validated before the command ran
                    powerControl: powerControl.records, powerTuning: powerControl.tuning,
                    firstWarnings: (serviceWarning.map { [$0] } ?? []) + powerControl.notes))
            let written = writeReport(result, to: outputs)
            writeHTML(result, to: outputs)
            if !quiet { Terminal.write(result.summary(reportPath: written, alreadyShown: shown)) }
            throw ExitCode(exit.shellCode)
        }
    }
}
