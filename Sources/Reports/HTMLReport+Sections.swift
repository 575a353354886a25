import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The sections of one report's page: cards, phases, metrics, domains, carbon provenance, warnings and gaps.
extension HTMLReport {
    static func cards(_ report: Report) -> HTML {
        var cards: [(id: String, label: String, value: String, detail: String)] = []
        let method = report.energy.method
        if let joules = report.energy.joules {
            cards.append(
                (
                    "energy", "Energy", Quantity.energy(joules),
                    "\(Quantity.significant(joules / 3_600_000, 3)) kWh, \(method == "estimated" ? "ESTIMATED" : method)"
                ))
        } else {
            cards.append(("energy", "Energy", "not measured", "nothing could be read; see the notes below"))
        }
        let carbon = report.carbon
        cards.append(
            (
                "carbon", "Carbon", carbon.kgCo2e.map { Quantity.carbon($0) + " CO₂e" } ?? "not measured",
                "at \(Quantity.significant(carbon.intensityGPerKwh, 3)) g/kWh, PUE \(Quantity.fixed(carbon.pue, 2))"
            ))
        if let cost = carbon.cost {
            cards.append(
                (
                    "cost", "Cost", "\(Quantity.significant(cost.amount, 3)) \(cost.currency)",
                    "at \(Quantity.significant(cost.pricePerKwh, 3)) \(cost.currency)/kWh"
                ))
        } else {
            cards.append(("cost", "Cost", "no price", "give --price or [impact] price to see it"))
        }
        cards.append(("duration", "Duration", Quantity.duration(report.durationSeconds), "first to last sample"))
        cards.append(
            (
                "mean-power", "Mean power", report.power.meanWatts.map(Quantity.power) ?? "not measured",
                "counted energy ÷ duration"
            ))
        let peakDetail =
            report.power.peakWatts != nil
            ? "highest sampling interval"
            : "no clean sampling interval observed"
        cards.append(
            ("peak-power", "Peak power", report.power.peakWatts.map(Quantity.power) ?? "not observed", peakDetail))
        let items: [HTML] = cards.map { card in
            """
            <div class="card" data-card="\(card.id)"><span class="card-label">\(card.label)</span>\
            <span class="card-value">\(card.value)</span>\
            <span class="card-detail">\(card.detail)</span></div>

            """
        }
        return "<section class=\"cards\" aria-label=\"Totals\">\n\(items)</section>\n"
    }

