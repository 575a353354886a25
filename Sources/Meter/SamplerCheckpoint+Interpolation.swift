import SustainCore

extension SamplerCheckpoint {
    /// The running totals at `instant` between two readings: each measured channel's energy on the straight line
    /// from `earlier` to `later` (the power between two readings is known only as their mean); `readings` from
    /// `later` and `readingsBefore` from `earlier`, so a window from or to here counts both real readings it rests
    /// on; errors and the raw counter from `earlier`. `instant` is clamped to the two readings' span.
    public static func interpolated(
        between earlier: SamplerCheckpoint, and later: SamplerCheckpoint, at instant: MonotonicInstant
    ) -> SamplerCheckpoint {
        guard later.instant > earlier.instant else { return instant <= earlier.instant ? earlier : later }
        if instant <= earlier.instant { return earlier }
        if instant >= later.instant { return later }
        let fraction = earlier.instant.seconds(to: instant) / earlier.instant.seconds(to: later.instant)
        var after: [ChannelID: ChannelTotal] = [:]
        for total in later.channels { after[total.id] = total }
        let channels = earlier.channels.map { total -> ChannelTotal in
            guard let end = after[total.id], total.measured, end.measured else { return total }
            var result = total
            result.joules = total.joules + (end.joules - total.joules) * fraction
            result.watts = end.watts
            result.readings = end.readings
            result.readingsBefore = total.readings
            return result
        }
        return SamplerCheckpoint(instant: instant, channels: channels, samples: earlier.samples)
    }
}

/// The last readings a sampler published, oldest first, so that a mark or a stop that reaches the service late
/// is resolved at the instant it was made (`Sampler.checkpoint(resolving:)`), not when it arrived.
struct RecentReadings {
    /// How many readings are kept: at least `capacity` × `spacing` = 10 s however many fresh readings the marks
    /// take (51 s at the service's 10 Hz).
    static let capacity = 512
    /// A reading this soon after the newest kept replaces it: between readings 20 ms apart a mark is placed well,
    /// and a flood of marks, each a fresh reading, cannot push the last seconds out of the ring.
    static let spacing: UInt64 = 20_000_000

    private var ring: [SamplerCheckpoint] = []
    private var next = 0

    mutating func append(_ checkpoint: SamplerCheckpoint) {
        // A reading within `spacing` of the newest replaces it (a stopped clock, or a flood of fresh readings,
        // must not push out the past); the one before stays, so the ring still brackets every instant it spans.
        let newest = ring.count < Self.capacity ? ring.count - 1 : (next + Self.capacity - 1) % Self.capacity
        let before = ring.count < Self.capacity ? ring.count - 2 : (next + Self.capacity - 2) % Self.capacity
        if ring.indices.contains(newest), ring.indices.contains(before),
            ring[newest].instant.nanoseconds - ring[before].instant.nanoseconds < Self.spacing
        {
            ring[newest] = checkpoint
            return
        }
        if ring.indices.contains(newest), ring[newest].instant == checkpoint.instant {
            ring[newest] = checkpoint
            return
        }
        if ring.count < Self.capacity {
            ring.append(checkpoint)
        } else {
            ring[next] = checkpoint
            next = (next + 1) % Self.capacity
        }
    }

    /// The oldest reading kept.
    var oldest: SamplerCheckpoint? { ring.isEmpty ? nil : ring[ring.count < Self.capacity ? 0 : next] }

    /// The totals at `instant` from the two kept readings around it; nil when `instant` is before the oldest or
    /// after the newest.
    func checkpoint(at instant: MonotonicInstant) -> SamplerCheckpoint? {
        let count = ring.count
        guard count > 0 else { return nil }
        let start = count < Self.capacity ? 0 : next
        // Readings are in order of their instants: binary search for the first at or after `instant`.
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if ring[(start + middle) % count].instant < instant { low = middle + 1 } else { high = middle }
        }
        guard low < count else { return nil }
        let after = ring[(start + low) % count]
        if after.instant == instant { return after }
        guard low > 0 else { return nil }
        return .interpolated(between: ring[(start + low - 1) % count], and: after, at: instant)
    }
}
