import SustainCore

/// Energy drawn during `[start, end)` (seconds since 1970, UTC): a bucket of a report's power timeline, or a
/// whole job when it has no timeline (then at constant power).
public struct EnergySlice: Sendable, Hashable {
    public var start: Double
    public var end: Double
    public var joules: Double

    public init(start: Double, end: Double, joules: Double) {
        self.start = start
        self.end = end
        self.joules = joules
    }
}

/// Energy × the intensity at the time it was drawn: each slice split over the series' periods in proportion to
/// time (power is taken as constant inside a slice), each part at its period's intensity. What no period covers is
/// left to the caller's fallback figure, and counted here as uncovered.
public struct SeriesCarbon: Sendable, Hashable {
    public var totalJoules: Double
    /// The energy drawn while a period of the series was in force.
    public var coveredJoules: Double
    /// The emissions of the covered energy at the meter (before PUE).
    public var coveredEmissions: CarbonMass
    /// Periods of the series that overlapped the slices, and how many of them were forecasts.
    public var pointsUsed: Int
    public var forecastPointsUsed: Int
    /// The lowest and highest intensity among the periods used.
    public var minimum: Double?
    public var maximum: Double?

    /// The share of the energy the series covered (0–1); nil when there was no energy.
    public var coverage: Double? { totalJoules > 0 ? coveredJoules / totalJoules : nil }

    /// The energy-weighted mean intensity over the covered energy.
    public var weightedMean: Double? {
        coveredJoules > 0 ? coveredEmissions.grams / KilowattHours(Joules(coveredJoules)).value : nil
    }

    public init(slices: [EnergySlice], series: IntensitySeries) {
        var total = 0.0
        var covered = 0.0
        var grams = 0.0
        var used = Set<Double>()
        var forecasts = 0
        var minimum: Double?
        var maximum: Double?
        func use(_ point: IntensityPoint, joules: Double) {
            covered += joules
            grams += KilowattHours(Joules(joules)).value * point.gramsPerKilowattHour
            if used.insert(point.start).inserted {
                if point.forecast { forecasts += 1 }
                minimum = min(minimum ?? point.gramsPerKilowattHour, point.gramsPerKilowattHour)
                maximum = max(maximum ?? point.gramsPerKilowattHour, point.gramsPerKilowattHour)
            }
        }
        for slice in slices where slice.joules.isFinite && slice.joules != 0 {
            total += slice.joules
            let length = slice.end - slice.start
            guard length > 0 else {
                if let point = series.point(at: slice.start) { use(point, joules: slice.joules) }
                continue
            }
            for point in series.points(from: slice.start, to: slice.end) {
                let overlap = min(slice.end, point.end) - max(slice.start, point.start)
                if overlap > 0 { use(point, joules: slice.joules * overlap / length) }
            }
        }
        totalJoules = total
        coveredJoules = min(covered, total)
        coveredEmissions = CarbonMass(grams: grams)
        pointsUsed = used.count
        forecastPointsUsed = forecasts
        self.minimum = minimum
        self.maximum = maximum
    }
}

extension CarbonAssessment {
    /// Whether a series may stand in for the yearly figure over the part it covers: always on the same basis;
    /// a marginal series beside an average yearly figure only when it covers the whole job (marginal and average
    /// emissions are different questions, never added together).
    public static func seriesMayReplace(
        _ basis: IntensityBasis, yearly: IntensityBasis, coverage: Double
    ) -> Bool {
        (basis == .marginal) == (yearly == .marginal) || coverage >= 0.999_999
    }

    /// `energy` at the series' intensity where it covers, the yearly figure of `settings` elsewhere; with the PUE
    /// and price of `settings`. The assessment's `settings.intensity` becomes the effective (energy-weighted)
    /// intensity; its basis stays the yearly figure's unless the series covered all of it.
    public init(energy: Joules, settings: CarbonSettings, series: SeriesCarbon, basis: IntensityBasis) {
        let atMeter = KilowattHours(energy)
        let share = series.totalJoules > 0 ? min(1, series.coveredJoules / series.totalJoules) : 0
        let uncovered = KilowattHours(atMeter.value * (1 - share))
        // The covered emissions scaled to the measured total (the slices carry the timeline's energy, within a
        // millionth of it).
        let scale = series.totalJoules > 0 ? energy.value / series.totalJoules : 0
        let grams = series.coveredEmissions.grams * scale + settings.intensity.emissions(of: uncovered).grams
        var effective = settings
        effective.intensity = CarbonIntensity(
            gramsPerKilowattHour: atMeter.value > 0 ? grams / atMeter.value : settings.intensity.gramsPerKilowattHour,
            basis: share >= 0.999_999 ? basis : settings.intensity.basis)
        self.init(energy: energy, settings: effective)
    }
}
