import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Report {
    /// One report for a job that ran on several nodes: `nodes[]` with each node's energy and carbon (at its own
    /// region's intensity), `energy.joules` and `carbon.kg_co2e` their sums. The same host and job given twice is
    /// counted once and said; with `expected` (the job's node list, expanded), the nodes that sent nothing are named
    /// in `missing_nodes` and the total is said to be incomplete. Nothing measured on a node is never taken as 0 J.
    public static func merge(_ reports: [Report], expected: [String]? = nil) -> Report? {
        guard var merged = reports.first else { return nil }
        var warnings: [String] = []
        var parts: [Report] = []
        var seen: [String: Report] = [:]
        for report in reports {
            let key = report.host.hostname + "\u{0}" + report.id
            if let first = seen[key] {
                let same = first.energy.joules == report.energy.joules && first.endedAt == report.endedAt
                warnings.append(
                    same
                        ? "\(report.host.hostname)'s report \(report.id) was given more than once: counted once."
                        : "CONFLICT: \(report.host.hostname)'s report \(report.id) was given twice with different "
                            + "contents (\(first.energy.joules.map { "\($0) J" } ?? "no energy") and "
                            + "\(report.energy.joules.map { "\($0) J" } ?? "no energy")): the first given is counted; "
                            + "check which file is right.")
            } else {
                seen[key] = report
                parts.append(report)
            }
        }
        let hosts = Set(parts.map(\.host.hostname))
        for host in hosts where parts.count(where: { $0.host.hostname == host }) > 1 {
            warnings.append(
                "\(host) sent more than one report (different jobs on one node): each is counted; check that they "
                    + "are different parts of the job, not the same energy twice.")
        }
        let measured = parts.compactMap(\.energy.joules)
        for report in parts where report.energy.joules == nil {
            warnings.append("\(report.host.hostname) measured nothing: its energy is not in the total (not 0 J).")
        }
        var missing: [String]?
        if let expected {
            let absent = expected.filter { !hosts.contains($0) }
            missing = absent
            if !absent.isEmpty {
                warnings.append(
                    "INCOMPLETE: \(absent.count) of the job's \(expected.count) nodes sent no report "
                        + "(\(absent.prefix(20).joined(separator: ", "))\(absent.count > 20 ? ", …" : "")): the total "
                        + "covers the others only.")
            }
        }
        let started = parts.map(\.startedAt).min() ?? merged.startedAt
        let ended = parts.map(\.endedAt).max() ?? merged.endedAt
        let joules = measured.isEmpty ? nil : measured.reduce(0, +)
        let kilograms = parts.compactMap(\.carbon.kgCo2e)
        merged.id = "merged-" + Report.newID()
        merged.startedAt = started
        merged.endedAt = ended
        merged.durationSeconds = ended.timeIntervalSince(started)
        merged.energy.joules = joules
        merged.energy.domains = parts.flatMap { report in
            report.energy.domains.map { domain in
                var domain = domain
                domain.id = report.host.hostname + "/" + domain.id
                return domain
            }
        }
        merged.power = Power(
            meanWatts: joules.flatMap { merged.durationSeconds > 0 ? $0 / merged.durationSeconds : nil },
            peakWatts: nil)
        merged.carbon.kgCo2e = kilograms.isEmpty ? nil : kilograms.reduce(0, +)
        let kWh = (joules ?? 0) / 3_600_000 * merged.carbon.pue
        merged.carbon.intensityGPerKwh = kWh > 0 ? (merged.carbon.kgCo2e ?? 0) * 1000 / kWh : 0
        merged.carbon.intensitySource = "each node's own (nodes[]); this is their energy-weighted mean"
        merged.carbon.region = nil
        merged.carbon.regionCode = nil
        merged.carbon.regionName = nil
        merged.carbon.regionVia = nil
        merged.carbon.resolvedFrom = "per node"
        merged.carbon.kwhAtMeter = joules.map { $0 / 3_600_000 }
        merged.carbon.kwhFacility = parts.compactMap(\.carbon.kwhFacility).reduce(0, +)
        merged.carbon.cost = nil
        merged.carbon.equivalents = []
        merged.carbon.attributedKgCo2e = nil
        merged.labels = parts.dropFirst().reduce(merged.labels) { common, report in
            common.filter { report.labels[$0.key] == $0.value }
        }
        merged.nodes = parts.map { report in
            Node(
                host: report.host.hostname, id: report.id, joules: report.energy.joules,
                domains: Dictionary(
                    report.energy.domains.filter(\.counted).compactMap { domain in domain.joules.map { (domain.id, $0) }
                    },
                    uniquingKeysWith: +),
                region: report.carbon.regionCode ?? report.carbon.region, kgCo2e: report.carbon.kgCo2e,
                intensityGPerKwh: report.carbon.intensityGPerKwh, startedAt: report.startedAt, endedAt: report.endedAt)
        }
        merged.missingNodes = missing
        merged.phases = []
        merged.events = []
        merged.phaseTotals = []
        merged.unphasedJoules = nil
        merged.timeline = nil
        merged.attribution = nil
        merged.gaps = nil
        merged.temperatures = []
        merged.warnings =
            warnings
            + parts.flatMap { report in report.warnings.map { "\(report.host.hostname): \($0)" } }
        return merged
    }
}
