import Testing

@testable import Impact
@testable import SustainCore

/// Carbon at the intensity of the time the energy was drawn, against sums done by hand.
struct SeriesCarbonTests {
    /// 100 g/kWh for an hour, then 500 g/kWh for an hour, from t = 0.
    static func step(basis: IntensityBasis = .direct) throws -> IntensitySeries {
        try IntensitySeries(
            provider: "test", zone: "T", basis: basis,
            points: [
                IntensityPoint(start: 0, end: 3600, gramsPerKilowattHour: 100),
                IntensityPoint(start: 3600, end: 7200, gramsPerKilowattHour: 500),
            ], attribution: "test")
    }

    /// 1 kW from 30 min to 90 min, in 10-minute slices: 0.5 kWh at 100 g and 0.5 kWh at 500 g.
    @Test func energyAcrossAStepIsChargedAtEachSideIntensity() throws {
        let slices = stride(from: 1800.0, to: 5400, by: 600).map {
            EnergySlice(start: $0, end: $0 + 600, joules: 1000 * 600)
        }
        let result = SeriesCarbon(slices: slices, series: try Self.step())
        #expect(abs(result.coveredEmissions.grams - 300) < 1e-9, "0.5 × 100 + 0.5 × 500")
        #expect(result.coverage == 1)
        #expect(result.pointsUsed == 2)
        #expect(abs(result.weightedMean! - 300) < 1e-9)
        #expect(result.minimum == 100 && result.maximum == 500)
        // One slice straddling the step is split by time.
        let one = SeriesCarbon(
            slices: [EnergySlice(start: 3000, end: 4200, joules: 1_200_000)], series: try Self.step())
        #expect(abs(one.coveredEmissions.grams - (1.0 / 6 * 100 + 1.0 / 6 * 500)) < 1e-9)
    }

    @Test func energyOutsideTheSeriesIsUncoveredAndTheYearlyFigureFillsIt() throws {
        // 2 kWh from 1 h to 3 h: the first hour at 500 g, the second uncovered (yearly 400 g).
        let slices = [EnergySlice(start: 3600, end: 10_800, joules: 7_200_000)]
        let result = SeriesCarbon(slices: slices, series: try Self.step())
        #expect(result.coverage == 0.5)
        let settings = try CarbonSettings.given(gramsPerKilowattHour: 400, basis: .direct)
        let assessment = CarbonAssessment(energy: Joules(7_200_000), settings: settings, series: result, basis: .direct)
        #expect(abs(assessment.emissions!.grams - (500 + 400)) < 1e-9)
        #expect(abs(assessment.settings.intensity.gramsPerKilowattHour - 450) < 1e-9)
    }

    @Test func marginalNeverStandsInForPartOfAnAverage() {
        #expect(!CarbonAssessment.seriesMayReplace(.marginal, yearly: .lifecycle, coverage: 0.5))
        #expect(CarbonAssessment.seriesMayReplace(.marginal, yearly: .lifecycle, coverage: 1))
        #expect(CarbonAssessment.seriesMayReplace(.direct, yearly: .lifecycle, coverage: 0.5))
        #expect(CarbonAssessment.seriesMayReplace(.marginal, yearly: .marginal, coverage: 0.2))
    }

    @Test func theGreenestStartIsTheLowestWindowAndSaysWhatNowCosts() throws {
        // Half-hours from 0: 300, 300, 100, 100, 100, 400.
        let values = [300.0, 300, 100, 100, 100, 400]
        let series = try IntensitySeries(
            provider: "test", zone: "T", basis: .direct,
            points: values.enumerated().map {
                IntensityPoint(
                    start: Double($0.offset) * 1800, end: Double($0.offset + 1) * 1800, gramsPerKilowattHour: $0.element
                )
            }, attribution: "test")
        let best = try #require(series.greenestStart(duration: 5400, now: 0, horizon: 3 * 3600))
        #expect(best.start == 3600 && best.mean == 100)
        #expect(abs(best.nowMean! - 700.0 / 3) < 1e-9)
        #expect(series.greenestStart(duration: 4 * 3600, now: 0, horizon: 4 * 3600) == nil, "no 4 h window covered")
    }

    @Test func aSeriesRefusesOverlapsAndAbsurdFigures() {
        #expect(throws: ImpactError.self) {
            try IntensitySeries(
                provider: "t", zone: "T", basis: .direct,
                points: [
                    IntensityPoint(start: 0, end: 3600, gramsPerKilowattHour: 1),
                    IntensityPoint(start: 1800, end: 5400, gramsPerKilowattHour: 1),
                ], attribution: "t")
        }
        for bad in [-1.0, .nan, .infinity, 6000] {
            #expect(throws: ImpactError.self) {
                try IntensitySeries(
                    provider: "t", zone: "T", basis: .direct,
                    points: [IntensityPoint(start: 0, end: 3600, gramsPerKilowattHour: bad)], attribution: "t")
            }
        }
    }

    /// A fetch replaces forecasts with figures and older points are pruned: the cache stays bounded.
    @Test func mergingReplacesOverlapsAndStaysBounded() throws {
        var cached = try IntensitySeries(
            provider: "t", zone: "T", basis: .direct,
            points: (0..<10).map {
                IntensityPoint(
                    start: Double($0) * 1800, end: Double($0 + 1) * 1800, gramsPerKilowattHour: 999, forecast: true)
            }, attribution: "t")
        let fetched = try IntensitySeries(
            provider: "t", zone: "T", basis: .direct,
            points: (4..<12).map {
                IntensityPoint(start: Double($0) * 1800, end: Double($0 + 1) * 1800, gramsPerKilowattHour: 100)
            }, attribution: "t")
        cached = try cached.merged(with: fetched, keepAfter: 3600)
        #expect(cached.points.count == 10, "2 pruned (ended by 1 h), 2 kept forecasts, 8 fetched")
        #expect(cached.points.filter { $0.gramsPerKilowattHour == 999 }.map(\.start) == [3600, 5400])
        let bounded = try cached.merged(with: fetched, keepAfter: 0, maximumPoints: 5)
        #expect(bounded.points.count == 5 && bounded.points.last?.start == 11 * 1800, "the latest are kept")
        let marginal = try IntensitySeries(
            provider: "t", zone: "T", basis: .marginal, points: fetched.points, attribution: "t")
        #expect(throws: ImpactError.self) { try cached.merged(with: marginal, keepAfter: 0) }
    }
}
