import SustainCore

/// Which process tree a daemon's job is, and the devices it was told to use, for charging it GPUs.
public struct JobAttribution: Sendable, Equatable {
    public var root: Int32
    public var visibleDevices: String?
    /// A server (watched or attached): charged only the GPUs its processes ran on, never all for want of any.
    public var processesOnly: Bool

    public init(root: Int32, visibleDevices: String?, processesOnly: Bool = false) {
        self.root = root
        self.visibleDevices = visibleDevices
        self.processesOnly = processesOnly
    }
}

/// One energy domain as the service shows it now.
public struct DomainTotal: Sendable, Equatable {
    public var channel: ChannelDescriptor
    /// Counted into job totals (not a sub-domain or a duplicate).
    public var counted: Bool
    /// Latest power, W.
    public var watts: Double
    /// Energy since the sampler started, J.
    public var joules: Double
}

/// One sampled channel's running totals at one instant.
public struct ChannelTotal: Sendable, Equatable, Codable {
    public var id: ChannelID
    /// Energy since the sampler started.
    public var joules: Double
    /// Whether the channel has a baseline reading (its energy is meaningful).
    public var measured: Bool
    /// Latest clean power, W.
    public var watts: Double
    public var readings: Int
    public var errors: Int
    public var wraps: Int
    public var resets: Int
    /// The latest raw reading of a counter channel (nil for others): after a restart, the delta to the new
    /// sampler's first reading recovers the energy of the gap.
    public var counter: UInt64?
    /// For totals interpolated between two readings (`SamplerCheckpoint.interpolated`): the earlier reading's
    /// count. `readings` is the later one's, so a window that starts or ends here rests on both real readings.
    public var readingsBefore: Int?

    public init(
        id: ChannelID, joules: Double, measured: Bool, watts: Double, readings: Int, errors: Int, wraps: Int,
        resets: Int, counter: UInt64?
    ) {
        self.id = id
        self.joules = joules
        self.measured = measured
        self.watts = watts
        self.readings = readings
        self.errors = errors
        self.wraps = wraps
        self.resets = resets
        self.counter = counter
    }
}

/// The running totals of every sampled channel at one instant. A daemon keeps one per job start and differences
/// it with one at the job's end (`Sampler.measurement(from:to:)`, the one way two totals become a measurement).
public struct SamplerCheckpoint: Sendable, Equatable, Codable {
    public var instant: MonotonicInstant
    public var channels: [ChannelTotal]
    public var samples: Int

    public init(instant: MonotonicInstant, channels: [ChannelTotal], samples: Int) {
        self.instant = instant
        self.channels = channels
        self.samples = samples
    }

    /// The channel's totals, by id.
    public subscript(id: ChannelID) -> ChannelTotal? { channels.first { $0.id == id } }

    /// This checkpoint carried forward to `later` at each channel's latest power (a running job's energy so far).
    public func extrapolated(to later: MonotonicInstant) -> SamplerCheckpoint {
        var result = self
        let seconds = max(0, instant.seconds(to: later))
        result.instant = max(instant, later)
        for index in result.channels.indices where result.channels[index].measured {
            result.channels[index].joules += result.channels[index].watts * seconds
        }
        return result
    }

    enum CodingKeys: String, CodingKey {
        case instant, channels, samples
        // The first version's parallel arrays (checkpoints persisted by a daemon before an upgrade).
        case joules, measured, watts, readings, errors, wraps, resets, counters
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        instant = try container.decode(MonotonicInstant.self, forKey: .instant)
        samples = try container.decode(Int.self, forKey: .samples)
        if let totals = try? container.decode([ChannelTotal].self, forKey: .channels) {
            channels = totals
            return
        }
        let ids = try container.decode([ChannelID].self, forKey: .channels)
        let joules = try container.decode([Double].self, forKey: .joules)
        let measured = try container.decode([Bool].self, forKey: .measured)
        let watts = try container.decode([Double].self, forKey: .watts)
        let readings = try container.decode([Int].self, forKey: .readings)
        let errors = try container.decode([Int].self, forKey: .errors)
        let wraps = try container.decode([Int].self, forKey: .wraps)
        let resets = try container.decode([Int].self, forKey: .resets)
        let counters = try container.decode([UInt64?].self, forKey: .counters)
        guard
            [
                joules.count, measured.count, watts.count, readings.count, errors.count, wraps.count, resets.count,
                counters.count,
            ].allSatisfy({ $0 == ids.count })
        else {
            throw DecodingError.dataCorruptedError(
                forKey: .channels, in: container, debugDescription: "per-channel arrays of different lengths")
        }
        channels = ids.indices.map { index in
            ChannelTotal(
                id: ids[index], joules: joules[index], measured: measured[index], watts: watts[index],
                readings: readings[index], errors: errors[index], wraps: wraps[index], resets: resets[index],
                counter: counters[index])
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(instant, forKey: .instant)
        try container.encode(channels, forKey: .channels)
        try container.encode(samples, forKey: .samples)
    }
}
