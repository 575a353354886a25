import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An experiment (`sustain.experiment.v1`): one command run several times in each configuration of its
/// parameters, each run a full report of its own (written beside the experiment), an idle baseline before and
/// after, and each configuration's statistics (Student-t 95 % intervals). Gross and net energy are both given and
/// named: net = gross − the baseline's power × the run's duration, never mixed with gross.
public struct Experiment: Codable, Sendable, Equatable {
    public static let schemaName = "sustain.experiment.v1"

    enum CodingKeys: String, CodingKey {
        case schema, id, command, host, repeats, parameters, baseline, configurations, warnings, tool
        case warmupRuns = "warmup_runs"
        case cooldownSeconds = "cooldown_seconds"
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case failedRuns = "failed_runs"
        case ignoreFailure = "ignore_failure"
        case paretoObjectives = "pareto_objectives"
    }

    public struct Parameter: Codable, Sendable, Equatable {
        public var name: String
        public var values: [String]
        public init(name: String, values: [String]) {
            self.name = name
            self.values = values
        }
    }

    /// The idle machine, measured the same way as a run (a report of `sleep`).
    public struct Baseline: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case seconds, watts, joules, report
            case startedAt = "started_at"
            case endedAt = "ended_at"
        }
        public var startedAt: Date
        public var endedAt: Date
        public var seconds: Double
        public var watts: Double
        public var joules: Double
        /// The baseline's own report, relative to the experiment's file.
        public var report: String?

        public init(report: Report, path: String?) throws(ReportError) {
            guard let joules = report.energy.joules, report.durationSeconds > 0 else {
                throw ReportError(
                    "the baseline measured no energy (\(report.warnings.first ?? "nothing counted")); "
                        + "without it there is no net energy: run without --baseline")
            }
            startedAt = report.startedAt
            endedAt = report.endedAt
            seconds = report.durationSeconds
            self.joules = joules
            watts = joules / report.durationSeconds
            self.report = path
        }
    }

    public struct Baselines: Codable, Sendable, Equatable {
        public var before: Baseline
        /// Re-measured after the last run: the drift.
        @Nullable public var after: Baseline?
        public init(before: Baseline, after: Baseline?) {
            self.before = before
            self.after = after
        }
    }

    /// One run, warm-up or measured.
    public struct Run: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case id, report, warmup, round, signal, temperatures
            case startedAt = "started_at"
            case endedAt = "ended_at"
            case exitCode = "exit_code"
            case energyJoules = "energy_joules"
            case netEnergyJoules = "net_energy_joules"
            case durationSeconds = "duration_seconds"
            case kgCo2e = "kg_co2e"
            case metrics
        }
        public var id: String
        /// The run's report, relative to the experiment's file.
        public var report: String
        public var warmup: Bool
        public var round: Int
        public var startedAt: Date
        public var endedAt: Date
        @Nullable public var exitCode: Int32?
        @Nullable public var signal: Int32?
        /// Gross: what the run's report counted. Nil when nothing was measured.
        @Nullable public var energyJoules: Double?
        /// Gross − baseline power × duration; nil without a baseline.
        @Nullable public var netEnergyJoules: Double?
        public var durationSeconds: Double
        @Nullable public var kgCo2e: Double?
        /// Quality metrics and per-unit figures of the run, by the statistic's name.
        public var metrics: [String: Double]
        /// Sensors' temperatures during the run (hwmon, NVML), where the machine has them.
        public var temperatures: [Report.Temperature]

        public var succeeded: Bool { exitCode == 0 && signal == nil }

        /// The run's number among its kind: warm-ups 1…K, measured runs 1…N.
        public func number(warmups: Int) -> Int { warmup ? round : round - warmups }
    }

    /// One statistic of a configuration's measured runs.
    public struct Statistic: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case n, mean, sd, cv, min, max
            case ci95Low = "ci95_low"
            case ci95High = "ci95_high"
        }
        public var n: Int
        public var mean: Double
        public var sd: Double
        @Nullable public var ci95Low: Double?
        @Nullable public var ci95High: Double?
        @Nullable public var cv: Double?
        public var min: Double
        public var max: Double

        init(_ summary: Statistics.Summary) {
            n = summary.n
            mean = summary.mean
            sd = summary.sd
            ci95Low = summary.ci95?.lowerBound
            ci95High = summary.ci95?.upperBound
            cv = summary.cv
            min = summary.min
            max = summary.max
        }

        /// Half the interval over |mean|.
        public var relativeHalfWidth: Double? {
            guard let ci95Low, let ci95High, mean != 0 else { return nil }
            return (ci95High - ci95Low) / 2 / abs(mean)
        }
    }

    public struct Configuration: Codable, Sendable, Equatable {
        public var parameters: [String: String]
        /// The command with the parameters substituted.
        public var command: [String]
        public var runs: [Run]
        /// By name: `energy_joules`, `net_energy_joules`, `duration_seconds`, `kg_co2e`, `metric.NAME`,
        /// `joules_per_unit.PHASE`: over the measured runs (successful ones, or all with --ignore-failure).
        public var statistics: [String: Statistic]
        /// On the Pareto front of the experiment's objectives (`pareto_objectives`).
        public var pareto: Bool
    }

    public var schema = Experiment.schemaName
    public var id: String
    /// As given, with `{NAME}` where a parameter goes.
    public var command: [String]
    public var host: String
    public var startedAt: Date
    public var endedAt: Date
    public var repeats: Int
    public var warmupRuns: Int
    public var cooldownSeconds: Double
    public var ignoreFailure: Bool
    public var parameters: [Parameter]
    @Nullable public var baseline: Baselines?
    public var configurations: [Configuration]
    /// Each minimized: energy, duration, and each metric (negated where higher is better).
    public var paretoObjectives: [String]
    public var failedRuns: Int
    public var warnings: [String]
    public var tool: Report.Tool
}

