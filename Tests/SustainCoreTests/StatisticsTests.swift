import RealModule
import Testing

@testable import SustainCore

/// Against SciPy 1.17.1 (`scipy.stats.t.ppf`, `t.cdf`, `ttest_ind(equal_var=False)`, `t.interval`).
struct StatisticsTests {
    static let quantiles: [(df: Double, t: Double)] = [
        (1, 12.706204736174694), (2, 4.302652729749462), (4, 2.7764451051977934), (9, 2.262157162798205),
        (29, 2.045229642132703), (1000, 1.9623390808264083),
    ]

    @Test func theTQuantileIsSciPys() {
        for (df, t) in Self.quantiles {
            let value = StudentT.quantile(0.975, degreesOfFreedom: df)
            #expect(abs(value - t) < 1e-9 * t, "df \(df): \(value) vs \(t)")
            #expect(abs(StudentT.quantile(0.025, degreesOfFreedom: df) + t) < 1e-9 * t)
        }
        #expect(StudentT.quantile(0.5, degreesOfFreedom: 3) == 0)
        #expect(StudentT.quantile(1, degreesOfFreedom: 3).isNaN && StudentT.quantile(0.5, degreesOfFreedom: 0).isNaN)
    }

    static let cdfs: [(t: Double, df: Double, p: Double)] = [
        (0, 5, 0.5), (1.5, 3, 0.8847080673775886), (-2.2, 7.5, 0.03059973295305805),
        (3.0, 12.3, 0.9945993729650014), (-0.5, 1, 0.35241638234956674),
    ]

    @Test func theTCDFIsSciPys() {
        for (t, df, p) in Self.cdfs {
            let value = StudentT.cdf(t, degreesOfFreedom: df)
            #expect(abs(value - p) < 1e-12, "t \(t), df \(df): \(value) vs \(p)")
        }
        #expect(StudentT.cdf(.infinity, degreesOfFreedom: 2) == 1 && StudentT.cdf(-.infinity, degreesOfFreedom: 2) == 0)
    }

    @Test func aSummaryHasItsStudentInterval() throws {
        let summary = try #require(Statistics.Summary([100, 102, 98, 101, 99]))
        #expect(summary.n == 5 && summary.mean == 100 && summary.min == 98 && summary.max == 102)
        #expect(abs(summary.sd - 1.5811388300841898) < 1e-12)
        let interval = try #require(summary.ci95)
        #expect(abs(interval.lowerBound - 98.03675683852244) < 1e-9)
        #expect(abs(interval.upperBound - 101.96324316147756) < 1e-9)
        #expect(abs((summary.cv ?? 0) - 0.015811388300841898) < 1e-12)
        #expect(abs((summary.relativeHalfWidth ?? 0) - 0.01963243161477560) < 1e-9)
    }

    @Test func oneValueHasNoIntervalAndNoneIsNoSummary() throws {
        let one = try #require(Statistics.Summary([42, .nan]))
        #expect(one.n == 1 && one.sd == 0 && one.ci95 == nil)
        #expect(Statistics.Summary([]) == nil && Statistics.Summary([.nan, .infinity]) == nil)
    }

    @Test func welchsTestIsSciPys() throws {
        // B clearly lower than A.
        let clear = try #require(Statistics.welch([100, 102, 98, 101, 99], [88, 90, 87, 89, 91]))
        #expect(abs(clear.t - -11.0) < 1e-9 && abs(clear.degreesOfFreedom - 8) < 1e-9)
        #expect(abs(clear.p - 4.148844200380316e-06) < 1e-12, "\(clear.p)")
        #expect(clear.isSignificant && abs(clear.relativeDifference - -0.11) < 1e-12)
        #expect(clear.relativeCI95.contains(-0.11) && clear.relativeCI95.upperBound < 0)
        // No real difference.
        let noise = try #require(Statistics.welch([100, 103, 97, 105, 95], [99, 104, 96, 101, 98]))
        #expect(abs(noise.t - -0.1744082880787814) < 1e-9)
        #expect(abs(noise.degreesOfFreedom - 7.368398625795627) < 1e-9)
        #expect(abs(noise.p - 0.8662404817617864) < 1e-9)
        #expect(!noise.isSignificant && noise.relativeCI95.contains(0))
    }

    @Test func welchNeedsTwoRunsEachAndAMeanToCompareWith() throws {
        #expect(Statistics.welch([1], [1, 2]) == nil)
        #expect(Statistics.welch([0, 0], [1, 2]) == nil)
        let exact = try #require(Statistics.welch([10, 10], [9, 9]))
        #expect(exact.p == 0 && abs(exact.relativeDifference + 0.1) < 1e-12)
        #expect(exact.relativeCI95.lowerBound == exact.relativeCI95.upperBound)
        let same = try #require(Statistics.welch([10, 10], [10, 10]))
        #expect(same.p == 1 && same.relativeDifference == 0)
    }

    /// SplitMix64: a seeded generator, so that the trials are the same in every run.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// A normal sample (Box–Muller, the cosine half), mean `mean`, sd `sd`.
    static func normal(_ mean: Double, _ sd: Double, using generator: inout SplitMix64) -> Double {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &generator)
        let u2 = Double.random(in: 0..<1, using: &generator)
        return mean + sd * (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * Double.pi * u2)
    }

    /// 1,000 seeded trials of 5 runs each at 1 % noise: a 5 % difference is found in at least 95 % of them, and
    /// equal configurations are "no significant difference" in at least 94 %.
    @Test func welchFindsAFivePercentDifferenceAndNoFalseOne() {
        var generator = SplitMix64(state: 20_261_202)
        var detected = 0
        var quiet = 0
        let trials = 1000
        for _ in 0..<trials {
            let a = (0..<5).map { _ in Self.normal(100, 1, using: &generator) }
            let b = (0..<5).map { _ in Self.normal(95, 0.95, using: &generator) }
            let same = (0..<5).map { _ in Self.normal(100, 1, using: &generator) }
            if let test = Statistics.welch(a, b), test.isSignificant, test.relativeDifference < 0 { detected += 1 }
            if let test = Statistics.welch(a, same), !test.isSignificant { quiet += 1 }
        }
        print(
            "welch, 1,000 trials of 5 + 5 runs at 1 % noise: a 5 % difference found in \(detected), "
                + "equal configurations called equal in \(quiet)")
        #expect(detected >= 950, "\(detected) of \(trials)")
        #expect(quiet >= 940, "\(quiet) of \(trials)")
    }
}
