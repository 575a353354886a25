/// Numbers as people read them: fixed decimals, units that fit the size.
public enum Quantity {
    /// `value` with `digits` decimals, without Foundation's locale machinery.
    public static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let negative = value < 0
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e18 else { return scientific(value, 3) }
        let whole = (scaled / scale).rounded(.down)
        var text = String(Int64(whole))
        if digits > 0 {
            let fraction = String(Int64(scaled - whole * scale))
            text += "." + String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
        }
        return negative && scaled > 0 ? "-" + text : text
    }

    /// `value` in exponent form with `digits` significant digits: `8.40e22`.
    public static func scientific(_ value: Double, _ digits: Int = 3) -> String {
        guard value.isFinite, value != 0 else { return "\(value)" }
        var exponent = 0
        var mantissa = abs(value)
        while mantissa >= 10 {
            mantissa /= 10
            exponent += 1
        }
        while mantissa < 1 {
            mantissa *= 10
            exponent -= 1
        }
        return (value < 0 ? "-" : "") + fixed(mantissa, max(0, digits - 1)) + "e\(exponent)"
    }

    /// `value` with about `digits` significant digits: `0.0000141`, `12.3`, `1234`; exponent form from 1e15 up.
    public static func significant(_ value: Double, _ digits: Int = 3) -> String {
        guard value.isFinite, value != 0 else { return fixed(value, 0) }
        if abs(value) >= 1e15 { return scientific(value, digits) }
        var magnitude = 0
        var scaled = abs(value)
        while scaled < 1 && magnitude < 12 {
            scaled *= 10
            magnitude += 1
        }
        while scaled >= 10 && magnitude > -12 {
            scaled /= 10
            magnitude -= 1
        }
        return fixed(value, max(0, magnitude + digits - 1))
    }

    /// Joules with a prefix that fits: `812.4 J`, `12.35 kJ`, `3.210 MJ`.
    public static func energy(_ joules: Double) -> String {
        switch abs(joules) {
        case ..<1: fixed(joules, 3) + " J"
        case ..<10_000: fixed(joules, 1) + " J"
        case ..<10_000_000: fixed(joules / 1000, 2) + " kJ"
        case ..<10_000_000_000: fixed(joules / 1_000_000, 3) + " MJ"
        case ..<10_000_000_000_000: fixed(joules / 1e9, 3) + " GJ"
        default: fixed(joules / 1e12, 3) + " TJ"
        }
    }

    /// A CO2e mass from kilograms: `812 mg`, `12.4 g`, `3.21 kg`, `1.234 t`.
    public static func carbon(_ kilograms: Double) -> String {
        switch abs(kilograms) {
        case ..<0.001: fixed(kilograms * 1_000_000, 1) + " mg"
        case ..<1: fixed(kilograms * 1000, 2) + " g"
        case ..<1000: fixed(kilograms, 3) + " kg"
        default: fixed(kilograms / 1000, 3) + " t"
        }
    }

    public static func power(_ watts: Double) -> String { fixed(watts, watts < 10 ? 2 : 1) + " W" }

    public static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return fixed(seconds, seconds < 10 ? 3 : 1) + " s" }
        if seconds >= 86_400 * 2 { return fixed(seconds / 86_400, 1) + " days" }
        let total = Int(seconds.rounded())
        let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60)
        return h > 0 ? "\(h) h \(m) min \(s) s" : "\(m) min \(s) s"
    }
}

