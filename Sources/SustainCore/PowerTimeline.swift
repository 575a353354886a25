/// Power over time in equal buckets, bounded in memory however long the run: the energy and the seconds each
/// series (an energy channel) was seen in each bucket, and the lowest and highest total counted power of the
/// sampling intervals that ended in it, so a short peak is not averaged away.
///
/// Energy is conserved exactly: an interval's joules are split over the buckets it spans in proportion to the
/// overlap, so the buckets' joules add up to what was recorded, and a bucket's mean power is its joules over the
/// seconds it was seen (`Σ watts × seconds` is the total). Two retentions:
/// - `.whole(maximumBuckets:)`, for one run: when the run outgrows the buckets, neighbours merge pairwise and the
///   width doubles, so a 30-day job at 10 Hz keeps at most `maximumBuckets`.
/// - `.recent(buckets:)`, for a service: a ring of fixed-width buckets, the oldest dropped; a job's window is cut
///   out of it with `window(from:to:maximumBuckets:)`.
public struct PowerTimeline: Sendable, Equatable {
    public enum Retention: Sendable, Equatable {
        case whole(maximumBuckets: Int)
        case recent(buckets: Int)
    }

    public static let defaultMaximumBuckets = 2000

    public let seriesCount: Int
    public let retention: Retention
    /// The width of every bucket, in seconds.
    public private(set) var bucketSeconds: Double
    /// The index (since the timeline's origin) of the first bucket held; 0 unless a ring dropped old ones.
    public private(set) var firstBucket: Int = 0
    /// Joules per bucket and series, `[bucket * seriesCount + series]`, buckets from `firstBucket`.
    public private(set) var joules: [Double] = []
    /// Seconds each series was seen per bucket, same layout.
    public private(set) var seconds: [Double] = []
    /// Per bucket: the lowest and highest total counted power of the sampling intervals ending in it; nil where
    /// none was judged.
    public private(set) var minimumWatts: [Double?] = []
    public private(set) var maximumWatts: [Double?] = []

    public init(
        series: Int, bucketSeconds: Double, retention: Retention = .whole(maximumBuckets: defaultMaximumBuckets)
    ) {
        precondition(series >= 0 && bucketSeconds > 0)
        seriesCount = series
        self.bucketSeconds = bucketSeconds
        self.retention = retention
    }

    /// How many buckets are held.
    public var bucketCount: Int { minimumWatts.count }

    /// The bucket index after the last one held.
    public var endBucket: Int { firstBucket + bucketCount }

    /// Adds `energy` joules of one series drawn between `start` and `end` (seconds since the origin).
    public mutating func record(series: Int, joules energy: Double, from start: Double, to end: Double) {
        guard seriesCount > 0, end >= start, start >= 0, energy.isFinite else { return }
        makeRoom(through: end)
        let span = end - start
        var index = max(firstBucket, Int(start / bucketSeconds))
        let last = bucket(endingAt: end)
        guard last >= firstBucket else { return }  // older than the ring holds
        if span <= 0 || last <= index {
            add(energy, seconds: span, series: series, bucket: last)
            return
        }
        while index <= last {
            let from = max(start, Double(index) * bucketSeconds)
            let to = min(end, Double(index + 1) * bucketSeconds)
            if to > from { add(energy * (to - from) / span, seconds: to - from, series: series, bucket: index) }
            index += 1
        }
    }

    /// Notes the total counted power of a sampling interval that ended at `end`.
    public mutating func recordCountedPower(_ watts: Double, at end: Double) {
        guard watts.isFinite, end >= 0 else { return }
        makeRoom(through: end)
        let index = bucket(endingAt: end) - firstBucket
        guard index >= 0 else { return }
        minimumWatts[index] = min(minimumWatts[index] ?? watts, watts)
        maximumWatts[index] = max(maximumWatts[index] ?? watts, watts)
    }

    /// Every series' joules in the buckets held.
    public var totalJoules: [Double] {
        var totals = [Double](repeating: 0, count: seriesCount)
        for (index, value) in joules.enumerated() { totals[index % seriesCount] += value }
        return totals
    }

