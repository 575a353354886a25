import Meter
import SustainCore

extension Report {
    /// The power over the job, in at most a few thousand equal buckets however long it ran: per energy domain, the
    /// counted total, and the lowest and highest counted power of the sampling intervals inside each bucket.
    ///
    /// Bucket `i` covers `offset_seconds + i × bucket_seconds` from `started_at`; `seconds[i]` is how much of it was
    /// sampled (the first and last are partial), so `Σ counted_watts[i] × seconds[i]` is the counted energy.
    /// A bucket with no sample holds null, never 0 W.
    public struct Timeline: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case bucketSeconds = "bucket_seconds"
            case offsetSeconds = "offset_seconds"
            case seconds
            case countedWatts = "counted_watts"
            case countedMinWatts = "counted_min_watts"
            case countedMaxWatts = "counted_max_watts"
            case series, note
        }

        public struct Series: Codable, Sendable, Equatable {
            public var id: String
            public var name: String
            public var kind: String
            public var counted: Bool
            /// Mean power per bucket; null where the domain was not sampled.
            public var watts: [Double?]
        }

        public var bucketSeconds: Double
        public var offsetSeconds: Double
        public var seconds: [Double]
        public var countedWatts: [Double?]
        public var countedMinWatts: [Double?]
        public var countedMaxWatts: [Double?]
        public var series: [Series]
        public var note: String

        /// The counted energy the buckets hold (`Σ counted_watts × seconds`).
        public var countedJoules: Double {
            zip(countedWatts, seconds).reduce(0) { $0 + ($1.0 ?? 0) * $1.1 }
        }
    }
}

extension Report.Timeline {
    /// The report's timeline from the sampler's, for the energy channels the measurement describes; nil when no
    /// counted domain was sampled.
    init?(_ data: TimelineData, channels: [ChannelResult]) {
        let timeline = data.timeline
        let count = timeline.bucketCount
        let width = timeline.seriesCount
        guard count > 0, width == data.series.count else { return nil }
        var byID: [ChannelID: ChannelResult] = [:]
        for channel in channels { byID[channel.descriptor.id] = channel }
        let counted = data.series.map { byID[$0]?.decision?.counted ?? false }
        guard counted.contains(true) else { return nil }
        func rounded(_ watts: Double) -> Double { (watts * 1000).rounded() / 1000 }
        var seconds = [Double](repeating: 0, count: count)
        var countedWatts = [Double?](repeating: nil, count: count)
        for bucket in 0..<count {
            var joules = 0.0
            var seen = 0.0
            for series in 0..<width where counted[series] {
                joules += timeline.joules[bucket * width + series]
                seen = max(seen, timeline.seconds[bucket * width + series])
            }
            seconds[bucket] = (seen * 1_000_000).rounded() / 1_000_000
            if seen > 0 { countedWatts[bucket] = joules / seen }
        }
        self.init(
            bucketSeconds: timeline.bucketSeconds,
            offsetSeconds: data.firstBucketOffset + timeline.firstBucketOffset, seconds: seconds,
            countedWatts: countedWatts.map { $0.map(rounded) },
            countedMinWatts: timeline.minimumWatts.map { $0.map(rounded) },
            countedMaxWatts: timeline.maximumWatts.map { $0.map(rounded) },
            series: data.series.enumerated().map { index, id in
                let descriptor = byID[id]?.descriptor
                return Series(
                    id: id.rawValue, name: descriptor?.name ?? id.rawValue, kind: descriptor?.kind.rawValue ?? "other",
                    counted: counted[index],
                    watts: (0..<count).map { bucket in
                        let seen = timeline.seconds[bucket * width + index]
                        return seen > 0 ? rounded(timeline.joules[bucket * width + index] / seen) : nil
                    })
            },
            note:
                "Counted power per bucket (Σ counted_watts × seconds = the counted energy); min/max are the extremes "
                + "of the sampling intervals inside each bucket, null where none was judged.")
    }
}

extension Report.Timeline {
    static let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// One run of neighbouring buckets merged: where it starts (seconds from `started_at`), how much of it was
    /// sampled, its counted energy, and the extremes of the sampling intervals inside it.
    struct Span {
        var from: Double
        var seconds: Double
        var joules: Double
        var lowest: Double?
        var highest: Double?
    }

    /// The buckets merged evenly into at most `rows` spans, energy conserved: what the sparkline and the HTML
    /// page's table both show.
    func merged(atMost rows: Int) -> [Span] {
        let count = seconds.count
        let group = max(1, (count + rows - 1) / rows)
        var spans: [Span] = []
        var bucket = 0
        while bucket < count {
            let end = min(count, bucket + group)
            var span = Span(
                from: offsetSeconds + Double(bucket) * bucketSeconds, seconds: 0, joules: 0, lowest: nil,
                highest: nil)
            for index in bucket..<end {
                span.joules += (countedWatts[index] ?? 0) * seconds[index]
                span.seconds += seconds[index]
                if let value = countedMinWatts[index] { span.lowest = min(span.lowest ?? value, value) }
                if let value = countedMaxWatts[index] { span.highest = max(span.highest ?? value, value) }
            }
            spans.append(span)
            bucket = end
        }
        return spans
    }

    /// The counted power over the run as one line of block characters, at most `width` wide (neighbouring buckets
    /// merged by energy), scaled from 0 W to the highest; a gap with no sample is a blank. Nil for fewer than two
    /// buckets.
    public func sparkline(width: Int = 60) -> (line: String, legend: String)? {
        let count = seconds.count
        guard count >= 2 else { return nil }
        let group = max(1, (count + width - 1) / width)
        let means = merged(atMost: width).map { $0.seconds > 0 ? $0.joules / $0.seconds : nil }
        let highest = means.compactMap { $0 }.max() ?? 0
        guard highest > 0 else { return nil }
        let line = String(
            means.map { mean in
                mean.map { Self.blocks[min(7, max(0, Int(($0 / highest * 8).rounded(.down))))] } ?? " "
            })
        let span = bucketSeconds * Double(group)
        return (
            line,
            "counted power, 0 to \(Quantity.power(highest)), \(Quantity.duration(span)) per character"
        )
    }
}
