import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The comparison of several reports: a table, bars per run, phases side by side, quality against cost.
extension HTMLReport {
    static func comparison(_ reports: [Report]) -> HTML {
        var html: HTML = "<header><h1>Comparison of \(reports.count) runs</h1></header>\n"
        let metricNames = Set(reports.flatMap { $0.metrics?.keys.map { $0 } ?? [] }).sorted()
        html += """
            <section><h2>Runs</h2><table class="runs"><thead><tr><th>run</th><th>command</th><th>started</th>\
            <th>duration</th><th>energy</th><th>CO₂e</th><th>cost</th><th>mean power</th>\
            \(metricNames.map { name -> HTML in "<th>\(name)</th>" })</tr></thead><tbody>

            """
        for (index, report) in reports.enumerated() {
            let labels = report.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            html += """
                <tr data-run="\(index + 1)"><td>\(index + 1) <small><code>\(report.id)</code></small></td>\
                <td>\(commandText(report, limit: 60))\
                \(labels.isEmpty ? HTML.empty : " <small>\(labels.joined(separator: " "))</small>")</td>\
                <td>\(timestamp(report.startedAt))</td><td>\(Quantity.duration(report.durationSeconds))</td>\
                <td>\(report.energy.joules.map(Quantity.energy) ?? "not measured")\
                \(report.energy.method == "estimated" ? " <small>(estimated)</small>" as HTML : .empty)</td>\
                <td>\(report.carbon.kgCo2e.map(Quantity.carbon) ?? "–")</td>\
                <td>\(report.carbon.cost.map { "\(Quantity.significant($0.amount, 3)) \($0.currency)" } ?? "–")</td>\
                <td>\(report.power.meanWatts.map(Quantity.power) ?? "–")</td>\
                \(metricNames.map { name -> HTML in "<td>\(report.metrics?[name].map { short($0, 6) } ?? "–")</td>" })</tr>

                """
        }
        html += "</tbody></table></section>\n"
        html += "<section><h2>Energy and carbon per run</h2><div class=\"pair\">"
        html += bars(
            reports.map { $0.energy.joules }, title: "Energy per run", unit: "J", id: "energy-bars",
            format: Quantity.energy)
        html += bars(
            reports.map { $0.carbon.kgCo2e.map { $0 * 1000 } }, title: "Carbon per run", unit: "g CO₂e",
            id: "carbon-bars", format: { Quantity.carbon($0 / 1000) })
        html += "</div></section>\n"
        html += phaseComparison(reports)
        if !metricNames.isEmpty {
            html += "<section id=\"quality\"><h2>Quality against cost</h2>\n"
            html +=
                "<p>Each point is a run; the Pareto front (no other run uses less and scores better) is marked and "
                + "joined. Metrics named like a loss, an error, perplexity or latency count as better when lower.</p>\n"
            for name in metricNames {
                let quality = reports.map { $0.metrics?[name] ?? .nan }
                html += "<div class=\"pair\">"
                let energy = reports.map { $0.energy.joules ?? .nan }
                let carbon = reports.map { $0.carbon.kgCo2e ?? .nan }
                html += scatter(
                    metric: name, quality: quality, cost: energy, costLabel: "energy",
                    axis: energyAxis(energy.filter(\.isFinite).max() ?? 0), format: Quantity.energy)
                html += scatter(
                    metric: name, quality: quality, cost: carbon, costLabel: "carbon",
                    axis: carbonAxis(carbon.filter(\.isFinite).max() ?? 0), format: { Quantity.carbon($0) + " CO₂e" })
                html += "</div>\n"
            }
            html += "</section>\n"
        }
        let warned = reports.enumerated().filter { !$0.element.warnings.isEmpty }
        if !warned.isEmpty {
            html += "<section><h2>Warnings</h2><ul class=\"warnings\">"
            for (index, report) in warned {
                html += report.warnings.map { warning -> HTML in "<li>run \(index + 1): \(warning)</li>" }.joined()
            }
            html += "</ul></section>\n"
        }
        return html
    }