extension Experiment {
    /// What the driver knows of one run once it ended: its report (nil when none could be read) and where.
    public struct RunRecord: Sendable {
        public var configuration: Int
        public var round: Int
        public var warmup: Bool
        public var report: Report
        public var path: String
        public init(configuration: Int, round: Int, warmup: Bool, report: Report, path: String) {
            self.configuration = configuration
            self.round = round
            self.warmup = warmup
            self.report = report
            self.path = path
        }
    }

    /// The experiment, assembled once from its runs and baselines: each run's figures, each configuration's
    /// statistics, the Pareto front and the warnings, in one fixed order.
    public static func assemble(
        id: String, command: [String], plan: ExperimentPlan, commands: [[String]], records: [RunRecord],
        baseline: Baselines?, cooldownSeconds: Double, ignoreFailure: Bool, startedAt: Date, endedAt: Date
    ) -> Experiment {
        let watts = baseline?.before.watts
        var configurations: [Configuration] = plan.configurations.indices.map { index in
            let runs = records.filter { $0.configuration == index }.map { record in
                run(record, baselineWatts: watts)
            }
            return Configuration(
                parameters: plan.configurations[index], command: commands[index], runs: runs,
                statistics: values(of: counted(runs, ignoreFailure: ignoreFailure)).compactMapValues {
                    Statistics.Summary($0).map(Statistic.init)
                }, pareto: false)
        }
        // The Pareto front over mean energy, mean duration and every metric all configurations have.
        var objectives = ["energy_joules", "duration_seconds"]
        let metricSets = configurations.map { Set($0.statistics.keys.filter { $0.hasPrefix("metric.") }) }
        let metricNames = metricSets.dropFirst().reduce(metricSets.first ?? []) { $0.intersection($1) }
        objectives += metricNames.sorted()
        let points = configurations.map { configuration in
            objectives.map { name -> Double in
                guard let mean = configuration.statistics[name]?.mean else { return .nan }
                let metric = name.hasPrefix("metric.") ? String(name.dropFirst("metric.".count)) : nil
                return metric.map { Pareto.higherIsBetter(metric: $0) } == true ? -mean : mean
            }
        }
        let front = configurations.count > 1 ? Pareto.front(minimizing: points) : []
        for index in configurations.indices { configurations[index].pareto = front.contains(index) }

        let failed = configurations.enumerated().flatMap { index, configuration in
            configuration.runs.filter { !$0.warmup && !$0.succeeded }.map { (configuration: index, run: $0) }
        }
        var warnings: [String] = []
        for (index, run) in failed {
            let exit = run.exitCode.map { "exit code \($0)" } ?? run.signal.map { "signal \($0)" } ?? "no exit status"
            warnings.append(
                "Run \(run.round) of configuration \(index + 1) failed (\(exit)): "
                    + (ignoreFailure ? "counted (--ignore-failure)." : "left out of the statistics."))
        }
        for (index, configuration) in configurations.enumerated() {
            guard let energy = configuration.statistics["energy_joules"] else {
                warnings.append(
                    "Configuration \(index + 1) has no measured energy in any counted run: no statistics.")
                continue
            }
            if let half = energy.relativeHalfWidth, half > 0.05 {
                warnings.append(
                    "Configuration \(index + 1): the 95 % interval of its energy is ±\(Quantity.fixed(half * 100, 1)) "
                        + "% of the mean (over 5 %): more runs (--repeat) or a quieter machine would tell more.")
            }
            if energy.n < 2 {
                warnings.append("Configuration \(index + 1) has one counted run: no confidence interval.")
            }
        }
        if let baseline, let after = baseline.after {
            let drift = (after.watts - baseline.before.watts) / baseline.before.watts
            if abs(drift) > 0.05 {
                warnings.append(
                    "The idle baseline drifted \(Quantity.fixed(drift * 100, 1)) % (\(Quantity.power(baseline.before.watts)) "
                        + "before, \(Quantity.power(after.watts)) after the last run): net energy uses the first.")
            }
        }
        return Experiment(
            id: id, command: command, host: records.first?.report.host.hostname ?? "", startedAt: startedAt,
            endedAt: endedAt, repeats: plan.runs.filter { !$0.warmup && $0.configuration == 0 }.count,
            warmupRuns: plan.runs.filter { $0.warmup && $0.configuration == 0 }.count,
            cooldownSeconds: cooldownSeconds, ignoreFailure: ignoreFailure,
            parameters: plan.parameters.map { Parameter(name: $0.name, values: $0.values) }, baseline: baseline,
            configurations: configurations, paretoObjectives: objectives, failedRuns: failed.count,
            warnings: warnings, tool: Report.Tool(name: "sustain-measure", version: Report.toolVersion))
    }

