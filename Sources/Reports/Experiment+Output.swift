import LinuxSupport
import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Experiment {
    /// Pretty, key-sorted JSON with ISO 8601 UTC dates to the millisecond, as reports are written.
    public func jsonData() throws -> Data {
        var data = try Report.fileEncoder().encode(self)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// Reads an experiment file; a report file is not one (its schema says so).
    public static func decode(_ data: Data) throws -> Experiment {
        let experiment = try Report.fileDecoder().decode(Experiment.self, from: data)
        guard experiment.schema == schemaName else {
            throw ReportError("not a \(schemaName) file (schema \(experiment.schema.prefix(40)))")
        }
        return experiment
    }

    /// Writes the experiment atomically and privately (0600), creating missing directories.
    public func write(to path: String) throws {
        do {
            let destination = try SafeFile.Destination(path, createDirectories: true)
            try destination.replace(with: Array(try jsonData()), mode: 0o600)
        } catch {
            throw ReportError("Cannot write the experiment to \(path): \(error). Choose another --report path.")
        }
    }

    /// What a person reads at the end: each configuration's energy (gross, and net with a baseline), duration and
    /// carbon as mean ± the 95 % interval's half-width, the warnings, and where the file is.
    public func summary(path: String) -> String {
        var lines = ["", "sustain experiment \(id): \(configurations.count) configuration(s), \(repeats) run(s) each"]
        if let baseline {
            lines.append(
                "  idle baseline: \(Quantity.power(baseline.before.watts)) over \(Quantity.duration(baseline.before.seconds))"
                    + (baseline.after.map { ", \(Quantity.power($0.watts)) after the runs" } ?? ""))
        }
        func figure(_ statistic: Statistic?, _ format: (Double) -> String) -> String {
            guard let statistic else { return "not measured" }
            guard let low = statistic.ci95Low, let high = statistic.ci95High else {
                return "\(format(statistic.mean)) (one run)"
            }
            return "\(format(statistic.mean)) ± \(format((high - low) / 2)) (95 % CI, n = \(statistic.n))"
        }
        for (index, configuration) in configurations.enumerated() {
            let parameters = configuration.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            lines.append(
                "  \(index + 1)\(parameters.isEmpty ? "" : " " + parameters.joined(separator: " "))"
                    + (configuration.pareto ? "  [Pareto front]" : ""))
            lines.append("      energy (gross)  \(figure(configuration.statistics["energy_joules"], Quantity.energy))")
            if baseline != nil {
                lines.append(
                    "      energy (net)    \(figure(configuration.statistics["net_energy_joules"], Quantity.energy))")
            }
            lines.append(
                "      duration        \(figure(configuration.statistics["duration_seconds"], Quantity.duration))")
            lines.append(
                "      CO2e            \(figure(configuration.statistics["kg_co2e"], { Quantity.carbon($0) }))")
        }
        for warning in warnings { lines.append("  WARNING: \(warning)") }
        lines.append("  experiment: \(path)")
        return lines.joined(separator: "\n") + "\n"
    }
}