    static func phaseSection(_ report: Report) -> HTML {
        guard !report.phases.isEmpty || !report.phaseTotals.isEmpty else { return .empty }
        let total = report.energy.joules
        func share(_ joules: Double?) -> String {
            guard let joules, let total, total > 0 else { return "–" }
            return Quantity.fixed(joules / total * 100, 1) + " %"
        }
        let rows: [HTML] = report.phases.map { phase in
            let open: HTML = phase.closedAtJobEnd ? " <small>(open at end)</small>" : .empty
            return """
                <tr data-phase="\(phase.name)"><td>\(phase.name)\(open)</td>\
                <td>\(phase.parent ?? "")</td>\
                <td>\(Quantity.fixed(phase.startedAt.timeIntervalSince(report.startedAt), 3))</td>\
                <td>\(Quantity.duration(phase.seconds))</td><td>\(phase.joules.map(Quantity.energy) ?? "not measured")</td>\
                <td>\(share(phase.joules))</td><td>\(phase.meanWatts.map(Quantity.power) ?? "–")</td>\
                <td>\(phase.kgCo2e.map(Quantity.carbon) ?? "–")</td>\
                <td>\(perUnit(phase.joulesPerUnit, phase.unit))</td></tr>

                """
        }
        var parts: [HTML] = [
            """
            <section><h2>Phases</h2><table class="phases"><thead><tr><th>phase</th><th>within</th><th>start (s)</th>\
            <th>time</th><th>energy</th><th>share</th><th>mean power</th><th>CO₂e</th><th>per unit</th></tr></thead><tbody>
            \(rows)</tbody></table>

            """
        ]
        let repeated = report.phaseTotals.filter { $0.count > 1 }
        if !repeated.isEmpty {
            let rows: [HTML] = repeated.map { total in
                """
                <tr><td>\(total.name)</td><td>\(total.count)</td><td>\(Quantity.duration(total.seconds))</td>\
                <td>\(total.joules.map(Quantity.energy) ?? "not measured")</td>\
                <td>\(total.meanJoules.map(Quantity.energy) ?? "–")</td><td>\(total.minJoules.map(Quantity.energy) ?? "–")</td>\
                <td>\(total.maxJoules.map(Quantity.energy) ?? "–")</td>\
                <td>\(total.units.map { Quantity.significant($0, 6) } ?? "–") \(total.unit ?? "")</td>\
                <td>\(perUnit(total.joulesPerUnit, total.unit))</td></tr>

                """
            }
            parts.append(
                """
                <h3>Repeated phases</h3><table class="phase-totals"><thead><tr><th>phase</th><th>count</th><th>time</th>\
                <th>energy</th><th>mean</th><th>min</th><th>max</th><th>units</th><th>per unit</th></tr></thead><tbody>
                \(rows)</tbody></table>

                """)
        }
        if let outside = report.unphasedJoules {
            parts.append("<p>Outside every top-level phase: \(Quantity.energy(outside)) (\(share(outside))).</p>\n")
        }
        if !report.events.isEmpty {
            let events = report.events.prefix(50).map {
                "\($0.name) at \(Quantity.fixed($0.at.timeIntervalSince(report.startedAt), 3)) s"
            }
            parts.append(
                "<p>Events: \(events.joined(separator: ", "))\(report.events.count > 50 ? ", …" : "").</p>\n")
        }
        return "\(parts)</section>\n"
    }

    /// A watched or attached server: what it served and what each unit cost, with the SCI's parts.
    static func unitsSection(_ report: Report) -> HTML {
        guard let units = report.units else { return .empty }
        let unit = units.unit
        func per(_ value: Double?, _ scale: Double, _ suffix: String) -> String {
            value.map { "\(Quantity.significant($0 * scale, 4)) \(suffix)/\(unit)" } ?? "-"
        }
        var rows: [(String, HTML)] = [
            (
                "\(unit)s served",
                "\(units.count.map { Quantity.fixed($0, 0) } ?? "not counted") <small>(\(units.source))</small>"
            ),
            (
                "the server's energy",
                "\(units.joules.map(Quantity.energy) ?? "not measured") <small>(\(units.energyBasis))</small>"
            ),
            ("energy per \(unit)", "\(per(units.joulesPerUnit, 1, "J"))"),
            ("carbon per \(unit)", "\(per(units.kgCo2ePerUnit, 1000, "g CO₂e"))"),
        ]
        if let sci = units.sci {
            let embodied = sci.embodiedKgCo2e.map { Quantity.carbon($0) } ?? "not configured"
            rows.append(
                (
                    "SCI (ISO/IEC 21031)",
                    "\(Quantity.significant(sci.gramsPerUnit, 4)) g CO₂e/\(unit) <small>= (E·I \(Quantity.carbon(sci.operationalKgCo2e)) "
                        + "+ M \(embodied)) / R \(Quantity.fixed(sci.units, 0)); resource share "
                        + "\(Quantity.significant(sci.resourceShare, 3))</small>"
                ))
        }
        if let litres = units.waterLitres {
            rows.append(("water", "\(Quantity.significant(litres, 4)) L (\(per(units.waterLitresPerUnit, 1, "L")))"))
        }
        for missing in units.missing { rows.append(("missing", "\(missing)")) }
        let table: [HTML] = rows.map { "<tr><th>\($0.0)</th><td>\($0.1)</td></tr>" }
        return
            "<section><h2>Per unit of work</h2><table class=\"provenance\"><tbody>\(table)</tbody></table></section>\n"
    }