    static func run(_ record: RunRecord, baselineWatts: Double?) -> Run {
        let report = record.report
        var metrics = report.metrics ?? [:]
        for total in report.phaseTotals {
            if let perUnit = total.joulesPerUnit { metrics["joules_per_unit.\(total.name)"] = perUnit }
        }
        return Run(
            id: report.id, report: record.path, warmup: record.warmup, round: record.round,
            startedAt: report.startedAt, endedAt: report.endedAt, exitCode: report.exitCode, signal: report.signal,
            energyJoules: report.energy.method == "estimated" ? nil : report.energy.joules,
            netEnergyJoules: report.energy.method == "estimated"
                ? nil
                : report.energy.joules.flatMap { gross in
                    baselineWatts.map { gross - $0 * report.durationSeconds }
                },
            durationSeconds: report.durationSeconds, kgCo2e: report.carbon.kgCo2e, metrics: metrics,
            temperatures: report.temperatures)
    }

    /// The runs a configuration's statistics count: measured ones, and successful unless failures are ignored.
    public static func counted(_ runs: [Run], ignoreFailure: Bool) -> [Run] {
        runs.filter { !$0.warmup && (ignoreFailure || $0.succeeded) }
    }

    /// Each figure's values over `runs`, by the statistic's name (figures no run has are left out).
    public static func values(of runs: [Run]) -> [String: [Double]] {
        var values: [String: [Double]] = [
            "energy_joules": runs.compactMap(\.energyJoules),
            "net_energy_joules": runs.compactMap(\.netEnergyJoules),
            "duration_seconds": runs.map(\.durationSeconds),
            "kg_co2e": runs.compactMap(\.kgCo2e),
        ]
        for run in runs {
            for (name, value) in run.metrics {
                let key = name.hasPrefix("joules_per_unit.") ? name : "metric.\(name)"
                values[key, default: []].append(value)
            }
        }
        return values.filter { !$0.value.isEmpty }
    }
}
