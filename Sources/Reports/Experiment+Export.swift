import SustainCore

extension Experiment {
    /// Every run as one CSV row: its configuration's parameters (one column each), the run, and its figures; a
    /// figure not measured is an empty field, never 0. Fields are neutralised against formula injection.
    public func csv() -> String {
        let names = parameters.map(\.name)
        var rows = [
            ["configuration"] + names + [
                "run", "warmup", "exit_code", "energy_joules", "net_energy_joules", "duration_seconds", "kg_co2e",
                "report",
            ]
        ]
        for (index, configuration) in configurations.enumerated() {
            for run in configuration.runs {
                rows.append(
                    [String(index + 1)] + names.map { configuration.parameters[$0] ?? "" } + [
                        String(run.number(warmups: warmupRuns)), run.warmup ? "true" : "false",
                        run.exitCode.map(String.init) ?? "",
                        run.energyJoules.map { String($0) } ?? "", run.netEnergyJoules.map { String($0) } ?? "",
                        String(run.durationSeconds), run.kgCo2e.map { String($0) } ?? "", run.report,
                    ])
            }
        }
        return rows.map { $0.map(CodeCarbonCSV.field).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// Each configuration's statistics as one Markdown table: mean ± the 95 % interval's half-width.
    public func markdown() -> String {
        let hasNet = baseline != nil
        var header = ["configuration", "n", "energy (J)"]
        if hasNet { header.append("net energy (J)") }
        header += ["duration (s)", "CO2e (g)", "Pareto"]
        var lines = [
            "| " + header.joined(separator: " | ") + " |",
            "|" + header.map { _ in "---" }.joined(separator: "|") + "|",
        ]
        func cell(_ statistic: Statistic?, scale: Double = 1) -> String {
            guard let statistic else { return "–" }
            let mean = Quantity.significant(statistic.mean * scale, 4)
            guard let low = statistic.ci95Low, let high = statistic.ci95High else { return mean }
            return "\(mean) ± \(Quantity.significant((high - low) / 2 * scale, 2))"
        }
        for (index, configuration) in configurations.enumerated() {
            let parameters = configuration.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            let name = ([String(index + 1)] + parameters).joined(separator: " ")
            var row = [
                Self.markdownText(name), String(configuration.statistics["energy_joules"]?.n ?? 0),
                cell(configuration.statistics["energy_joules"]),
            ]
            if hasNet { row.append(cell(configuration.statistics["net_energy_joules"])) }
            row += [
                cell(configuration.statistics["duration_seconds"]),
                cell(configuration.statistics["kg_co2e"], scale: 1000), configuration.pareto ? "yes" : "",
            ]
            lines.append("| " + row.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n\nmean ± half-width of the 95 % confidence interval (Student-t)\n"
    }

    /// Text for a Markdown table cell: pipes and markup characters escaped, one line.
    static func markdownText(_ text: String) -> String {
        var result = ""
        for character in text.escapingControlCharacters {
            if "|\\`*_[]<>#".contains(character) { result.append("\\") }
            result.append(character)
        }
        return result
    }
}
