import SustainCore

/// What was measured on one channel.
public struct ChannelResult: Sendable {
    public enum Method: String, Sendable, Codable {
        /// Deltas of a cumulative energy counter.
        case counter
        /// Trapezoid integration of power readings.
        case powerIntegration = "power-integration"
        /// Not an energy channel.
        case none
    }

    public var descriptor: ChannelDescriptor
    /// Whether the channel is counted, and why; nil for temperatures.
    public var decision: DomainDecision?
    /// The energy measured; nil when nothing was measured (unreadable, or fewer than two readings).
    public var energy: Joules?
    public var method: Method
    public var readings: Int
    public var errors: Int
    public var wraps: Int
    public var resets: Int
    /// Intervals longer than the counter's shortest wrap period.
    public var ambiguousIntervals: Int
    public var firstFailure: ReadFailure?
    public var temperature: TemperatureStatistics?
}

/// Everything the sampler learned between the first and the last sample.
public struct MeasurementResult: Sendable {
    public var channels: [ChannelResult]
    /// The interval the sampler aimed for.
    public var interval: Duration
    /// The longest interval that keeps every counter from wrapping unseen, when a counter limits it.
    public var intervalLimit: Duration?
    /// From the first sample (just before the child started) to the last (just after it was reaped).
    public var duration: Duration
    /// Samples of all channels taken, first and last included.
    public var samples: Int
    /// Highest power over one sampling interval (intervals shorter than half the nominal one are not judged).
    public var peakPower: Watts?
    /// CPU time used by the sampling thread: the cost of measuring.
    public var samplerCPUSeconds: Double
    public var warnings: [String]
    /// Power over the window, in bounded buckets; nil when the sampler keeps none.
    public var timeline: TimelineData?

    public init(
        channels: [ChannelResult], interval: Duration, intervalLimit: Duration?, duration: Duration, samples: Int,
        peakPower: Watts?, samplerCPUSeconds: Double, warnings: [String]
    ) {
        self.channels = channels
        self.interval = interval
        self.intervalLimit = intervalLimit
        self.duration = duration
        self.samples = samples
        self.peakPower = peakPower
        self.samplerCPUSeconds = samplerCPUSeconds
        self.warnings = warnings
    }

    public var counted: [ChannelResult] { channels.filter { $0.decision?.counted == true } }

    /// The counted total; nil when no counted channel was measured.
    public var countedEnergy: Joules? {
        let measured = counted.compactMap(\.energy)
        return measured.isEmpty ? nil : measured.reduce(.zero, +)
    }

    public var meanPower: Watts? { countedEnergy.flatMap { $0 / duration } }
    public var errors: Int { channels.reduce(0) { $0 + $1.errors } }
    public var wraps: Int { channels.reduce(0) { $0 + $1.wraps } }
    public var resets: Int { channels.reduce(0) { $0 + $1.resets } }
}

/// A sampler's power timeline over a window: the buckets, which channel each series is, and where the first
/// bucket starts relative to the window's start (zero or less: the edge bucket is whole).
public struct TimelineData: Sendable, Equatable {
    public var timeline: PowerTimeline
    public var series: [ChannelID]
    public var firstBucketOffset: Double

    public init(timeline: PowerTimeline, series: [ChannelID], firstBucketOffset: Double) {
        self.timeline = timeline
        self.series = series
        self.firstBucketOffset = firstBucketOffset
    }
}