extension Report {
    /// The short human summary printed on stderr at the end of a job.
    /// Warnings in `alreadyShown` were printed when the job started and are not repeated.
    public func summary(reportPath: String?, alreadyShown: Set<String> = []) -> String {
        var lines: [String] = []
        let commandText = command.joined(separator: " ").escapingControlCharacters
        let outcome: String
        if watched != nil {
            outcome = "was measured"  // a running server: no exit
        } else if let signal {
            outcome = "was killed by signal \(signal) (exit \(128 + signal))"
        } else {
            outcome = "exited \(exitCode.map(String.init) ?? "?")"
        }
        lines.append(
            "sustain: `\(commandText)` \(outcome) \(watched == nil ? "after" : "for") \(Quantity.duration(durationSeconds))"
                + (interrupted ? " (interrupted: \(signalsReceived.joined(separator: ", ")))" : ""))
        if let joules = energy.joules {
            let counted = energy.domains.filter(\.counted).map { domain in
                "\(displayName(domain)) \(domain.joules.map(Quantity.energy) ?? "not measured")"
            }
            lines.append(
                "  energy  \(Quantity.energy(joules)) \(energy.method == "measured" ? "measured" : "ESTIMATED, not measured") "
                    + "(\(Quantity.significant(joules / 3_600_000)) kWh) = "
                    + counted.joined(separator: " + "))
            var powerLine = "  power   mean \(power.meanWatts.map(Quantity.power) ?? "n/a")"
            if let peak = power.peakWatts { powerLine += ", peak \(Quantity.power(peak))" }
            lines.append(powerLine)
            if let sparkline = timeline?.sparkline() {
                lines.append("  curve   \(sparkline.line)  \(sparkline.legend)")
            }
            let shown = energy.domains.filter { !$0.counted && $0.joules != nil }
            if !shown.isEmpty {
                lines.append(
                    "  beside  "
                        + shown.map { "\(displayName($0)) \(Quantity.energy($0.joules ?? 0))" }
                        .joined(separator: ", ")
                        + " (not added: see notes in the report)")
            }
        } else {
            lines.append("  energy  not measured (energy.method \"none\")")
        }
        lines.append(carbonLine())
        lines += unitsLines()
        lines += powerLines()
        lines += phaseTable()
        for warning in warnings where !alreadyShown.contains(warning) { lines.append("  warning: \(warning)") }
        if let reportPath { lines.append("  report  \(reportPath)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A watched or attached server's units of work and their cost.
    func unitsLines() -> [String] {
        guard let units else { return [] }
        let unit = units.unit.escapingControlCharacters
        guard let count = units.count else {
            return ["  units   not counted: " + (units.missing.first ?? "no reason given").escapingControlCharacters]
        }
        var parts = ["\(Quantity.fixed(count, 0)) \(unit)s"]
        if let joules = units.joules {
            parts.append("server \(Quantity.energy(joules)) (\(units.energyBasis))")
        }
        if let perUnit = units.joulesPerUnit { parts.append("\(Quantity.significant(perUnit)) J/\(unit)") }
        if let kilograms = units.kgCo2ePerUnit {
            parts.append("\(Quantity.significant(kilograms * 1000)) g CO2e/\(unit)")
        }
        if let sci = units.sci {
            parts.append(
                "SCI \(Quantity.significant(sci.gramsPerUnit)) g/\(unit)"
                    + (sci.embodiedKgCo2e == nil ? " (operational only)" : " (with embodied)"))
        }
        return ["  units   " + parts.joined(separator: ", ")]
    }

    /// The power limits set for the job and what the tuner chose.
    func powerLines() -> [String] {
        var lines: [String] = []
        let held = (powerControl ?? []).filter { $0.requestedBy.hasSuffix(" tuner") == false }
        if !held.isEmpty {
            let devices = held.map { "\($0.device) \(Quantity.power($0.appliedWatts))" }.joined(separator: ", ")
            let back = held.allSatisfy { $0.restoredAt != nil || $0.leftAtWatts != nil }
            lines.append(
                "  limits  \(devices)" + (back ? ", put back after" : ", NOT ALL PUT BACK: see power_control"))
        }
        if let tuning = powerTuning {
            if let choice = tuning.choiceWatts {
                func signed(_ fraction: Double) -> String {
                    (fraction < 0 ? "−" : "+") + Quantity.fixed(abs(fraction) * 100, 1) + " %"
                }
                let energy = tuning.predictedEnergySaving.map { "energy " + signed(-$0) }
                let time = tuning.predictedSlowdown.map { "time " + signed($0) }
                lines.append(
                    "  tuned   \(tuning.device) limit \(Quantity.power(choice)) by \(tuning.objective) over "
                        + "\(tuning.candidates.count) candidates (\(tuning.stepsSeen) steps): per step "
                        + [energy, time].compactMap { $0 }.joined(separator: ", ")
                        + " against \(tuning.originalWatts.map(Quantity.power) ?? "the original limit")")
            } else {
                lines.append("  tuned   not: \(tuning.reason ?? tuning.state)")
            }
        }
        return lines
    }

    /// The phases as a table (nested names indented; a name repeated more than three times as one totals row):
    /// name, time, energy, share of the job, energy per unit.
    func phaseTable() -> [String] {
        guard !phases.isEmpty else { return [] }
        let total = energy.joules
        var rows: [[String]] = [["phase", "time", "energy", "share", "per unit"]]
        func share(_ joules: Double?) -> String {
            guard let joules, let total, total > 0 else { return "-" }
            return "\(Quantity.fixed(joules / total * 100, 1)) %"
        }
        func perUnit(_ value: Double?, _ unit: String?) -> String {
            value.map { "\(Quantity.energy($0))/\(unit ?? "unit")" } ?? "-"
        }
        let repeated = Dictionary(
            phaseTotals.filter { $0.count > 3 }.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var depth: [String: Int] = [:]
        var shown: Set<String> = []
        // In the order the phases began; a repeated name is one totals row where it first began.
        for phase in phases {
            let level = phase.parent.map { (depth[$0] ?? 0) + 1 } ?? 0
            depth[phase.name] = level
            let indent = String(repeating: "  ", count: level)
            let name = phase.name.escapingControlCharacters.excerpt(40)
            if let total = repeated[phase.name] {
                guard shown.insert(phase.name).inserted else { continue }
                rows.append([
                    indent + "\(name) ×\(total.count)", Quantity.duration(total.seconds),
                    total.joules.map(Quantity.energy) ?? "not measured", share(total.joules),
                    perUnit(total.joulesPerUnit, total.unit),
                ])
            } else {
                rows.append([
                    indent + name + (phase.closedAtJobEnd ? " (open at end)" : ""),
                    Quantity.duration(phase.seconds), phase.joules.map(Quantity.energy) ?? "not measured",
                    share(phase.joules), perUnit(phase.joulesPerUnit, phase.unit),
                ])
            }
        }
        // Names beyond the listed phases (the cap) appear only in the totals.
        for total in phaseTotals where repeated[total.name] != nil && !shown.contains(total.name) {
            rows.append([
                "\(total.name.escapingControlCharacters.excerpt(40)) ×\(total.count)", Quantity.duration(total.seconds),
                total.joules.map(Quantity.energy) ?? "not measured", share(total.joules),
                perUnit(total.joulesPerUnit, total.unit),
            ])
        }
        if let outside = unphasedJoules {
            rows.append(["(outside phases)", "", Quantity.energy(outside), share(outside), ""])
        }
        let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            "  "
                + row.enumerated().map { $1 + String(repeating: " ", count: widths[$0] - $1.count) }
                .joined(separator: "  ")
        }
    }

    /// "carbon  12.3 g CO2e at 44 g/kWh (FR, Ember …, lifecycle), PUE 1.0 · cost 0.0012 EUR · ≈ 0.05 km by car".
    func carbonLine() -> String {
        var grid =
            "\(Quantity.fixed(carbon.intensityGPerKwh, 1)) g/kWh (\(carbon.regionCode ?? "given"), "
            + "\(carbon.intensityBasis), \(carbon.resolvedFrom))"
        if let series = carbon.intensitySeries, let coverage = series.coverage, series.usedForTotal {
            let source = "hourly series \(series.provider) \(series.zone)"
            grid =
                "\(Quantity.fixed(carbon.intensityGPerKwh, 1)) g/kWh energy-weighted ("
                + (coverage >= 0.999_999
                    ? source
                    : "\(source) for \(Self.percent(coverage)) of the energy, \(carbon.regionCode ?? "given") yearly for the rest")
                + ", \(carbon.intensityBasis))"
        }
        guard let kilograms = carbon.kgCo2e else { return "  carbon  not computed: no energy measured; grid \(grid)" }
        var line = "  carbon  \(Quantity.carbon(kilograms)) CO2e at \(grid), PUE \(Quantity.fixed(carbon.pue, 2))"
        if let cost = carbon.cost { line += "; cost \(Quantity.significant(cost.amount)) \(cost.currency)" }
        if let car = carbon.equivalents.first { line += "; ≈ \(Quantity.significant(car.quantity)) \(car.item)" }
        return line
    }

    /// A domain's name for people: the zone name when it is unique in the report, else with its id; for hwmon,
    /// the chip and the label.
    func displayName(_ domain: Domain) -> String {
        if domain.source == "hwmon" {
            let chip = domain.id.split(separator: "/").first.map(String.init) ?? domain.id
            return "\(chip) \(domain.name)"
        }
        let sameName = energy.domains.filter { $0.name == domain.name }.count
        return sameName > 1 ? "\(domain.name) [\(domain.id)]" : domain.name
    }
}
