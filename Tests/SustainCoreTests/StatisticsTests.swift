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
}
