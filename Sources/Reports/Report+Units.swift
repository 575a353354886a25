import Impact
import SustainCore

/// A deployed model's server over a window (a watch's period, or `sustain-measure attach`): what it served, and
/// what each unit of it cost. Pure: the figures come from the report's own, table-tested.
extension Report {
    /// The server that was watched: its name (a `[[watch]]` entry's, or `attach`), how it was found, and the cgroup.
    public struct Watched: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case name, target, cgroup
            case periodSeconds = "period_seconds"
        }
        public var name: String
        /// `cgroup /system.slice/vllm.service`, `unit vllm.service`, `pid_file /run/vllm.pid`, `pid 4242`.
        public var target: String
        /// The cgroup the server was in at the end of the window; null when it could not be found.
        @Nullable public var cgroup: String?
        public var periodSeconds: Double

        public init(name: String, target: String, cgroup: String?, periodSeconds: Double) {
            self.name = name
            self.target = target
            self.cgroup = cgroup
            self.periodSeconds = periodSeconds
        }
    }

    /// The unit of work and its cost. `joules` is E: the server's attributed CPU-side share plus the GPUs its
    /// processes used; `operational_kg_co2e` is E × I, I being the window's intensity per measured kWh (the
    /// report's carbon over its energy: the hourly series and PUE included); the SCI is (E × I + M) / R.
    public struct Units: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case count, unit, source
            case energyBasis = "energy_basis"
            case joules
            case joulesPerUnit = "joules_per_unit"
            case intensityGPerKwh = "intensity_g_per_kwh"
            case operationalKgCo2e = "operational_kg_co2e"
            case kgCo2ePerUnit = "kg_co2e_per_unit"
            case sci
            case waterLitres = "water_litres"
            case waterLitresPerUnit = "water_litres_per_unit"
            case missing
        }
        /// R: the units served in the window; null when none could be counted (`missing` says why), never 0 for
        /// unknown.
        @Nullable public var count: Double?
        public var unit: String
        /// Where the count came from: the server's counter (`scrape URL METRIC`) or the application's marks.
        public var source: String
        /// `attributed`: the server's cgroup's share of the CPU-side energy plus its GPUs; `machine`: the whole
        /// machine's (no attribution possible; the warnings say why).
        public var energyBasis: String
        /// E.
        @Nullable public var joules: Double?
        @Nullable public var joulesPerUnit: Double?
        /// I, g CO2e per measured kWh (PUE included).
        @Nullable public var intensityGPerKwh: Double?
        /// E × I.
        @Nullable public var operationalKgCo2e: Double?
        @Nullable public var kgCo2ePerUnit: Double?
        @Nullable public var sci: SCI?
        /// E × WUE when `[impact] wue_l_per_kwh` is set.
        @Nullable public var waterLitres: Double?
        @Nullable public var waterLitresPerUnit: Double?
        /// What could not be had, each with its reason (a units endpoint down, a cgroup gone).
        public var missing: [String]
    }

    /// The Green Software Foundation's SCI (ISO/IEC 21031:2024) of the window.
    public struct SCI: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case gramsPerUnit = "g_co2e_per_unit"
            case operationalKgCo2e = "operational_kg_co2e"
            case embodiedKgCo2e = "embodied_kg_co2e"
            case resourceShare = "resource_share"
            case units, method
        }
        /// (E × I + M) / R, g CO2e per unit.
        public var gramsPerUnit: Double
        /// E × I.
        public var operationalKgCo2e: Double
        /// M: the machine's embodied emissions × (window / life) × resource share; null when `[impact]
        /// embodied_kg_co2e` is not set (the score is then operational only, as `method` says).
        @Nullable public var embodiedKgCo2e: Double?
        public var resourceShare: Double
        /// R.
        public var units: Double
        public var method: String
    }

    /// The units section of a report whose energy and carbon are final: E is `joules` (the watched server's),
    /// charged at the report's own intensity per measured kWh.
    public static func units(
        count: Double?, unit: String, source: String, joules: Double?, energyBasis: String, report: Report,
        resourceShare: Double, embodied: EmbodiedEmissions?, water: WaterUsage?, basis: IntensityBasis,
        missing: [String]
    ) -> Units {
        var missing = missing
        // I: the report's carbon per measured kWh (its series and PUE included), so E × I is charged as the rest.
        let intensity: Double? = {
            guard let kilograms = report.carbon.kgCo2e, let measured = report.energy.joules, measured > 0 else {
                return nil
            }
            return kilograms * 1000 / (measured / 3_600_000)
        }()
        let energy = joules.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
        if energy == nil { missing.append("energy: nothing was measured for the server in this window") }
        if energy != nil, intensity == nil {
            missing.append("carbon: the report has no carbon figure to charge the server's energy at")
        }
        let operational = energy.flatMap { joules in intensity.map { joules / 3_600_000 * $0 / 1000 } }
        let units = count.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
        let perUnit: (Double?) -> Double? = { value in
            guard let value, let units, units > 0 else { return nil }
            return value / units
        }
        let sci: SCI? = {
            guard let operational, let units, units > 0, let energy else { return nil }
            let score = SoftwareCarbonIntensity(
                energy: KilowattHours(Joules(energy)),
                intensity: CarbonIntensity(gramsPerKilowattHour: intensity ?? 0, basis: basis),
                embodied: embodied?.share(ofSeconds: report.durationSeconds, resourceShare: resourceShare),
                units: units)
            guard let grams = score.gramsPerUnit else { return nil }
            return SCI(
                gramsPerUnit: grams, operationalKgCo2e: operational, embodiedKgCo2e: score.embodied?.kilograms,
                resourceShare: min(1, max(0, resourceShare)), units: units,
                method: embodied == nil
                    ? "operational only: [impact] embodied_kg_co2e and lifetime_years are not set, so M is left out"
                    : "(E*I + M)/R; M = embodied_kg_co2e * window / lifetime_years * resource_share (the server's "
                        + "share of the machine's energy)")
        }()
        let litres = energy.flatMap { joules in water.map { $0.litres(for: KilowattHours(Joules(joules))) } }
        return Units(
            count: units, unit: unit, source: source, energyBasis: energyBasis, joules: energy,
            joulesPerUnit: perUnit(energy), intensityGPerKwh: intensity, operationalKgCo2e: operational,
            kgCo2ePerUnit: perUnit(operational), sci: sci, waterLitres: litres, waterLitresPerUnit: perUnit(litres),
            missing: missing)
    }
}
