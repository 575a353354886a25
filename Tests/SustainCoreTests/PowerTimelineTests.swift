import SustainCore
import Testing

struct PowerTimelineTests {
    /// A 30-day run sampled every 10 s at a power that changes every hour: the buckets stay bounded, every joule is
    /// kept, and a short peak survives in the bucket's maximum.
    @Test func aLongRunStaysBoundedAndConservesEveryJoule() {
        var timeline = PowerTimeline(series: 2, bucketSeconds: 0.1)
        var injected = [0.0, 0.0]
        var t = 0.0
        while t < 30 * 86_400 {
            let watts = t == 86_400 ? 5_000 : 100 + Double(Int(t / 3_600) % 7) * 10
            for series in 0..<2 {
                timeline.record(series: series, joules: watts * 10 * Double(series + 1), from: t, to: t + 10)
                injected[series] += watts * 10 * Double(series + 1)
            }
            timeline.recordCountedPower(watts * 3, at: t + 10)
            t += 10
        }
        #expect(timeline.bucketCount <= PowerTimeline.defaultMaximumBuckets)
        #expect(timeline.bucketCount > PowerTimeline.defaultMaximumBuckets / 2)
        for series in 0..<2 {
            #expect(abs(timeline.totalJoules[series] - injected[series]) / injected[series] < 1e-9)
        }
        let seen = timeline.seconds.enumerated().filter { $0.offset % 2 == 0 }.map(\.element).reduce(0, +)
        #expect(abs(seen - 30 * 86_400) < 1e-3)
        #expect(timeline.maximumWatts.compactMap { $0 }.max() == 15_000, "the 10 s peak is not averaged away")
    }

    /// An interval spanning buckets is split in proportion to the overlap.
    @Test func anIntervalIsSplitOverTheBucketsItSpans() {
        var timeline = PowerTimeline(series: 1, bucketSeconds: 1)
        timeline.record(series: 0, joules: 30, from: 0.5, to: 3.5)
        #expect(timeline.joules == [5, 10, 10, 5])
        #expect(timeline.seconds == [0.5, 1, 1, 0.5])
    }

    /// A service's ring keeps the recent buckets; a job's window is cut out of it, merged down to its bound.
    @Test func aRingDropsTheOldestAndCutsWindows() throws {
        var ring = PowerTimeline(series: 1, bucketSeconds: 1, retention: .recent(buckets: 100))
        for second in 0..<250 {
            ring.record(series: 0, joules: Double(second), from: Double(second), to: Double(second + 1))
        }
        #expect(ring.bucketCount == 100 && ring.firstBucket == 150)
        #expect(ring.window(from: 10, to: 20) == nil, "no longer held")
        let window = try #require(ring.window(from: 200, to: 239.5, maximumBuckets: 16))
        #expect(window.bucketSeconds == 4 && window.bucketCount == 10)
        let expected: Double = (200..<240).reduce(0.0) { $0 + Double($1) } - 239.0 / 2  // half of the last second
        #expect(window.totalJoules == [expected])
    }
}

extension PowerTimelineTests {
    /// A window that starts and ends inside buckets keeps only its share of them.
    @Test func aWindowKeepsItsShareOfTheEdgeBuckets() throws {
        var ring = PowerTimeline(series: 1, bucketSeconds: 1, retention: .recent(buckets: 100))
        ring.record(series: 0, joules: 100, from: 0, to: 10)
        let window = try #require(ring.window(from: 2.25, to: 5.5))
        #expect(window.joules == [7.5, 10, 10, 5])
        #expect(abs(window.totalJoules[0] - 32.5) < 1e-9)
        let inside = try #require(ring.window(from: 3.2, to: 3.7))
        #expect(abs(inside.totalJoules[0] - 5) < 1e-9)
    }

    /// At a job's stop the ring's latest bucket is still filling: what it holds up to the stop is all inside the
    /// window and is kept whole (cutting it again by the stop's share of the bucket put the job's last joules at
    /// its start, through calibration: 8 % of a step in hourly carbon, seen through the service).
    @Test func theLatestBucketStillFillingIsKeptWhole() throws {
        var ring = PowerTimeline(series: 1, bucketSeconds: 1, retention: .recent(buckets: 100))
        ring.record(series: 0, joules: 53, from: 0, to: 5.3)
        let window = try #require(ring.window(from: 2.25, to: 5.3))
        #expect(window.joules.map { ($0 * 1e9).rounded() / 1e9 } == [7.5, 10, 10, 3])
        #expect(window.seconds.map { ($0 * 1e9).rounded() / 1e9 } == [0.75, 1, 1, 0.3])
    }
}
