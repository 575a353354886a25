import Impact
import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An estimate as JSON, schema `sustain.estimate.v1`: the workload, time, energy, carbon and every assumption.
public struct EstimateReport: Codable, Sendable, Equatable {
    public static let schemaVersion = "sustain.estimate.v1"

    public var schema: String
    /// "train" | "deploy".
    public var kind: String
    public var formula: String
    public var flops: Double
    public var seconds: Double
    /// Energy at the devices (or as calibrated), before PUE.
    public var joules: Double
    /// Always "estimated": nothing here was measured.
    public var method: String
    public var carbon: Report.Carbon
    public var assumptions: [Assumption]

    public struct Assumption: Codable, Sendable, Equatable {
        public var name: String
        public var value: String
        public var note: String

        public init(name: String, value: String, note: String) {
            self.name = name
            self.value = value
            self.note = note
        }
    }

    public init(kind: String, estimate: Estimate) {
        schema = Self.schemaVersion
        self.kind = kind
        formula = estimate.workload.formula
        flops = estimate.flops.value
        seconds = estimate.seconds
        joules = estimate.energy.value
        method = "estimated"
        carbon = Report.Carbon(estimate.carbon)
        assumptions = estimate.assumptions.map { Assumption(name: $0.name, value: $0.value, note: $0.note) }
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// The human version.
    public func text() -> String {
        var lines = ["estimate (\(kind)): \(formula) = \(Quantity.significant(flops, 3)) FLOPs"]
        lines.append("  time    \(Quantity.duration(seconds))")
        let kwh = joules / 3_600_000
        var energy = "  energy  \(Quantity.energy(joules)) (\(Quantity.significant(kwh)) kWh)"
        if let facility = carbon.kwhFacility, carbon.pue != 1 {
            energy += ", \(Quantity.significant(facility)) kWh at the facility (PUE \(Quantity.fixed(carbon.pue, 2)))"
        }
        lines.append(energy + " - estimated, not measured")
        if let kilograms = carbon.kgCo2e {
            lines.append(
                "  carbon  \(Quantity.carbon(kilograms)) CO2e at \(Quantity.fixed(carbon.intensityGPerKwh, 1)) g/kWh "
                    + "(\(carbon.regionCode ?? "given"), \(carbon.intensityBasis), \(carbon.resolvedFrom))")
        }
        if let cost = carbon.cost { lines.append("  cost    \(Quantity.significant(cost.amount)) \(cost.currency)") }
        lines.append("assumptions:")
        for assumption in assumptions {
            lines.append(
                "  \(assumption.name): \(assumption.value)" + (assumption.note.isEmpty ? "" : "  (\(assumption.note))"))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
