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
        var recovered: [ChannelID] = []
        var missing: [ChannelID] = []
        var savedTotals: [ChannelID: ChannelTotal] = [:]
        for total in saved.channels { savedTotals[total.id] = total }
        var ownTotals: [ChannelID: ChannelTotal] = [:]
        for total in self.channels { ownTotals[total.id] = total }
        var descriptors: [ChannelID: ChannelDescriptor] = [:]
        for descriptor in channels { descriptors[descriptor.id] = descriptor }
        let gapSeconds = saved.instant.seconds(to: baseline.instant)
        let samplesBefore = saved.samples - samples
        for index in start.channels.indices {
            let now = baseline.channels[index]
            start.channels[index].watts = 0
            start.channels[index].counter = nil
            guard let descriptor = descriptors[now.id], descriptor.isEnergy else { continue }
            // What the job had before the restart, in the old sampler's totals, plus the gap where recoverable.
            var before = ChannelTotal(
                id: now.id, joules: 0, measured: true, watts: 0, readings: 0, errors: 0, wraps: 0, resets: 0,
                counter: nil)
            if let last = savedTotals[now.id], let first = ownTotals[now.id] {
                before.joules = last.joules - first.joules
                before.readings = last.readings - first.readings
                before.errors = last.errors - first.errors
                before.wraps = last.wraps - first.wraps
                before.resets = last.resets - first.resets
                var gap: CounterStep?
                if sameBoot, gapSeconds >= 0, case .energyCounter(let range) = descriptor.quantity,
                    let old = last.counter, let new = now.counter
                {
                    gap = CounterAccumulator.step(
                        from: MicrojouleCounter(old), to: MicrojouleCounter(new), seconds: gapSeconds, range: range)
                }
                switch gap {
                case .advanced(let energy):
                    before.joules += energy.value
                    recovered.append(now.id)
                case .wrapped(let energy):
                    before.joules += energy.value
                    before.wraps += 1
                    recovered.append(now.id)
                case .ambiguous, .reset, .baseline, nil:
                    // A job that started after the saved checkpoint has a negative share before it; with the gap
                    // unknown, nothing of the job before the restart is known.
                    before.joules = Swift.max(0, before.joules)
                    missing.append(now.id)
                }
            } else {
                missing.append(now.id)  // not sampled before the restart
            }
            start.channels[index].joules = now.joules - before.joules
            start.channels[index].readings = now.readings - before.readings
            start.channels[index].errors = now.errors - before.errors
            start.channels[index].wraps = now.wraps - before.wraps
            start.channels[index].resets = now.resets - before.resets
        }
        start.samples = baseline.samples - samplesBefore
        return CarriedWindow(start: start, recovered: recovered, missing: missing)
    }
}
