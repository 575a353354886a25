import SustainCore

/// How a job's window is carried across a restart of the sampler (a daemon crash, `kill -9`, or an upgrade).
public struct CarriedWindow: Sendable, Equatable {
    /// The job's start, expressed in the new sampler's running totals: `measurement(from: start, to: end)` of the
    /// new sampler gives the energy before the restart, across the gap where it could be recovered, and after.
    public var start: SamplerCheckpoint
    /// Counted-quantity channels whose energy across the gap came from counter deltas.
    public var recovered: [ChannelID]
    /// Energy channels with no measurement across the gap (power readings, or a counter whose delta is not sound:
    /// it may have wrapped more than once, it went backwards, or the machine rebooted).
    public var missing: [ChannelID]
}

extension SamplerCheckpoint {
    /// Carries a job's window from one sampler to the next.
    ///
    /// `self` is the job's start in the old sampler's totals, `saved` the old sampler's last persisted checkpoint
    /// (possibly before the job's start: the share before the job is then negative, and cancels), `baseline` the
    /// new sampler's first checkpoint. The gap between `saved` and `baseline` is recovered for a
    /// counter when both boots are the same and `CounterAccumulator.step` finds one unambiguous advance (a single
    /// wrap at most, at a plausible power); otherwise it is missing and said so. Pure; tested with invented values.
    public func carried(
        saved: SamplerCheckpoint, to baseline: SamplerCheckpoint, channels: [ChannelDescriptor], sameBoot: Bool
    ) -> CarriedWindow {
        var start = baseline
        start.instant = sameBoot ? instant : baseline.instant
        start.watts = Array(repeating: 0, count: baseline.channels.count)
        start.counters = Array(repeating: nil, count: baseline.channels.count)
        var recovered: [ChannelID] = []
        var missing: [ChannelID] = []
        var oldPosition: [ChannelID: Int] = [:]
        for (index, id) in saved.channels.enumerated() { oldPosition[id] = index }
        var descriptors: [ChannelID: ChannelDescriptor] = [:]
        for descriptor in channels { descriptors[descriptor.id] = descriptor }
        let gapSeconds = saved.instant.seconds(to: baseline.instant)
        let samplesBefore = saved.samples - samples
        for (index, id) in baseline.channels.enumerated() {
            guard let descriptor = descriptors[id], descriptor.isEnergy else { continue }
            var joules = 0.0
            var readings = 0
            var errors = 0
            var wraps = 0
            var resets = 0
            if let old = oldPosition[id], old < self.channels.count, self.channels[old] == id {
                joules = saved.joules[old] - self.joules[old]
                readings = saved.readings[old] - self.readings[old]
                errors = saved.errors[old] - self.errors[old]
                wraps = saved.wraps[old] - self.wraps[old]
                resets = saved.resets[old] - self.resets[old]
                var gap: CounterStep?
                if sameBoot, gapSeconds >= 0, case .energyCounter(let range) = descriptor.quantity,
                    let before = saved.counters[old], let after = baseline.counters[index]
                {
                    gap = CounterAccumulator.step(
                        from: MicrojouleCounter(before), to: MicrojouleCounter(after), seconds: gapSeconds, range: range
                    )
                }
                switch gap {
                case .advanced(let energy):
                    joules += energy.value
                    recovered.append(id)
                case .wrapped(let energy):
                    joules += energy.value
                    wraps += 1
                    recovered.append(id)
                case .ambiguous, .reset, .baseline, nil:
                    // A job that started after the saved checkpoint has a negative share before it; with the gap
                    // unknown, nothing of the job before the restart is known.
                    joules = Swift.max(0, joules)
                    missing.append(id)
                }
            } else {
                missing.append(id)  // not sampled before the restart
            }
            start.joules[index] = baseline.joules[index] - joules
            start.readings[index] = baseline.readings[index] - readings
            start.errors[index] = baseline.errors[index] - errors
            start.wraps[index] = baseline.wraps[index] - wraps
            start.resets[index] = baseline.resets[index] - resets
        }
        start.samples = baseline.samples - samplesBefore
        return CarriedWindow(start: start, recovered: recovered, missing: missing)
    }
}
