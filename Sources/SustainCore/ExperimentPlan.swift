/// The order of an experiment's runs: every combination of its parameters' values (the cartesian product, in the
/// order the parameters and values were given), each run `warmups` times unmeasured-for-statistics and `repeats`
/// times measured, interleaved round robin (one run of each configuration, then the next round) so that a drift
/// of the machine (warming up, a neighbour's job) does not favour one configuration. Pure: table-tested.
public struct ExperimentPlan: Sendable, Equatable {
    public struct Parameter: Sendable, Equatable {
        public let name: String
        public let values: [String]
        public init(name: String, values: [String]) {
            self.name = name
            self.values = values
        }
    }

    /// One run: its configuration (an index into `configurations`), its round, and whether it is a warm-up.
    public struct Run: Sendable, Equatable {
        public let configuration: Int
        /// 1-based within its configuration, warm-ups first.
        public let round: Int
        public let warmup: Bool
    }

    public let parameters: [Parameter]
    /// Each configuration's value of each parameter, in `parameters` order; one empty configuration without any.
    public let configurations: [[String: String]]
    public let runs: [Run]

    /// Nil with the reason when the plan cannot be made: no repeat, a parameter without values or given twice, a
    /// name that is not an identifier (it becomes an environment variable), more than 10,000 runs.
    public static func make(parameters: [Parameter], repeats: Int, warmups: Int) -> Result<ExperimentPlan, PlanError> {
        guard repeats >= 1 else { return .failure(PlanError("--repeat must be at least 1, got \(repeats)")) }
        guard warmups >= 0 else { return .failure(PlanError("--warmup-runs must not be negative, got \(warmups)")) }
        var seen: Set<String> = []
        for parameter in parameters {
            guard isIdentifier(parameter.name) else {
                return .failure(
                    PlanError(
                        "--param \(parameter.name): a name is letters, digits and _ (not first a digit), as an "
                            + "environment variable's"))
            }
            guard seen.insert(parameter.name).inserted else {
                return .failure(PlanError("--param \(parameter.name) is given twice; give its values once: A=1,2,3"))
            }
            guard !parameter.values.isEmpty, !parameter.values.contains(where: \.isEmpty) else {
                return .failure(PlanError("--param \(parameter.name) has an empty value; give NAME=V1,V2,…"))
            }
        }
        var configurations: [[String: String]] = [[:]]
        for parameter in parameters {
            configurations = configurations.flatMap { base in
                parameter.values.map { value in base.merging([parameter.name: value]) { $1 } }
            }
        }
        let total = configurations.count * (repeats + warmups)
        guard total <= 10_000 else {
            return .failure(PlanError("\(total) runs: at most 10,000 (configurations × (repeats + warm-ups))"))
        }
        var runs: [Run] = []
        for round in 1...(repeats + warmups) {
            for configuration in configurations.indices {
                runs.append(Run(configuration: configuration, round: round, warmup: round <= warmups))
            }
        }
        return .success(ExperimentPlan(parameters: parameters, configurations: configurations, runs: runs))
    }

    /// `NAME=V1,V2,…` as a parameter.
    public static func parse(_ text: String) -> Result<Parameter, PlanError> {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else {
            return .failure(PlanError("--param must be NAME=V1,V2,…, got \(text.prefix(80))"))
        }
        return .success(
            Parameter(
                name: parts[0],
                values: parts[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)))
    }

    /// `text` with every `{NAME}` of `configuration` replaced by its value (other braces left as they are).
    public static func substitute(_ text: String, _ configuration: [String: String]) -> String {
        var result = text
        for (name, value) in configuration.sorted(by: { $0.key < $1.key }) {
            result = result.replacing("{\(name)}", with: value)
        }
        return result
    }

    /// The names in `{NAME}` placeholders of `texts` that no parameter gives (`{}` and braces around anything
    /// but an identifier, as in `find -exec {}` or an awk program, are not placeholders).
    public static func unknownPlaceholders(in texts: [String], parameters: [Parameter]) -> [String] {
        let known = Set(parameters.map(\.name))
        var found: [String] = []
        for text in texts {
            var rest = Substring(text)
            while let open = rest.firstIndex(of: "{") {
                let after = rest[rest.index(after: open)...]
                guard let close = after.firstIndex(of: "}") else { break }
                let name = String(after[..<close])
                if isIdentifier(name), !known.contains(name), !found.contains(name) { found.append(name) }
                rest = after
            }
        }
        return found
    }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
        }
    }
}

/// Why an experiment cannot be planned.
public struct PlanError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
