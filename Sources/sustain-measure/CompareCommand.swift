import ArgumentParser
import FoundationEssentials
import Reports
import SustainCore

extension SustainMeasure.ReportCommand {
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two experiments or reports (or an experiment's configurations with its first).",
            discussion: """
                B against A on each figure both have (energy, net energy, duration, CO2e, each metric): the \
                difference in % with its 95 % interval and Welch's t-test, and one sentence. A test needs at least \
                2 runs on each side (sustain-measure --repeat N). Exit 0 whether or not there is a difference.
                """)

        @Argument(help: ArgumentHelp("Experiment or report files: A, then B.", valueName: "file"))
        var files: [String]

        func validate() throws {
            guard (1...2).contains(files.count) else {
                throw ValidationError(
                    "Give one experiment (its configurations against its first) or two files (B against A).")
            }
        }

        enum Loaded {
            case experiment(Experiment)
            case report(Report)
        }

        static func load(_ path: String) throws -> Loaded {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw ValidationError("Cannot read \(path.escapingControlCharacters): \(error).")
            }
            if let experiment = try? Experiment.decode(data) { return .experiment(experiment) }
            do {
                return .report(try Report.decode(data))
            } catch {
                throw ValidationError(
                    "\(path.escapingControlCharacters) is neither a sustain.experiment.v1 nor a sustain.report.v1 "
                        + "file: \(error).")
            }
        }

        /// The sides of each comparison to make.
        func pairs() throws -> [(ExperimentComparison.Side, ExperimentComparison.Side)] {
            func name(_ file: String, _ configuration: Experiment.Configuration?, of experiment: Experiment?) -> String
            {
                let base = String(file.split(separator: "/").last ?? Substring(file))
                guard let configuration, let experiment, experiment.configurations.count > 1 else { return base }
                return base + " ["
                    + configuration.parameters.sorted { $0.key < $1.key }
                    .map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "]"
            }
            func sides(_ file: String) throws -> [String: ExperimentComparison.Side] {
                switch try Self.load(file) {
                case .report(let report):
                    return ["": ExperimentComparison.Side(name: name(file, nil, of: nil), report: report)]
                case .experiment(let experiment):
                    var result: [String: ExperimentComparison.Side] = [:]
                    for configuration in experiment.configurations {
                        let key = configuration.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                            .joined(separator: " ")
                        result[key] = ExperimentComparison.Side(
                            name: name(file, configuration, of: experiment), configuration: configuration,
                            ignoreFailure: experiment.ignoreFailure)
                    }
                    return result
                }
            }
            if files.count == 1 {
                guard case .experiment(let experiment) = try Self.load(files[0]), experiment.configurations.count > 1
                else {
                    throw ValidationError(
                        "One file is compared with itself only when it is an experiment of several configurations; "
                            + "give two files (B against A).")
                }
                let all = experiment.configurations.map {
                    ExperimentComparison.Side(
                        name: name(files[0], $0, of: experiment), configuration: $0,
                        ignoreFailure: experiment.ignoreFailure)
                }
                return all.dropFirst().map { (all[0], $0) }
            }
            let a = try sides(files[0])
            let b = try sides(files[1])
            if a.count == 1, b.count == 1, let first = a.values.first, let second = b.values.first {
                return [(first, second)]
            }
            let shared = Set(a.keys).intersection(b.keys).sorted()
            guard !shared.isEmpty else {
                throw ValidationError(
                    "\(files[0]) and \(files[1]) have no configuration with the same parameters to compare.")
            }
            return shared.compactMap { key in a[key].flatMap { first in b[key].map { (first, $0) } } }
        }

        func run() throws {
            var lines: [String] = []
            var problems: [String] = []
            for (a, b) in try pairs() {
                let comparison = ExperimentComparison(a: a, b: b)
                if let problem = comparison.energyProblem { problems.append(problem) }
                lines.append("\(b.name) against \(a.name):")
                for figure in comparison.figures {
                    lines.append("  " + comparison.sentence(for: figure))
                }
                lines.append("")
            }
            if !problems.isEmpty, lines.allSatisfy({ !$0.contains("(95 % CI") && !$0.contains("No significant") }) {
                throw ValidationError(problems.joined(separator: "; ") + ".")
            }
            print(lines.joined(separator: "\n"), terminator: "")
        }
    }
}