    static func phaseComparison(_ reports: [Report]) -> HTML {
        var names: [String] = []
        for report in reports {
            for total in report.phaseTotals where !names.contains(total.name) { names.append(total.name) }
        }
        guard !names.isEmpty else { return .empty }
        var html: HTML = """
            <section><h2>Per phase and per unit of work</h2><table class="phase-comparison"><thead><tr><th>phase</th>\
            \((1...reports.count).map { run -> HTML in "<th>run \(run)</th>" })</tr></thead><tbody>

            """
        for name in names {
            html += "<tr><th>\(name)</th>"
            for report in reports {
                guard let total = report.phaseTotals.first(where: { $0.name == name }) else {
                    html += "<td>–</td>"
                    continue
                }
                html += "<td>\(total.joules.map(Quantity.energy) ?? "not measured")"
                if total.count > 1 { html += " <small>×\(total.count)</small>" }
                if total.joulesPerUnit != nil {
                    html += "<br><small>\(perUnit(total.joulesPerUnit, total.unit))</small>"
                }
                html += "</td>"
            }
            html += "</tr>\n"
        }
        return html + "</tbody></table></section>\n"
    }

    static func bars(
        _ values: [Double?], title: String, unit: String, id: String, format: (Double) -> String
    ) -> HTML {
        let rowHeight = 26.0
        let width = 460.0
        let left = 60.0
        let right = 110.0
        let height = Double(values.count) * rowHeight + 16
        let highest = values.compactMap { $0 }.max() ?? 0
        var svg: HTML = """
            <svg class="bars" id="\(id)" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" \
            aria-label="\(title): \(values.enumerated().map { "run \($0.offset + 1) \($0.element.map(format) ?? "not measured")" }.joined(separator: ", "))">

            """
        for (index, value) in values.enumerated() {
            let y = 8 + Double(index) * rowHeight
            svg +=
                "<text class=\"axis\" x=\"\(number(left - 8))\" y=\"\(number(y + 15))\" text-anchor=\"end\">run \(index + 1)</text>"
            if let value {
                let length = highest > 0 ? value / highest * (width - left - right) : 0
                svg += """
                    <rect class="bar" data-run="\(index + 1)" x="\(number(left))" y="\(number(y + 3))" \
                    width="\(number(max(length, 1)))" height="\(number(rowHeight - 8))"><title>run \(index + 1): \
                    \(format(value))</title></rect><text class="bar-value" x="\(number(left + length + 6))" \
                    y="\(number(y + 15))">\(format(value))</text>

                    """
            } else {
                svg +=
                    "<text class=\"bar-value\" x=\"\(number(left + 6))\" y=\"\(number(y + 15))\">not measured</text>\n"
            }
        }
        return "<figure>\(svg)</svg><figcaption>\(title) (\(unit))</figcaption></figure>"
    }

    /// The unit an axis of joules reads in: its name and its size in joules.
    static func energyAxis(_ highest: Double) -> (unit: String, scale: Double) {
        switch highest {
        case ..<10_000: ("J", 1)
        case ..<10_000_000: ("kJ", 1000)
        case ..<10_000_000_000: ("MJ", 1_000_000)
        default: ("GJ", 1e9)
        }
    }

    /// The unit an axis of kilograms of CO2e reads in.
    static func carbonAxis(_ highest: Double) -> (unit: String, scale: Double) {
        switch highest {
        case ..<0.01: ("mg CO₂e", 1e-6)
        case ..<10: ("g CO₂e", 1e-3)
        case ..<10_000: ("kg CO₂e", 1)
        default: ("t CO₂e", 1000)
        }
    }

