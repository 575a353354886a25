import SustainCore

/// The sampler's running totals: per-channel tracks, the counted sum, peak power and the live window.
struct Accumulation {
    /// One sampled channel, trivial so the hot loop copies no strings and touches no reference counts; the sources
    /// are kept alive by the sampler.
    struct Slot {
        unowned(unsafe) let source: any EnergySource
        let index: Int
        let isTemperature: Bool
        var counted = false
    }

    static let temperatureSeconds = Sampler.temperatureInterval / .seconds(1)

    var slots: [Slot]
    var tracks: [ChannelTrack]
    let intervalSeconds: Double
    var start: MonotonicInstant?
    var samples = 0
    var lastTick: MonotonicInstant?
    var lastTemperature: MonotonicInstant?
    var counted: Joules = .zero
    var anyCountedReading = false
    var peakPower: Watts?
    var window: (start: MonotonicInstant, energy: Joules)?
    var windowPower: Watts?
    /// Each channel's latest clean power, for extrapolating a checkpoint between ticks.
    var recentPower: [Double] = []
    /// Power over time per energy channel (`seriesOfSlot`: the slot's series, -1 for a temperature).
    var timeline: PowerTimeline?
    var seriesOfSlot: [Int] = []

    init(slots: [Slot], tracks: [ChannelTrack], interval: Duration) {
        self.slots = slots
        self.tracks = tracks
        recentPower = Array(repeating: 0, count: slots.count)
        intervalSeconds = interval / .seconds(1)
    }

    /// Reads every channel once; returns a new live snapshot about once a second (and on the first samples).
    mutating func tick(_ instant: MonotonicInstant) -> LiveSnapshot? {
        let readTemperatures =
            lastTemperature.map { $0.seconds(to: instant) >= Accumulation.temperatureSeconds } ?? true
        if readTemperatures { lastTemperature = instant }
        var energy = Joules.zero
        var power = 0.0
        var judged = samples > 0  // peak power is judged over ticks where every counted channel read cleanly
        let offset = start.map { $0.seconds(to: instant) } ?? 0
        for index in slots.indices {
            let slot = slots[index]
            if slot.isTemperature && !readTemperatures { continue }
            let reading = slot.source.read(slot.index)
            let step = tracks[index].record(reading, at: instant)
            if step.clean, step.elapsedSeconds > 0 { recentPower[index] = step.energy.value / step.elapsedSeconds }
            if seriesOfSlot.indices.contains(index), seriesOfSlot[index] >= 0, step.elapsedSeconds > 0 {
                timeline?.record(
                    series: seriesOfSlot[index], joules: step.energy.value, from: offset - step.elapsedSeconds,
                    to: offset)
            }
            guard slot.counted else { continue }
            energy += step.energy
            if step.readingFailed { continue }
            anyCountedReading = true
            if step.clean, step.elapsedSeconds * 2 >= intervalSeconds {
                power += step.energy.value / step.elapsedSeconds
            } else {
                judged = false
            }
        }
        samples += 1
        if judged, anyCountedReading, peakPower.map({ power > $0.value }) ?? true { peakPower = Watts(power) }
        if judged, anyCountedReading { timeline?.recordCountedPower(power, at: offset) }
        lastTick = instant
        counted += energy
        return liveUpdate(instant)
    }

    /// The running totals now, for `Sampler.checkpoint(at:)`.
    func checkpoint(ids: [ChannelID]) -> SamplerCheckpoint {
        SamplerCheckpoint(
            instant: lastTick ?? start ?? MonotonicInstant(nanoseconds: 0),
            channels: tracks.indices.map { index in
                let track = tracks[index]
                return ChannelTotal(
                    id: ids[index], joules: track.runningEnergy.value, measured: track.readings >= 1,
                    watts: recentPower[index], readings: track.readings, errors: track.errors,
                    wraps: track.counter.wraps, resets: track.counter.resets,
                    counter: track.quantity == .counter ? track.counter.last?.microjoules : nil)
            }, samples: samples)
    }

    private mutating func liveUpdate(_ instant: MonotonicInstant) -> LiveSnapshot? {
        guard let start else { return nil }
        if let window {
            let elapsed = window.start.seconds(to: instant)
            guard elapsed >= 1 else { return nil }
            windowPower = Watts((counted - window.energy).value / elapsed)
        }
        window = (instant, counted)
        let measured = anyCountedReading && samples >= 2
        return LiveSnapshot(
            elapsed: start.duration(to: instant), energy: measured ? counted : nil,
            power: measured ? windowPower : nil)
    }
}
