import RealModule

/// The statistics of repeated runs: a sample's summary with its Student-t confidence interval, and Welch's t-test
/// of two samples with the difference of their means in percent.
///
/// The elementary functions and log Γ are swift-numerics' (RealModule). The regularized incomplete beta function
/// (Lentz's continued fraction) and the t quantile (bisection on the CDF) are written here: no package among the
/// project's dependencies has them, and they are a few dozen lines, table-tested against R's and SciPy's values.
public enum Statistics {
    /// One sample's figures; `ci95` is nil below two values.
    public struct Summary: Sendable, Equatable {
        public let n: Int
        public let mean: Double
        /// Sample standard deviation (n − 1); 0 for one value.
        public let sd: Double
        public let min: Double
        public let max: Double
        /// The 95 % confidence interval of the mean, Student-t with n − 1 degrees of freedom.
        public let ci95: ClosedRange<Double>?

        /// Coefficient of variation, sd / |mean|; nil when the mean is 0.
        public var cv: Double? { mean == 0 ? nil : sd / abs(mean) }
        /// Half the interval's width over |mean|: the relative precision of the mean.
        public var relativeHalfWidth: Double? {
            guard let ci95, mean != 0 else { return nil }
            return (ci95.upperBound - ci95.lowerBound) / 2 / abs(mean)
        }

        /// Nil for no finite value; non-finite values are left out.
        public init?(_ values: [Double]) {
            let values = values.filter(\.isFinite)
            guard let first = values.first else { return nil }
            let count = values.count
            let average = values.reduce(0, +) / Double(count)
            n = count
            mean = average
            let squares = values.reduce(0) { $0 + ($1 - average) * ($1 - average) }
            sd = count > 1 ? (squares / Double(count - 1)).squareRoot() : 0
            min = values.reduce(first, Swift.min)
            max = values.reduce(first, Swift.max)
            if n > 1 {
                let half = StudentT.quantile(0.975, degreesOfFreedom: Double(n - 1)) * sd / Double(n).squareRoot()
                ci95 = (mean - half)...(mean + half)
            } else {
                ci95 = nil
            }
        }
    }

    /// Welch's unequal-variance t-test of B against A.
    public struct Comparison: Sendable, Equatable {
        public let a: Summary
        public let b: Summary
        /// t of mean(B) − mean(A).
        public let t: Double
        /// Welch–Satterthwaite degrees of freedom.
        public let degreesOfFreedom: Double
        /// Two-sided p-value; 1 when both samples have no spread and equal means, 0 when they differ.
        public let p: Double
        /// (mean(B) − mean(A)) / mean(A), as a fraction.
        public let relativeDifference: Double
        /// Its 95 % confidence interval (delta method: the spread of A's mean counts as well as B's).
        public let relativeCI95: ClosedRange<Double>

        /// Significant at the 5 % level.
        public var isSignificant: Bool { p < 0.05 }
    }

    /// Nil when either sample has fewer than two finite values or A's mean is 0.
    public static func welch(_ a: [Double], _ b: [Double]) -> Comparison? {
        guard let sa = Summary(a), let sb = Summary(b), sa.n >= 2, sb.n >= 2, sa.mean != 0 else { return nil }
        let va = sa.sd * sa.sd / Double(sa.n)
        let vb = sb.sd * sb.sd / Double(sb.n)
        let difference = sb.mean - sa.mean
        let ratio = sb.mean / sa.mean
        guard va + vb > 0 else {
            // No spread at all: the difference is exact.
            return Comparison(
                a: sa, b: sb, t: difference == 0 ? 0 : difference > 0 ? .infinity : -.infinity,
                degreesOfFreedom: Double(sa.n + sb.n - 2), p: difference == 0 ? 1 : 0,
                relativeDifference: ratio - 1, relativeCI95: (ratio - 1)...(ratio - 1))
        }
        let t = difference / (va + vb).squareRoot()
        let df = (va + vb) * (va + vb) / (va * va / Double(sa.n - 1) + vb * vb / Double(sb.n - 1))
        let p = 2 * StudentT.cdf(-abs(t), degreesOfFreedom: df)
        // Var(B̄/Ā) ≈ (B̄/Ā)² (Var B̄ / B̄² + Var Ā / Ā²).
        let ratioSD = abs(ratio) * (vb / (sb.mean * sb.mean) + va / (sa.mean * sa.mean)).squareRoot()
        let half =
            StudentT.quantile(0.975, degreesOfFreedom: df) * (sb.mean == 0 ? (vb.squareRoot() / abs(sa.mean)) : ratioSD)
        return Comparison(
            a: sa, b: sb, t: t, degreesOfFreedom: df, p: min(1, max(0, p)), relativeDifference: ratio - 1,
            relativeCI95: (ratio - 1 - half)...(ratio - 1 + half))
    }
}

/// Student's t distribution.
public enum StudentT {
    /// P(T ≤ t) with `degreesOfFreedom` > 0.
    public static func cdf(_ t: Double, degreesOfFreedom v: Double) -> Double {
        guard t.isFinite else { return t > 0 ? 1 : 0 }
        let x = v / (v + t * t)
        let tail = 0.5 * IncompleteBeta.regularized(x: x, a: v / 2, b: 0.5)
        return t > 0 ? 1 - tail : tail
    }

    /// The t with P(T ≤ t) = p, for 0 < p < 1 (bisection on the CDF to 1e-12).
    public static func quantile(_ p: Double, degreesOfFreedom v: Double) -> Double {
        guard p > 0, p < 1, v > 0 else { return .nan }
        if p == 0.5 { return 0 }
        var low = -1.0
        var high = 1.0
        while cdf(low, degreesOfFreedom: v) > p { low *= 2 }
        while cdf(high, degreesOfFreedom: v) < p { high *= 2 }
        for _ in 0..<200 {
            let middle = (low + high) / 2
            if cdf(middle, degreesOfFreedom: v) < p { low = middle } else { high = middle }
            if high - low < 1e-12 * max(1, abs(middle)) { break }
        }
        return (low + high) / 2
    }
}

/// The regularized incomplete beta function I_x(a, b).
enum IncompleteBeta {
    static func regularized(x: Double, a: Double, b: Double) -> Double {
        guard x > 0 else { return 0 }
        guard x < 1 else { return 1 }
        let logFront =
            Double.logGamma(a + b) - Double.logGamma(a) - Double.logGamma(b) + a * Double.log(x) + b
            * Double.log(onePlus: -x)
        let front = Double.exp(logFront)
        // The continued fraction converges fast for x < (a + 1) / (a + b + 2); else use the symmetry.
        if x < (a + 1) / (a + b + 2) {
            return front * continuedFraction(x: x, a: a, b: b) / a
        }
        return 1 - front * continuedFraction(x: 1 - x, a: b, b: a) / b
    }

    /// Lentz's method for the incomplete beta's continued fraction.
    static func continuedFraction(x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var result = d
        for m in 1...300 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + even * d
            if abs(d) < tiny { d = tiny }
            c = 1 + even / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            result *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + odd * d
            if abs(d) < tiny { d = tiny }
            c = 1 + odd / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            result *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return result
    }
}
