import SustainCore

/// `report compare`: B against A on each figure both have (energy gross and net, duration, carbon, each metric),
/// by Welch's t-test, with the relative difference's 95 % interval and one sentence a person can act on.
public struct ExperimentComparison: Sendable, Equatable {
    /// One side: a name for it and each figure's values over its counted runs.
    public struct Side: Sendable, Equatable {
        public var name: String
        public var values: [String: [Double]]

        public init(name: String, values: [String: [Double]]) {
            self.name = name
            self.values = values
        }

        /// A configuration's counted runs (measured, and successful unless the experiment ignored failures).
        public init(name: String, configuration: Experiment.Configuration, ignoreFailure: Bool) {
            self.init(
                name: name,
                values: Experiment.values(of: Experiment.counted(configuration.runs, ignoreFailure: ignoreFailure)))
        }

        /// One report: one run of each figure.
        public init(name: String, report: Report) {
            var values: [String: [Double]] = ["duration_seconds": [report.durationSeconds]]
            if report.energy.method != "estimated", let joules = report.energy.joules {
                values["energy_joules"] = [joules]
            }
            if let kg = report.carbon.kgCo2e { values["kg_co2e"] = [kg] }
            for (metric, value) in report.metrics ?? [:] { values["metric.\(metric)"] = [value] }
            self.init(name: name, values: values)
        }
    }

    /// One figure's comparison; nil `test` when a side has fewer than two runs of it.
    public struct Figure: Sendable, Equatable {
        public let name: String
        public let a: Statistics.Summary
        public let b: Statistics.Summary
        public let test: Statistics.Comparison?
    }

    public let a: Side
    public let b: Side
    public let figures: [Figure]

    /// The figures both sides have, energy first.
    public init(a: Side, b: Side) {
        self.a = a
        self.b = b
        let order = ["energy_joules", "net_energy_joules", "duration_seconds", "kg_co2e"]
        let names = Set(a.values.keys).intersection(b.values.keys)
        let sorted = order.filter(names.contains) + names.subtracting(order).sorted()
        figures = sorted.compactMap { name in
            guard let first = a.values[name], let second = b.values[name], let sa = Statistics.Summary(first),
                let sb = Statistics.Summary(second)
            else { return nil }
            return Figure(name: name, a: sa, b: sb, test: Statistics.welch(first, second))
        }
    }

    /// Why no test can be made on energy, if none can: a side with one run, or no energy on a side.
    public var energyProblem: String? {
        guard let energy = figures.first(where: { $0.name == "energy_joules" }) else {
            return "\(a.values["energy_joules"] == nil ? a.name : b.name) has no measured energy"
        }
        guard energy.test == nil else { return nil }
        let single = energy.a.n < 2 ? a.name : b.name
        return "\(single) is \(min(energy.a.n, energy.b.n)) run: a comparison with confidence needs at least 2 runs "
            + "on each side (sustain-measure --repeat N)"
    }

    /// What a figure's difference means in words: "uses 12.4 % less energy than A (95 % CI 9.8–15.0 %, p =
    /// 0.0004, 5 runs each)", or "no significant difference in energy (p = 0.41, …)".
    public func sentence(for figure: Figure) -> String {
        let noun: String
        let more: String
        let less: String
        switch figure.name {
        case "energy_joules": (noun, more, less) = ("energy", "uses %@ more energy than", "uses %@ less energy than")
        case "net_energy_joules":
            (noun, more, less) = ("net energy", "uses %@ more net energy than", "uses %@ less net energy than")
        case "duration_seconds": (noun, more, less) = ("duration", "takes %@ longer than", "takes %@ less time than")
        case "kg_co2e": (noun, more, less) = ("emissions", "emits %@ more CO2e than", "emits %@ less CO2e than")
        default:
            let metric = figure.name.split(separator: ".", maxSplits: 1).last.map(String.init) ?? figure.name
            (noun, more, less) = (metric, "has %@ higher \(metric) than", "has %@ lower \(metric) than")
        }
        let runs = figure.a.n == figure.b.n ? "\(figure.a.n) runs each" : "\(figure.a.n) and \(figure.b.n) runs"
        guard let test = figure.test else {
            return "\(b.name) against \(a.name): \(noun) not tested (\(runs); at least 2 each are needed)."
        }
        let p = Self.pValue(test.p)
        guard test.isSignificant else {
            return "No significant difference in \(noun) between \(b.name) and \(a.name) (\(p), \(runs))."
        }
        let change = test.relativeDifference
        let low = abs(change < 0 ? test.relativeCI95.upperBound : test.relativeCI95.lowerBound)
        let high = abs(change < 0 ? test.relativeCI95.lowerBound : test.relativeCI95.upperBound)
        let verb = (change < 0 ? less : more).replacing("%@", with: "\(Quantity.fixed(abs(change) * 100, 1)) %")
        return
            "\(b.name) \(verb) \(a.name) (95 % CI \(Quantity.fixed(low * 100, 1))–\(Quantity.fixed(high * 100, 1)) %, "
            + "\(p), \(runs))."
    }

    /// `p = 0.41`, `p = 0.003`, `p = 0.0004`, `p < 0.0001`.
    static func pValue(_ p: Double) -> String {
        if p < 0.0001 { return "p < 0.0001" }
        if p < 0.001 { return "p = " + Quantity.fixed(p, 4) }
        return "p = " + Quantity.fixed(p, p < 0.01 ? 3 : 2)
    }
}
