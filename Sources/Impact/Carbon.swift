import SustainCore

/// Electrical energy in kilowatt-hours (1 kWh = 3.6 MJ), the unit grid intensities and prices are quoted in.
public struct KilowattHours: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: Double

    @inlinable public init(_ value: Double) { self.value = value }

    /// Kilowatt-hours in `energy`.
    @inlinable public init(_ energy: Joules) { value = energy.value / 3_600_000 }

    @inlinable public var joules: Joules { Joules(value * 3_600_000) }

    @inlinable public static func < (lhs: KilowattHours, rhs: KilowattHours) -> Bool { lhs.value < rhs.value }

    public var description: String { "\(value) kWh" }
}

/// A mass of CO2-equivalent greenhouse gas.
public struct CarbonMass: Hashable, Comparable, Sendable, AdditiveArithmetic, CustomStringConvertible {
    public var grams: Double

    @inlinable public init(grams: Double) { self.grams = grams }
    @inlinable public init(kilograms: Double) { grams = kilograms * 1000 }

    @inlinable public var kilograms: Double { grams / 1000 }

    public static var zero: CarbonMass { CarbonMass(grams: 0) }
    @inlinable public static func + (lhs: CarbonMass, rhs: CarbonMass) -> CarbonMass {
        CarbonMass(grams: lhs.grams + rhs.grams)
    }
    @inlinable public static func - (lhs: CarbonMass, rhs: CarbonMass) -> CarbonMass {
        CarbonMass(grams: lhs.grams - rhs.grams)
    }
    @inlinable public static func < (lhs: CarbonMass, rhs: CarbonMass) -> Bool { lhs.grams < rhs.grams }

    public var description: String { "\(kilograms) kg CO2e" }
}

/// What a grid intensity counts. The two are never mixed silently: the basis travels with the number.
public enum IntensityBasis: String, Sendable, Codable, Hashable, CaseIterable {
    /// Combustion plus upstream and supply chain, all GHGs (Ember, IPCC lifecycle medians). Renewables are not 0.
    case lifecycle
    /// Stack emissions at the plant only (EPA eGRID, Google Cloud region data). Renewables and nuclear are 0.
    case direct
    /// The emissions of the plants that answer one more kWh of demand (WattTime's MOER): what a change in load
    /// causes, not a share of what the grid emits. Never added to an average figure.
    case marginal
}

/// Grams of CO2e emitted per kilowatt-hour of electricity, with its basis.
public struct CarbonIntensity: Hashable, Sendable {
    public var gramsPerKilowattHour: Double
    public var basis: IntensityBasis

    public init(gramsPerKilowattHour: Double, basis: IntensityBasis) {
        self.gramsPerKilowattHour = gramsPerKilowattHour
        self.basis = basis
    }

    /// The emissions of drawing `energy` from this grid. Energy enters as kWh, the unit the intensity is quoted
    /// in: joules cannot be multiplied by a per-kWh factor by mistake.
    @inlinable public func emissions(of energy: KilowattHours) -> CarbonMass {
        CarbonMass(grams: energy.value * gramsPerKilowattHour)
    }
}

/// Power usage effectiveness: facility energy ÷ IT energy, at least 1.
public struct PowerUsageEffectiveness: Hashable, Sendable {
    public let value: Double

    /// 1.0: the energy measured at the machine is all that is counted.
    public static let measuredMachine = PowerUsageEffectiveness(uncheckedValue: 1.0)

    /// Fails for NaN, infinities, values below 1 and absurd values (above 5).
    public init(_ value: Double) throws(ImpactError) {
        guard value.isFinite, value >= 1, value <= 5 else {
            throw .invalidValue(field: "pue", value: value, expected: "a number from 1.0 to 5.0 (typical: 1.1–1.6)")
        }
        self.value = value
    }

    private init(uncheckedValue: Double) { value = uncheckedValue }

    /// Facility energy for `energy` at the machine.
    public func facility(_ energy: KilowattHours) -> KilowattHours { KilowattHours(energy.value * value) }
}

/// A price per kWh in a currency; there is no default price.
public struct ElectricityPrice: Hashable, Sendable {
    public let perKilowattHour: Double
    /// ISO 4217 code, upper case (`EUR`, `USD`).
    public let currency: String

    public init(perKilowattHour: Double, currency: String) throws(ImpactError) {
        guard perKilowattHour.isFinite, perKilowattHour > 0, perKilowattHour < 100 else {
            throw .invalidValue(field: "price", value: perKilowattHour, expected: "a positive price per kWh below 100")
        }
        let code = currency.uppercased()
        guard code.count == 3, code.allSatisfy({ $0.isLetter && $0.isASCII }) else {
            throw .invalidText(field: "currency", value: currency, expected: "an ISO 4217 code such as EUR or USD")
        }
        self.perKilowattHour = perKilowattHour
        self.currency = code
    }

    public func cost(of energy: KilowattHours) -> Double { energy.value * perKilowattHour }
}