    static func metricsSection(_ report: Report) -> HTML {
        guard let metrics = report.metrics, !metrics.isEmpty else { return .empty }
        let rows: [HTML] = metrics.sorted(by: { $0.key < $1.key }).map { name, value in
            "<tr><th>\(name)</th><td>\(short(value, 6))</td></tr>"
        }
        return "<section><h2>Quality metrics</h2><table><tbody>\(rows)</tbody></table></section>\n"
    }

    static func domainSection(_ report: Report) -> HTML {
        let rows: [HTML] = report.energy.domains.map { domain in
            """
            <tr class="\(domain.counted ? "counted" : "beside")"><td>\(domain.name)</td>\
            <td><code>\(domain.id)</code></td><td>\(domain.kind)</td>\
            <td>\(domain.joules.map(Quantity.energy) ?? "not measured")</td>\
            <td>\(domain.counted ? "counted" : "not counted")</td><td>\(domain.note)</td>\
            <td>\(domain.method)</td></tr>

            """
        }
        return """
            <section><h2>Domains</h2><table class="domains"><thead><tr><th>domain</th><th>id</th><th>kind</th>\
            <th>energy</th><th>counted</th><th>why</th><th>method</th></tr></thead><tbody>
            \(rows)</tbody></table></section>

            """
    }

    static func carbonSection(_ report: Report) -> HTML {
        let carbon = report.carbon
        var rows: [(String, HTML)] = [
            ("emissions", "\(carbon.kgCo2e.map { Quantity.carbon($0) + " CO₂e" } ?? "not measured")"),
            ("grid intensity", "\(Quantity.significant(carbon.intensityGPerKwh, 4)) g CO₂e/kWh"),
            ("source", "\(carbon.intensitySource)"),
            ("basis", "\(carbon.intensityBasis)"),
            ("chosen by", "\(carbon.resolvedFrom)"),
            ("PUE", "\(Quantity.fixed(carbon.pue, 2))"),
        ]
        if let region = carbon.region {
            let name: HTML = carbon.regionName.map { " → \($0)" } ?? .empty
            let via: HTML = carbon.regionVia.map { " (\($0))" } ?? .empty
            rows.insert(("region", "\(region)\(name)\(via)"), at: 2)
        }
        if let kwh = carbon.kwhAtMeter { rows.append(("energy at the meter", "\(Quantity.significant(kwh, 4)) kWh")) }
        if let kwh = carbon.kwhFacility { rows.append(("energy × PUE", "\(Quantity.significant(kwh, 4)) kWh")) }
        for equivalent in carbon.equivalents.prefix(3) {
            rows.append(
                (
                    "≈",
                    "\(Quantity.significant(equivalent.quantity, 3)) \(equivalent.item) "
                        + "<small>(\(equivalent.source))</small>"
                ))
        }
        let table: [HTML] = rows.map { "<tr><th>\($0.0)</th><td>\($0.1)</td></tr>" }
        return """
            <section><h2>Where the carbon figure comes from</h2><table class="provenance"><tbody>\(table)\
            </tbody></table></section>

            """
    }

    static func notesSection(_ report: Report) -> HTML {
        var parts: [HTML] = []
        if !report.warnings.isEmpty {
            let items: [HTML] = report.warnings.map { "<li>\($0)</li>" }
            parts.append("<section><h2>Warnings</h2><ul class=\"warnings\">\(items)</ul></section>\n")
        }
        if let gaps = report.gaps, !gaps.isEmpty {
            let items: [HTML] = gaps.map {
                """
                <li>\(timestamp($0.from)) to \(timestamp($0.to)) (\(Quantity.duration($0.seconds))): recovered \
                \($0.recovered.joined(separator: ", ")), missing \($0.missing.joined(separator: ", "))</li>
                """
            }
            parts.append("<section><h2>Gaps</h2><ul class=\"gaps\">\(items)</ul></section>\n")
        }
        return "\(parts)"
    }
}
