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
    /// How many readings are kept: 25 s at the service's 10 Hz, and every fresh reading in between.
    static let capacity = 256

    private var ring: [SamplerCheckpoint] = []
    private var next = 0

    mutating func append(_ checkpoint: SamplerCheckpoint) {
        // A reading at the same instant as the newest replaces it (a stopped clock must not push out the past).
        let newest = ring.count < Self.capacity ? ring.count - 1 : (next + Self.capacity - 1) % Self.capacity
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
