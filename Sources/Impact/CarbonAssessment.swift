import SustainCore

/// Where the grid intensity of an assessment came from, first that applies: a given intensity, a region, the
/// configuration file, or the world average.
public enum IntensityOrigin: String, Sendable, Codable, Hashable {
    case intensityFlag = "--intensity"
    case regionFlag = "--region"
    case configuration = "config"
    case worldAverage = "default (world average)"
}

/// The inputs of a carbon assessment, validated.
public struct CarbonSettings: Sendable, Hashable {
    public var intensity: CarbonIntensity
    /// The dataset and year, or "given with --intensity".
    public var intensitySource: String
    public var origin: IntensityOrigin
    /// What the intensity was resolved from: the region as given, its grid, or nil for a given intensity.
    public var region: ResolvedRegion?
    public var pue: PowerUsageEffectiveness
    public var price: ElectricityPrice?

    /// A grid intensity given directly (gCO2e/kWh), with its basis.
    public static func given(
        gramsPerKilowattHour: Double, basis: IntensityBasis, pue: PowerUsageEffectiveness = .measuredMachine,
        price: ElectricityPrice? = nil
    ) throws(ImpactError) -> CarbonSettings {
        guard gramsPerKilowattHour.isFinite, gramsPerKilowattHour >= 0, gramsPerKilowattHour <= 2000 else {
            throw .invalidValue(
                field: "intensity", value: gramsPerKilowattHour,
                expected: "gCO2e per kWh from 0 to 2000 (world average about 473)")
        }
        return CarbonSettings(
            intensity: CarbonIntensity(gramsPerKilowattHour: gramsPerKilowattHour, basis: basis),
            intensitySource: "given with --intensity", origin: .intensityFlag, region: nil, pue: pue, price: price)
    }

    /// The intensity of a region from the dataset.
    public static func region(
        _ region: ResolvedRegion, origin: IntensityOrigin = .regionFlag,
        pue: PowerUsageEffectiveness = .measuredMachine, price: ElectricityPrice? = nil
    ) -> CarbonSettings {
        CarbonSettings(
            intensity: region.factor.intensity, intensitySource: region.factor.sourceAndYear, origin: origin,
            region: region, pue: pue, price: price)
    }

    /// The world average from `dataset`, or from the bundled data's world row alone (read without parsing the
    /// whole table: this is the default of every run).
    public static func worldAverage(
        _ dataset: GridDataset? = nil, pue: PowerUsageEffectiveness = .measuredMachine,
        price: ElectricityPrice? = nil
    ) -> CarbonSettings {
        let world = ResolvedRegion(requested: "WORLD", factor: dataset?.world ?? GridDataset.bundledWorld, via: nil)
        return .region(world, origin: .worldAverage, pue: pue, price: price)
    }
}

/// The carbon, cost and equivalents of an amount of energy: EI = E × PUE × intensity.
public struct CarbonAssessment: Sendable, Hashable {
    public var settings: CarbonSettings
    /// Energy measured at the machine; nil when nothing was measured.
    public var atMeter: KilowattHours?
    /// × PUE.
    public var facility: KilowattHours?
    public var emissions: CarbonMass?
    /// In `settings.price.currency`; nil when no price is known or nothing was measured.
    public var cost: Double?
    public var equivalents: [Equivalent]

    public init(energy: Joules?, settings: CarbonSettings) {
        let atMeter = energy.map(KilowattHours.init)
        let facility = atMeter.map(settings.pue.facility)
        let emissions = facility.map(settings.intensity.emissions(of:))
        self.settings = settings
        self.atMeter = atMeter
        self.facility = facility
        self.emissions = emissions
        cost = settings.price.flatMap { price in facility.map(price.cost(of:)) }
        equivalents = emissions.map(EquivalenceFactors.equivalents(of:)) ?? []
    }
}
