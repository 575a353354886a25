/// A way to picture an amount of CO2e, with the figure behind it and where the figure comes from.
public struct Equivalent: Sendable, Hashable {
    /// What is counted: "km driven by an average US passenger car".
    public var item: String
    /// How many of `item` equal the mass.
    public var quantity: Double
    /// Grams CO2e per one `item`.
    public var gramsPerItem: Double
    public var source: String
}

/// The equivalence factors sustain uses (figures from `data/sources/equivalences.csv`).
public enum EquivalenceFactors {
    struct Factor {
        var item: String
        var gramsPerItem: Double
        var source: String
    }

    static let factors: [Factor] = [
        Factor(
            item: "km driven by an average US passenger car", gramsPerItem: 393 / 1.609344,
            source: "US EPA GHG Equivalencies Calculator (2022 inventory): 393 g CO2e per mile"),
        Factor(
            item: "smartphone charges", gramsPerItem: 12.4,
            source: "US EPA GHG Equivalencies Calculator (2022 inventory): 12.4 g CO2 per full charge"),
        Factor(
            item: "urban tree seedlings grown for 10 years", gramsPerItem: 60_000,
            source: "US EPA GHG Equivalencies Calculator: 0.060 t CO2 sequestered per tree over 10 years"),
        Factor(
            item: "km flown per passenger, long-haul economy", gramsPerItem: 150,
            source: "UK DESNZ 2024 conversion factors, long-haul economy incl. radiative forcing (x1.9)"),
    ]

    /// `mass` in each of the units above.
    public static func equivalents(of mass: CarbonMass) -> [Equivalent] {
        factors.map { factor in
            Equivalent(
                item: factor.item, quantity: mass.grams / factor.gramsPerItem, gramsPerItem: factor.gramsPerItem,
                source: factor.source)
        }
    }
}
