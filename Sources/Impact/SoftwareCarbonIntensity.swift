import SustainCore

/// The machine's embodied emissions (manufacture, transport, end of life) and its expected life: a service's share
/// of them over a period is the period's share of the life (`[impact] embodied_kg_co2e`, `lifetime_years`; the
/// figures come from the vendor's product carbon footprint, e.g. Dell's or HPE's PCF sheets, or Boavizta's
/// estimates). Pure.
public struct EmbodiedEmissions: Sendable, Hashable {
    public let total: CarbonMass
    public let lifetimeSeconds: Double

    public static let secondsPerYear = 365.25 * 86_400

    /// Nil unless the mass is finite and non-negative and the life positive.
    public init?(kilograms: Double, lifetimeYears: Double) {
        guard kilograms.isFinite, kilograms >= 0, lifetimeYears.isFinite, lifetimeYears > 0 else { return nil }
        total = CarbonMass(kilograms: kilograms)
        lifetimeSeconds = lifetimeYears * Self.secondsPerYear
    }

    /// The share of `seconds` of the machine's life, times `resourceShare` (the part of the machine the software
    /// had: 1 for the whole of it).
    public func share(ofSeconds seconds: Double, resourceShare: Double = 1) -> CarbonMass {
        CarbonMass(grams: total.grams * max(0, seconds) / lifetimeSeconds * min(1, max(0, resourceShare)))
    }
}

/// The Green Software Foundation's Software Carbon Intensity (ISO/IEC 21031:2024): SCI = ((E × I) + M) per R,
/// with E the energy, I the grid's intensity, M the embodied emissions' share, R the functional units (tokens,
/// requests). Each part is kept, so a report can say how much of the score is operational and how much embodied.
public struct SoftwareCarbonIntensity: Sendable, Hashable {
    /// E × I.
    public let operational: CarbonMass
    /// M; nil when the embodied emissions are not configured (the score is then operational only, and says so).
    public let embodied: CarbonMass?
    public let units: Double

    public init(energy: KilowattHours, intensity: CarbonIntensity, embodied: CarbonMass?, units: Double) {
        operational = intensity.emissions(of: energy)
        self.embodied = embodied
        self.units = units
    }

    /// (E × I + M) / R in grams per unit; nil for no units (never a division by zero, never an infinite score).
    public var gramsPerUnit: Double? {
        guard units > 0, units.isFinite else { return nil }
        return (operational.grams + (embodied?.grams ?? 0)) / units
    }
}

/// Water drawn for the energy used: `[impact] wue_l_per_kwh` (the data centre's water usage effectiveness, litres
/// per kWh of IT energy), as CodeCarbon 3.3 reports it.
public struct WaterUsage: Sendable, Hashable {
    public let litresPerKilowattHour: Double

    public init?(litresPerKilowattHour: Double) {
        guard litresPerKilowattHour.isFinite, litresPerKilowattHour >= 0 else { return nil }
        self.litresPerKilowattHour = litresPerKilowattHour
    }

    public func litres(for energy: KilowattHours) -> Double { energy.value * litresPerKilowattHour }
}
