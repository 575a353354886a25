/// Chooses how often to sample so that no counter can wrap unseen between two readings.
public enum SamplingInterval {
    /// The interval used when nothing forces a shorter one: 10 Hz, fine for power integration and cheap.
    public static let standard: Duration = .milliseconds(100)
    /// The shortest interval offered: 1 kHz, the update rate of RAPL counters.
    public static let minimum: Duration = .milliseconds(1)
    /// Sample at least this many times per shortest wrap period.
    public static let samplesPerWrap = 4

    /// The interval to use for `ranges`: the standard one, or shorter when a counter could wrap faster. A requested
    /// interval is honoured when it is shorter than the automatic one; a longer request is capped, and the
    /// returned `capped` says so.
    /// `maximumIntervals` are channels' own limits (a power sensor polled at ≥ 10 Hz).
    public static func choose(
        for ranges: [CounterRange], maximumIntervals: [Duration] = [], requested: Duration? = nil
    ) -> (interval: Duration, limit: Duration?, capped: Bool) {
        let limit = (ranges.compactMap(\.shortestWrapPeriod).map { $0 / samplesPerWrap } + maximumIntervals).min()
        var interval = requested ?? standard
        var capped = false
        if let limit, interval > limit {
            interval = limit
            capped = requested != nil
        }
        return (max(interval, minimum), limit, capped)
    }
}
