import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The page of an experiment: every run as a dot and each configuration's mean and 95 % interval, the idle
/// baseline, energy against duration with error bars and the Pareto front, the statistics as a table.
extension HTMLReport {
    public static func page(for experiment: Experiment) -> String {
        let title = "sustain experiment: " + experiment.command.joined(separator: " ").prefix(80)
        let body: HTML = """
            <header><h1>\(experiment.command.joined(separator: " "))</h1>
            <p class="facts">experiment <code>\(experiment.id)</code> · on \(experiment.host) · \
            \(timestamp(experiment.startedAt)) to \(timestamp(experiment.endedAt)) · \
            \(experiment.configurations.count) configuration(s) × \(experiment.repeats) run(s)\
            \(experiment.warmupRuns > 0 ? " + \(experiment.warmupRuns) warm-up(s) each" : "")</p></header>
            \(experimentBaseline(experiment))\(runDots(experiment))\(energyAgainstTime(experiment))\
            \(experimentTable(experiment))\(experimentWarnings(experiment))
            """
        return document(title: String(title), body: body, source: "a sustain.experiment.v1 file")
    }

    static func configurationName(_ experiment: Experiment, _ index: Int) -> String {
        let parameters = experiment.configurations[index].parameters.sorted { $0.key < $1.key }
        return parameters.isEmpty ? "\(index + 1)" : parameters.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    static func experimentBaseline(_ experiment: Experiment) -> HTML {
        guard let baseline = experiment.baseline else {
            return "<p>No idle baseline (<code>--baseline SECONDS</code>): energy is gross only.</p>\n"
        }
        let after: HTML = baseline.after.map { " and \(Quantity.power($0.watts)) after the last run" } ?? .empty
        return """
            <p class="baseline">Idle baseline: \(Quantity.power(baseline.before.watts)) over \
            \(Quantity.duration(baseline.before.seconds)) before the first run\(after). Net energy = gross − \
            \(Quantity.power(baseline.before.watts)) × each run's duration; the two are never mixed.</p>

            """
    }

    /// Energy per configuration: each measured run a dot (warm-ups hollow), the mean a bar, the 95 % interval
    /// its whiskers.
    static func runDots(_ experiment: Experiment) -> HTML {
        let rows = experiment.configurations.count
        let frame = (width: 960.0, left: 200.0, right: 40.0, row: 34.0, top: 10.0, bottom: 40.0)
        let height = frame.top + Double(rows) * frame.row + frame.bottom
        let values = experiment.configurations.flatMap { $0.runs.compactMap(\.energyJoules) }
        guard let highest = values.max(), highest > 0 else {
            return "<section><h2>Energy per run</h2><p class=\"empty\">No run measured any energy.</p></section>\n"
        }
        let (axis, step) = niceScale(highest * 1.05)
        func x(_ joules: Double) -> Double { frame.left + joules / axis * (frame.width - frame.left - frame.right) }
        var svg: HTML = """
            <svg class="experiment" viewBox="0 0 \(Int(frame.width)) \(Int(height))" role="img" \
            aria-label="Energy of each run, by configuration, with the mean and its 95 % interval">

            """
        var tick = 0.0
        while tick <= axis + step / 2 {
            svg += verticalGridLine(at: x(tick), from: frame.top, to: height - frame.bottom, label: short(tick, 3))
            tick += step
        }
        svg += """
            <text class="axis-title" x="\(number((frame.left + frame.width) / 2))" y="\(number(height - 6))" \
            text-anchor="middle">energy per run (J)</text>

            """
        for (index, configuration) in experiment.configurations.enumerated() {
            let y = frame.top + (Double(index) + 0.5) * frame.row
            svg += """
                <text class="axis" x="\(number(frame.left - 8))" y="\(number(y + 4))" text-anchor="end">\
                \(configurationName(experiment, index))\(configuration.pareto ? " ★" : "")</text>

                """
            if let energy = configuration.statistics["energy_joules"] {
                if let low = energy.ci95Low, let high = energy.ci95High {
                    svg += """
                        <path class="ci" data-configuration="\(index + 1)" d="M\(number(x(low))),\(number(y))\
                        H\(number(x(high)))M\(number(x(low))),\(number(y - 6))v12M\(number(x(high))),\(number(y - 6))v12">\
                        <title>95 % interval \(Quantity.energy(low)) to \(Quantity.energy(high))</title></path>

                        """
                }
                svg += """
                    <rect class="mean" data-configuration="\(index + 1)" x="\(number(x(energy.mean) - 1.5))" \
                    y="\(number(y - 10))" width="3" height="20"><title>mean \(Quantity.energy(energy.mean)) \
                    (n = \(energy.n))</title></rect>

                    """
            }
            for run in configuration.runs {
                guard let joules = run.energyJoules else { continue }
                svg += """
                    <circle class="run\(run.warmup ? " warmup" : "")" data-configuration="\(index + 1)" \
                    cx="\(number(x(joules)))" cy="\(number(y))" r="4"><title>\(run.warmup ? "warm-up" : "run") \
                    \(run.number(warmups: experiment.warmupRuns)): \(Quantity.energy(joules)), \(Quantity.duration(run.durationSeconds))\
                    \(run.succeeded ? "" : ", failed")</title></circle>

                    """
            }
        }
        svg += "</svg>"
        return """
            <section><h2>Energy per run</h2><figure>\(svg)<figcaption>Each dot is a run (hollow: warm-up, not in \
            the statistics); the bar is the mean of the measured runs, the whiskers its 95 % confidence interval \
            (Student-t); ★ marks the Pareto front.</figcaption></figure></section>

            """
    }

    /// Mean energy against mean duration, each with its interval as error bars; the Pareto front joined.
    static func energyAgainstTime(_ experiment: Experiment) -> HTML {
        let points = experiment.configurations.enumerated().compactMap {
            index, configuration -> (Int, Experiment.Statistic, Experiment.Statistic)? in
            guard let energy = configuration.statistics["energy_joules"],
                let time = configuration.statistics["duration_seconds"]
            else { return nil }
            return (index, energy, time)
        }
        guard points.count > 1 else { return .empty }
        let frame = (width: 640.0, height: 360.0, left: 70.0, right: 20.0, top: 20.0, bottom: 44.0)
        let (xTop, xStep) = niceScale((points.map { $0.2.ci95High ?? $0.2.max }.max() ?? 1) * 1.05)
        let (yTop, yStep) = niceScale((points.map { $0.1.ci95High ?? $0.1.max }.max() ?? 1) * 1.05)
        func x(_ seconds: Double) -> Double { frame.left + seconds / xTop * (frame.width - frame.left - frame.right) }
        func y(_ joules: Double) -> Double {
            frame.height - frame.bottom - joules / yTop * (frame.height - frame.top - frame.bottom)
        }
        var svg: HTML = """
            <svg class="scatter" viewBox="0 0 \(Int(frame.width)) \(Int(frame.height))" role="img" \
            aria-label="Mean energy against mean duration per configuration, with 95 % intervals">

            """
        var tick = 0.0
        while tick <= xTop + xStep / 2 {
            svg += """
                <text class="axis" x="\(number(x(tick)))" y="\(number(frame.height - frame.bottom + 16))" \
                text-anchor="middle">\(short(tick, 3))</text>
                """
            tick += xStep
        }
        tick = 0
        while tick <= yTop + yStep / 2 {
            svg += """
                <line class="grid" x1="\(number(frame.left))" x2="\(number(frame.width - frame.right))" \
                y1="\(number(y(tick)))" y2="\(number(y(tick)))"/><text class="axis" x="\(number(frame.left - 6))" \
                y="\(number(y(tick) + 4))" text-anchor="end">\(short(tick, 3))</text>
                """
            tick += yStep
        }
        svg += """
            <text class="axis-title" x="\(number((frame.left + frame.width) / 2))" y="\(number(frame.height - 6))" \
            text-anchor="middle">mean duration (s)</text><text class="axis-title" x="12" y="14">mean energy (J)</text>

            """
        let front = points.filter { experiment.configurations[$0.0].pareto }.sorted { $0.2.mean < $1.2.mean }
        if front.count > 1 {
            let line = front.map { "\(number(x($0.2.mean))),\(number(y($0.1.mean)))" }.joined(separator: " ")
            svg += "<polyline class=\"front\" points=\"\(line)\"/>\n"
        }
        for (index, energy, time) in points {
            let optimal = experiment.configurations[index].pareto
            if let low = energy.ci95Low, let high = energy.ci95High {
                svg += """
                    <path class="ci" d="M\(number(x(time.mean))),\(number(y(low)))V\(number(y(high)))"/>
                    """
            }
            if let low = time.ci95Low, let high = time.ci95High {
                svg += """
                    <path class="ci" d="M\(number(x(low))),\(number(y(energy.mean)))H\(number(x(high)))"/>
                    """
            }
            svg += """
                <circle class="point\(optimal ? " pareto" : "")" data-configuration="\(index + 1)" \
                cx="\(number(x(time.mean)))" cy="\(number(y(energy.mean)))" r="\(optimal ? "6" : "4.5")"><title>\
                \(configurationName(experiment, index)): \(Quantity.energy(energy.mean)), \
                \(Quantity.duration(time.mean))\(optimal ? ", Pareto-optimal" : "")</title></circle>

                """
        }
        return """
            <section><h2>Energy against time</h2><figure class="half">\(svg)</svg><figcaption>Each point a configuration's \
            means, its error bars the 95 % intervals; the Pareto front (no other configuration is better on every \
            objective: \(experiment.paretoObjectives.joined(separator: ", "))) is joined.</figcaption></figure>\
            </section>

            """
    }

    static func experimentTable(_ experiment: Experiment) -> HTML {
        let hasNet = experiment.baseline != nil
        func cell(_ statistic: Experiment.Statistic?, _ format: (Double) -> String) -> String {
            guard let statistic else { return "–" }
            guard let low = statistic.ci95Low, let high = statistic.ci95High else { return format(statistic.mean) }
            return "\(format(statistic.mean)) ± \(format((high - low) / 2))"
        }
        let rows: [HTML] = experiment.configurations.enumerated().map { index, configuration in
            let net: HTML =
                hasNet ? "<td>\(cell(configuration.statistics["net_energy_joules"], Quantity.energy))</td>" : .empty
            return """
                <tr data-configuration="\(index + 1)"><td>\(configurationName(experiment, index))</td>\
                <td>\(configuration.statistics["energy_joules"]?.n ?? 0)</td>\
                <td>\(cell(configuration.statistics["energy_joules"], Quantity.energy))</td>\(net)\
                <td>\(cell(configuration.statistics["duration_seconds"], Quantity.duration))</td>\
                <td>\(cell(configuration.statistics["kg_co2e"], { Quantity.carbon($0) }))</td>\
                <td>\(configuration.pareto ? "yes" : "")</td></tr>

                """
        }
        let netHeader: HTML = hasNet ? "<th>net energy</th>" : .empty
        return """
            <section><h2>Statistics</h2><table class="statistics"><thead><tr><th>configuration</th><th>n</th>\
            <th>energy</th>\(netHeader)<th>duration</th><th>CO₂e</th><th>Pareto</th></tr></thead><tbody>
            \(rows)</tbody></table><p><small>mean ± half-width of the 95 % confidence interval (Student-t, n − 1 \
            degrees of freedom), over the measured runs\(experiment.ignoreFailure ? "" : " that succeeded").</small></p>\
            </section>

            """
    }

    static func experimentWarnings(_ experiment: Experiment) -> HTML {
        guard !experiment.warnings.isEmpty else { return .empty }
        let items: [HTML] = experiment.warnings.map { "<li>\($0)</li>" }
        return "<section><h2>Warnings</h2><ul class=\"warnings\">\(items)</ul></section>\n"
    }
}
