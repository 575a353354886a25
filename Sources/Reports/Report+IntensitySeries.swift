import Impact
import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Report {
    /// The energy of the report as slices of time: its timeline's buckets (clipped to `[from, to)` and to the
    /// job), or, without a timeline, the whole window at constant power. Nil when nothing was measured.
    func energySlices(from: Date? = nil, to: Date? = nil) -> (slices: [EnergySlice], source: String)? {
        let jobStart = startedAt.timeIntervalSince1970
        let jobEnd = endedAt.timeIntervalSince1970
        let low = max(from?.timeIntervalSince1970 ?? jobStart, jobStart)
        let high = min(to?.timeIntervalSince1970 ?? jobEnd, jobEnd)
        if let timeline, !timeline.seconds.isEmpty {
            var slices: [EnergySlice] = []
            for (index, watts) in timeline.countedWatts.enumerated() {
                guard let watts, timeline.seconds[index] > 0 else { continue }
                let bucketStart = jobStart + timeline.offsetSeconds + Double(index) * timeline.bucketSeconds
                let start = max(bucketStart, jobStart)
                let end = min(bucketStart + timeline.bucketSeconds, jobEnd)
                let joules = watts * timeline.seconds[index]
                let clippedStart = max(start, low)
                let clippedEnd = min(end, high)
                if end > start {
                    guard clippedEnd > clippedStart else { continue }
                    slices.append(
                        EnergySlice(
                            start: clippedStart, end: clippedEnd,
                            joules: joules * (clippedEnd - clippedStart) / (end - start)))
                } else if start >= low, start < high || (start == high && low == high) {
                    slices.append(EnergySlice(start: start, end: start, joules: joules))
                }
            }
            return (slices, "timeline")
        }
        guard let joules = energy.joules else { return nil }
        let share = jobEnd > jobStart ? max(0, high - low) / (jobEnd - jobStart) : 1
        return ([EnergySlice(start: low, end: max(low, high), joules: joules * share)], "constant power")
    }

    /// Recomputes `carbon` (and each phase's, and the attributed figure) with the grid's intensity at the time the
    /// energy was drawn, where `series` covers the job; `settings` give the yearly figure for the rest, the PUE
    /// and the price. `carbon.intensity_series` says how much was covered and by what.
    public mutating func apply(intensitySeries series: IntensitySeries, settings: CarbonSettings) {
        guard let joules = energy.joules, let (slices, source) = energySlices() else {
            carbon.intensitySeries = use(series, nil, settings: settings, slices: "none", usedForTotal: false)
            return
        }
        let result = SeriesCarbon(slices: slices, series: series)
        let coverage = result.coverage ?? 0
        let replaces =
            result.coveredJoules > 0
            && CarbonAssessment.seriesMayReplace(series.basis, yearly: settings.intensity.basis, coverage: coverage)
        var effective = settings
        if replaces {
            let assessment = CarbonAssessment(
                energy: Joules(joules), settings: settings, series: result, basis: series.basis)
            effective = assessment.settings
            let attributed = carbon.attributedKgCo2e
            var updated = Carbon(assessment)
            updated.intensitySource =
                coverage >= 0.999_999
                ? "\(series.provider) \(series.zone) (hourly series)"
                : "\(series.provider) \(series.zone) (hourly series) for \(Self.percent(coverage)) of the energy, "
                    + "\(settings.intensitySource) for the rest"
            if coverage < 0.999_999, series.basis != settings.intensity.basis {
                updated.intensityBasis =
                    "mixed: \(series.basis.rawValue) (series) + "
                    + "\(settings.intensity.basis.rawValue) (yearly)"
                warnings.append(
                    "The hourly series (\(series.basis.rawValue)) covered \(Self.percent(coverage)) of the energy; "
                        + "the rest is at the yearly figure (\(settings.intensity.basis.rawValue)): kg_co2e adds "
                        + "figures on two bases.")
            }
            updated.attributedKgCo2e = attributed
            carbon = updated
        } else if result.coveredJoules > 0 {
            warnings.append(
                "The \(series.basis.rawValue) series of \(series.provider) \(series.zone) covered "
                    + "\(Self.percent(coverage)) of the energy: marginal and average intensities are never added "
                    + "together, so kg_co2e is the yearly figure's; carbon.intensity_series has the series' own.")
        }
        if result.coveredJoules == 0 {
            warnings.append(
                "The intensity series of \(series.provider) \(series.zone) has no figure for this job's time "
                    + "(\(series.points.first.map { Self.timestamp(Date(timeIntervalSince1970: $0.start)) } ?? "no points") "
                    + "to \(series.points.last.map { Self.timestamp(Date(timeIntervalSince1970: $0.end)) } ?? "-")): "
                    + "the yearly figure was used. Fetch it again (sustain-measure intensity fetch).")
        }
        carbon.intensitySeries = use(
            series, result, settings: settings, slices: source, usedForTotal: replaces, scale: joules)
        if let attribution, replaces {
            let kilograms = CarbonAssessment(energy: Joules(attribution.joules), settings: effective).emissions?
                .kilograms
            self.attribution?.kgCo2e = kilograms
            carbon.attributedKgCo2e = kilograms
        }
        guard replaces, !phases.isEmpty else { return }
        for index in phases.indices {
            guard let phaseJoules = phases[index].joules,
                let (phaseSlices, _) = energySlices(from: phases[index].startedAt, to: phases[index].endedAt)
            else { continue }
            let part = SeriesCarbon(slices: phaseSlices, series: series)
            guard part.totalJoules > 0 else { continue }
            let assessment = CarbonAssessment(
                energy: Joules(phaseJoules), settings: settings, series: part, basis: series.basis)
            phases[index].kgCo2e = assessment.emissions?.kilograms
            phases[index].intensityGPerKwh = assessment.settings.intensity.gramsPerKilowattHour
            phases[index].intensityCoverage = part.coverage
        }
    }

    private func use(
        _ series: IntensitySeries, _ result: SeriesCarbon?, settings: CarbonSettings, slices: String,
        usedForTotal: Bool, scale joules: Double? = nil
    ) -> IntensitySeriesUse {
        let scale = result.flatMap { $0.totalJoules > 0 ? (joules ?? $0.totalJoules) / $0.totalJoules : nil } ?? 1
        let covered = (result?.coveredJoules ?? 0) * scale
        let grams = (result?.coveredEmissions.grams ?? 0) * scale * settings.pue.value
        return IntensitySeriesUse(
            provider: series.provider, zone: series.zone, basis: series.basis.rawValue,
            attribution: series.attribution,
            fetchedAt: series.fetchedAt.map { Date(timeIntervalSince1970: $0) }, usedForTotal: usedForTotal,
            pointsUsed: result?.pointsUsed ?? 0, forecastPointsUsed: result?.forecastPointsUsed ?? 0,
            coverage: result?.coverage, coveredJoules: covered,
            kgCo2eCovered: result.map { _ in grams / 1000 },
            meanGPerKwh: result?.weightedMean, minGPerKwh: result?.minimum, maxGPerKwh: result?.maximum,
            fallbackGPerKwh: settings.intensity.gramsPerKilowattHour, fallbackSource: settings.intensitySource,
            slices: slices,
            note: slices == "constant power"
                ? "No power timeline: the job's energy was spread evenly over its time."
                : slices == "timeline"
                    ? "Each timeline bucket's energy at the intensity of the periods it overlaps (in proportion to "
                        + "time)." : "Nothing was measured.")
    }

    static func percent(_ share: Double) -> String {
        let value = (share * 1000).rounded() / 10
        return value == value.rounded() ? "\(Int(value)) %" : "\(value) %"
    }
}