    /// The buckets overlapping `start...end` (seconds since the origin), as a `.whole` timeline whose origin is
    /// `start`'s bucket, merged down to at most `maximumBuckets`; nil when the ring no longer holds `start`.
    /// The edge buckets keep the share of their energy and seconds that lies inside the window (power taken as
    /// even within a bucket).
    public func window(from start: Double, to end: Double, maximumBuckets: Int = defaultMaximumBuckets)
        -> PowerTimeline?
    {
        let first = Int(start / bucketSeconds)
        guard first >= firstBucket, end >= start else { return nil }
        let last = min(endBucket - 1, bucket(endingAt: end))
        var result = PowerTimeline(
            series: seriesCount, bucketSeconds: bucketSeconds, retention: .whole(maximumBuckets: maximumBuckets))
        guard last >= first else { return result }
        let from = first - firstBucket
        let to = last - firstBucket
        result.joules = Array(joules[(from * seriesCount)..<((to + 1) * seriesCount)])
        result.seconds = Array(seconds[(from * seriesCount)..<((to + 1) * seriesCount)])
        result.minimumWatts = Array(minimumWatts[from...to])
        result.maximumWatts = Array(maximumWatts[from...to])
        // An edge bucket keeps the part of what it recorded that lies inside the window. A bucket records from its
        // start (the ring's latest is still filling: it holds `seconds` from its start, not its whole width).
        for bucket in Set([0, to - from]) {
            let bucketStart = Double(first + bucket) * bucketSeconds
            for series in 0..<seriesCount {
                let recorded = result.seconds[bucket * seriesCount + series]
                guard recorded > 0 else { continue }
                let inside = min(bucketStart + recorded, end) - max(bucketStart, start)
                let share = min(1, max(0, inside / recorded))
                result.joules[bucket * seriesCount + series] *= share
                result.seconds[bucket * seriesCount + series] *= share
            }
        }
        while result.bucketCount > maximumBuckets { result.mergePairs() }
        return result
    }

    /// Makes `series` hold exactly `total` joules by moving the difference into the first and last buckets, in
    /// proportion to their seconds: for a window cut out of a ring, whose interior buckets are exact and whose
    /// edges were shared out as if power were even within them, when the window's exact energy is known.
    public mutating func calibrate(series: Int, to total: Double) {
        guard bucketCount > 0, series < seriesCount, total.isFinite else { return }
        var held = 0.0
        for bucket in 0..<bucketCount { held += joules[bucket * seriesCount + series] }
        let edges = bucketCount == 1 ? [0] : [0, bucketCount - 1]
        let edgeSeconds = edges.reduce(0.0) { $0 + seconds[$1 * seriesCount + series] }
        guard edgeSeconds > 0 else { return }
        for bucket in edges {
            let index = bucket * seriesCount + series
            joules[index] = max(0, joules[index] + (total - held) * seconds[index] / edgeSeconds)
        }
    }

    /// The offset, in seconds, of this timeline's first bucket from its origin.
    public var firstBucketOffset: Double { Double(firstBucket) * bucketSeconds }

    // MARK: - Storage

    /// The bucket an interval ending at `end` ends in: an end on a boundary belongs to the bucket before it.
    private func bucket(endingAt end: Double) -> Int {
        max(0, Int((end / bucketSeconds).rounded(.up)) - 1)
    }

    private mutating func add(_ energy: Double, seconds span: Double, series: Int, bucket: Int) {
        let index = (bucket - firstBucket) * seriesCount + series
        joules[index] += energy
        seconds[index] += span
    }

    /// Grows the buckets to hold time `end`, merging (`.whole`) or dropping the oldest (`.recent`) to stay within
    /// the bound.
    private mutating func makeRoom(through end: Double) {
        switch retention {
        case .whole(let maximum):
            while bucket(endingAt: end) >= maximum { mergePairs() }
        case .recent(let capacity):
            let needed = bucket(endingAt: end) + 1 - capacity
            if needed > firstBucket { drop(min(needed - firstBucket, bucketCount), newFirst: needed) }
        }
        let wanted = bucket(endingAt: end) + 1 - firstBucket
        if wanted > bucketCount {
            let more = wanted - bucketCount
            joules += repeatElement(0, count: more * seriesCount)
            seconds += repeatElement(0, count: more * seriesCount)
            minimumWatts += repeatElement(nil, count: more)
            maximumWatts += repeatElement(nil, count: more)
        }
    }

    private mutating func drop(_ count: Int, newFirst: Int) {
        joules.removeFirst(count * seriesCount)
        seconds.removeFirst(count * seriesCount)
        minimumWatts.removeFirst(count)
        maximumWatts.removeFirst(count)
        firstBucket = newFirst
    }

    /// Merges neighbours pairwise: the width doubles, the energy and seconds add, the extremes combine.
    mutating func mergePairs() {
        precondition(firstBucket == 0, "only a whole-run timeline merges")
        let merged = (bucketCount + 1) / 2
        var newJoules = [Double](repeating: 0, count: merged * seriesCount)
        var newSeconds = newJoules
        var newMinimum = [Double?](repeating: nil, count: merged)
        var newMaximum = newMinimum
        for bucket in 0..<bucketCount {
            let target = bucket / 2
            for series in 0..<seriesCount {
                newJoules[target * seriesCount + series] += joules[bucket * seriesCount + series]
                newSeconds[target * seriesCount + series] += seconds[bucket * seriesCount + series]
            }
            if let low = minimumWatts[bucket] { newMinimum[target] = min(newMinimum[target] ?? low, low) }
            if let high = maximumWatts[bucket] { newMaximum[target] = max(newMaximum[target] ?? high, high) }
        }
        joules = newJoules
        seconds = newSeconds
        minimumWatts = newMinimum
        maximumWatts = newMaximum
        bucketSeconds *= 2
    }
}