    static func scatter(
        metric: String, quality: [Double], cost: [Double], costLabel: String, axis: (unit: String, scale: Double),
        format: (Double) -> String
    ) -> HTML {
        let higher = Pareto.higherIsBetter(metric: metric)
        let front = Pareto.front(cost: cost, quality: quality, higherIsBetter: higher)
        let points = cost.indices.filter { cost[$0].isFinite && quality[$0].isFinite }
        let frame = (width: 460.0, height: 300.0, left: 64.0, right: 28.0, top: 30.0, bottom: 44.0)
        let costs = points.map { cost[$0] / axis.scale }
        let qualities = points.map { quality[$0] }
        let (xTop, xStep) = niceScale((costs.max() ?? 1) * 1.05)
        var qLow = qualities.min() ?? 0
        var qHigh = qualities.max() ?? 1
        if qHigh - qLow < 1e-12 {
            qLow -= 0.5
            qHigh += 0.5
        }
        let pad = (qHigh - qLow) * 0.1
        qLow -= pad
        qHigh += pad
        func x(_ value: Double) -> Double {
            frame.left + value / axis.scale / xTop * (frame.width - frame.left - frame.right)
        }
        func y(_ value: Double) -> Double {
            frame.height - frame.bottom - (value - qLow) / (qHigh - qLow) * (frame.height - frame.top - frame.bottom)
        }
        let id =
            "pareto-\(costLabel)-"
            + String(
                metric.unicodeScalars.map {
                    $0.properties.isAlphabetic || ("0"..."9").contains($0) ? Character($0) : "_"
                })
        var svg: HTML = """
            <svg class="scatter" id="\(id)" data-metric="\(metric)" data-cost="\(costLabel)" \
            viewBox="0 0 \(Int(frame.width)) \(Int(frame.height))" role="img" aria-label="\(metric) against \
            \(costLabel): \(points.map { "run \($0 + 1) \(format(cost[$0])), \(Quantity.significant(quality[$0], 4))\(front.contains($0) ? " (Pareto-optimal)" : "")" }.joined(separator: "; "))">

            """
        var tick = 0.0
        while tick <= xTop + xStep / 2 {
            svg += """
                <text class="axis" x="\(number(x(tick * axis.scale)))" y="\(number(frame.height - frame.bottom + 16))" \
                text-anchor="middle">\(short(tick))</text>
                """
            tick += xStep
        }
        for step in 0...4 {
            let value = qLow + (qHigh - qLow) * Double(step) / 4
            svg += """
                <line class="grid" x1="\(number(frame.left))" x2="\(number(frame.width - frame.right))" \
                y1="\(number(y(value)))" y2="\(number(y(value)))"/><text class="axis" x="\(number(frame.left - 6))" \
                y="\(number(y(value) + 4))" text-anchor="end">\(short(value, 3))</text>
                """
        }
        svg += """
            <text class="axis-title" x="\(number((frame.left + frame.width) / 2))" y="\(number(frame.height - 6))" \
            text-anchor="middle">\(costLabel) per run (\(axis.unit)) →</text>
            <text class="axis-title" x="12" y="14">\(metric) \
            (\(higher ? "higher" : "lower") is better)</text>

            """
        let frontPoints = front.sorted { cost[$0] < cost[$1] }
        if frontPoints.count > 1 {
            svg += """
                <polyline class="front" points="\(frontPoints.map { "\(number(x(cost[$0]))),\(number(y(quality[$0])))" }.joined(separator: " "))"/>

                """
        }
        for index in points {
            let optimal = front.contains(index)
            svg += """
                <circle class="point\(optimal ? " pareto" : "")" data-run="\(index + 1)" cx="\(number(x(cost[index])))" \
                cy="\(number(y(quality[index])))" r="\(optimal ? "6" : "4.5")"><title>run \(index + 1): \
                \(format(cost[index])), \(metric) \(short(quality[index], 6))\
                \(optimal ? ", Pareto-optimal" : "")</title></circle><text class="point-label" \
                x="\(number(x(cost[index]) + 8))" y="\(number(y(quality[index]) - 6))">\(index + 1)</text>

                """
        }
        return "<figure>\(svg)</svg><figcaption>\(metric) against \(costLabel)</figcaption></figure>"
    }
}
