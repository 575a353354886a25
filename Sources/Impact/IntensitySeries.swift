import SustainCore

/// One period of a grid's carbon intensity: `[start, end)` in seconds since 1970 (UTC).
public struct IntensityPoint: Sendable, Hashable {
    public var start: Double
    public var end: Double
    public var gramsPerKilowattHour: Double
    /// A forecast, not yet replaced by the provider's figure for the period.
    public var forecast: Bool

    public init(start: Double, end: Double, gramsPerKilowattHour: Double, forecast: Bool = false) {
        self.start = start
        self.end = end
        self.gramsPerKilowattHour = gramsPerKilowattHour
        self.forecast = forecast
    }
}

/// A grid's carbon intensity over time, from one provider for one zone, on one basis: periods sorted by start,
/// none overlapping. Built through `init(validating:)`, so a series in hand is always sound.
public struct IntensitySeries: Sendable, Hashable {
    /// `uk-carbon-intensity`, `energinet`, `electricity-maps`, `watttime`, or `file`.
    public var provider: String
    /// The provider's zone (`GB`, `GB-13`, `DK1`, `DE`, `CAISO_NORTH`), as given.
    public var zone: String
    public var basis: IntensityBasis
    public private(set) var points: [IntensityPoint]
    /// When the provider was last asked (seconds since 1970); nil for a file the user wrote.
    public var fetchedAt: Double?
    /// Who publishes the figures and under which terms, for the report.
    public var attribution: String

    /// The longest period a point may span (a day): longer is not an hourly series.
    public static let longestPeriod = 86_400.0

    /// Sorts `points` and checks each: a finite intensity from 0 to 5,000 g/kWh (marginal rates run higher than
    /// averages), a period of up to a day. Overlapping periods are an error, naming the first two.
    public init(
        provider: String, zone: String, basis: IntensityBasis, points: [IntensityPoint], fetchedAt: Double? = nil,
        attribution: String
    ) throws(ImpactError) {
        let sorted = points.sorted { $0.start < $1.start }
        for (index, point) in sorted.enumerated() {
            // Formatted only for a message: a 640,000-point file formatted every start for nothing.
            var when: String { UTCTimestamp.string(secondsSince1970: point.start) }
            guard point.gramsPerKilowattHour.isFinite, point.gramsPerKilowattHour >= 0,
                point.gramsPerKilowattHour <= 5000
            else {
                throw .invalidValue(
                    field: "intensity at \(when)", value: point.gramsPerKilowattHour,
                    expected: "gCO2e per kWh from 0 to 5000")
            }
            guard point.start.isFinite, point.end.isFinite, point.end > point.start,
                point.end - point.start <= Self.longestPeriod
            else {
                throw .invalidValue(
                    field: "period at \(when)", value: point.end - point.start,
                    expected: "a period of more than 0 s and at most a day")
            }
            if index > 0, sorted[index - 1].end > point.start {
                throw .invalidText(
                    field: "series", value: when, expected: "periods that do not overlap (two periods cover this time)")
            }
        }
        self.provider = provider
        self.zone = zone
        self.basis = basis
        self.points = sorted
        self.fetchedAt = fetchedAt
        self.attribution = attribution
    }

    /// The point whose period holds `time`, if any.
    public func point(at time: Double) -> IntensityPoint? {
        let index = firstIndex(endingAfter: time)
        guard index < points.count, points[index].start <= time else { return nil }
        return points[index]
    }

    /// The points that overlap `[start, end)`.
    public func points(from start: Double, to end: Double) -> ArraySlice<IntensityPoint> {
        var index = firstIndex(endingAfter: start)
        let first = index
        while index < points.count, points[index].start < end { index += 1 }
        return points[first..<index]
    }

    /// This series with `newer`'s points in place of the ones they overlap (a fetch replaces forecasts with
    /// figures, and older figures with revised ones), then only the points that end after `keepAfter`, at most
    /// `maximumPoints` of the latest. The cache stays bounded however often it is fetched.
    public func merged(
        with newer: IntensitySeries, keepAfter: Double, maximumPoints: Int = 20_000
    ) throws(ImpactError) -> IntensitySeries {
        guard newer.basis == basis else {
            throw .invalidText(
                field: "basis", value: newer.basis.rawValue,
                expected: "the cached series' basis (\(basis.rawValue)): marginal and average are never mixed")
        }
        var kept = points.filter { old in
            !newer.points(from: old.start, to: old.end).contains { $0.end > old.start && $0.start < old.end }
        }
        kept += newer.points
        kept = kept.filter { $0.end > keepAfter }.sorted { $0.start < $1.start }
        if kept.count > maximumPoints { kept.removeFirst(kept.count - maximumPoints) }
        return try IntensitySeries(
            provider: newer.provider, zone: newer.zone, basis: basis, points: kept,
            fetchedAt: newer.fetchedAt ?? fetchedAt, attribution: newer.attribution)
    }

    /// The time-weighted mean intensity over `[start, end)`, nil unless the series covers all of it.
    public func mean(from start: Double, to end: Double) -> Double? {
        guard end > start else { return point(at: start)?.gramsPerKilowattHour }
        var covered = 0.0
        var weighted = 0.0
        for point in points(from: start, to: end) {
            let overlap = min(end, point.end) - max(start, point.start)
            guard overlap > 0 else { continue }
            covered += overlap
            weighted += overlap * point.gramsPerKilowattHour
        }
        guard covered >= (end - start) * 0.999_999 else { return nil }
        return weighted / covered
    }

    /// When to start a job of `duration` seconds, at constant power, for the least carbon: the start (now, or a
    /// period's start) within `[now, now + horizon − duration]` whose window has the lowest mean intensity, with
    /// that mean and the mean of starting now. Nil when the series does not cover any such window.
    public func greenestStart(duration: Double, now: Double, horizon: Double) -> (
        start: Double, mean: Double, nowMean: Double?
    )? {
        guard duration > 0, horizon >= duration else { return nil }
        let latest = now + horizon - duration
        var candidates = [now]
        for point in points(from: now, to: latest + 1) where point.start > now && point.start <= latest {
            candidates.append(point.start)
        }
        var best: (start: Double, mean: Double)?
        for start in candidates {
            guard let mean = mean(from: start, to: start + duration) else { continue }
            if mean < (best?.mean ?? .infinity) - 1e-9 { best = (start, mean) }
        }
        return best.map { ($0.start, $0.mean, mean(from: now, to: now + duration)) }
    }

    /// The index of the first point whose period ends after `time` (binary search).
    /// The series without the periods that ended by `time` (seconds since 1970): what a job that starts then can
    /// use, for a process that keeps it while the job runs. A series that ended before `time` keeps its first and
    /// last periods (its report still says which span it covered).
    public func ending(after time: Double) -> IntensitySeries {
        var result = self
        let index = firstIndex(endingAfter: time)
        if index < points.count {
            result.points = Array(points[index...])
        } else if let first = points.first, let last = points.last {
            result.points = points.count > 1 ? [first, last] : [last]
        }
        return result
    }

    private func firstIndex(endingAfter time: Double) -> Int {
        var low = 0
        var high = points.count
        while low < high {
            let middle = (low + high) / 2
            if points[middle].end <= time { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
