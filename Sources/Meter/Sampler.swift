import LinuxSupport
import Logging
import Synchronization
import SustainCore

/// What the sampler has seen so far, for a live status line.
public struct LiveSnapshot: Sendable, Equatable {
    public var elapsed: Duration = .zero
    /// Counted energy so far; nil while nothing counted has been measured.
    public var energy: Joules?
    /// Counted power over about the last second.
    public var power: Watts?
}

/// Samples every readable channel of its sources on one thread at a fixed interval and accumulates energy.
///
/// `start()` takes the first sample on the calling thread (immediately before the measured work starts) and then
/// samples on its own thread; `stop()` takes the last sample at once and returns the result. The sources are
/// touched by one thread at a time.
public final class Sampler: @unchecked Sendable {
    public let channels: [ChannelDescriptor]
    public let interval: Duration
    public let intervalLimit: Duration?
    /// True when a requested interval was longer than the counters allow and was shortened.
    public let intervalCapped: Bool
    public private(set) var decisions: [ChannelID: DomainDecision] = [:]

    private struct Slot {
        let source: any EnergySource
        let index: Int
        let descriptor: ChannelDescriptor
        var counted = false
        var isTemperature: Bool { !descriptor.isEnergy }
    }

    private var slots: [Slot]
    private var tracks: [ChannelTrack]
    private var samples = 0
    private var startInstant: ContinuousClock.Instant?
    private var lastTick: ContinuousClock.Instant?
    private var lastTemperature: ContinuousClock.Instant?
    private var countedSoFar: Joules = .zero
    private var anyCountedReading = false
    private var peakPower: Watts?
    private var window: (start: ContinuousClock.Instant, energy: Joules)?

    private let wake: WakeEvent
    private var thread: NativeThread?
    private let live = Mutex(LiveSnapshot())
    private let logger: Logger

    /// Temperatures change slowly and cost a file open per read: read them at most this often.
    public static let temperatureInterval: Duration = .seconds(1)

    public init(sources: [any EnergySource], requestedInterval: Duration? = nil, logger: Logger) throws {
        self.logger = logger
        var slots: [Slot] = []
        for source in sources {
            for (index, descriptor) in source.channels.enumerated() where descriptor.unreadable == nil {
                slots.append(Slot(source: source, index: index, descriptor: descriptor))
            }
        }
        self.slots = slots
        self.tracks = slots.map { ChannelTrack(quantity: $0.descriptor.quantity) }
        self.channels = sources.flatMap(\.channels)
        let ranges = slots.compactMap { slot -> CounterRange? in
            if case .energyCounter(let range) = slot.descriptor.quantity { return range }
            return nil
        }
        let choice = SamplingInterval.choose(for: ranges, requested: requestedInterval)
        (interval, intervalLimit, intervalCapped) = (choice.interval, choice.limit, choice.capped)
        wake = try WakeEvent()
    }

    /// Takes the first sample now, decides which domains are counted, and starts sampling on a thread.
    public func start() throws {
        let now = ContinuousClock.now
        startInstant = now
        tick(now)
        var firstReadings: [ChannelID: MicrojouleCounter] = [:]
        for track in tracks.indices {
            if case .counter(let accumulator) = tracks[track].state, let value = accumulator.last {
                firstReadings[slots[track].descriptor.id] = value
            }
        }
        decisions = DomainPolicy.decide(channels, firstReadings: firstReadings)
        for index in slots.indices { slots[index].counted = decisions[slots[index].descriptor.id]?.counted ?? false }
        thread = try NativeThread(name: "sustain-sampler") { [self] in run() }
    }

    /// Takes the last sample at once, stops the thread and returns what was measured.
    public func stop() -> MeasurementResult {
        wake.signal()
        thread?.join()
        thread = nil
        return result()
    }

    /// The latest live figures; safe from any thread.
    public var snapshot: LiveSnapshot { live.withLock { $0 } }

    /// Reads every readable channel once and records the readings. Public for the benchmark.
    public func sampleOnce() { tick(ContinuousClock.now) }

    private func run() {
        guard let timer = try? PeriodicTimer(interval: interval, stop: wake) else {
            logger.error("cannot start the sampling timer; only the first and last samples are taken")
            wake.wait()
            tick(ContinuousClock.now)
            return
        }
        while case .tick = timer.next() {
            tick(ContinuousClock.now)
        }
        tick(ContinuousClock.now)  // the last sample, right after the stop request
    }

    private func tick(_ instant: ContinuousClock.Instant) {
        let readTemperatures = lastTemperature.map { $0.duration(to: instant) >= Self.temperatureInterval } ?? true
        if readTemperatures { lastTemperature = instant }
        var energy = Joules.zero
        var power = 0.0
        var judged = samples > 0  // peak power is judged over ticks where every counted channel read cleanly
        for index in slots.indices {
            let slot = slots[index]
            if slot.isTemperature && !readTemperatures { continue }
            let reading = slot.source.read(slot.index)
            let step = tracks[index].record(reading, at: ContinuousClock.now)
            guard slot.counted else { continue }
            energy += step.energy
            if case .failed = reading {} else { anyCountedReading = true }
            if step.clean, let elapsed = step.elapsed, elapsed * 2 >= interval, let watts = step.energy / elapsed {
                power += watts.value
            } else {
                judged = false
            }
        }
        samples += 1
        if judged, slots.contains(where: \.counted), peakPower.map({ power > $0.value }) ?? true {
            peakPower = Watts(power)
        }
        lastTick = instant
        countedSoFar += energy
        updateLive(instant)
    }

    private func updateLive(_ instant: ContinuousClock.Instant) {
        guard let start = startInstant else { return }
        var power: Watts?
        if let window, window.start.duration(to: instant) >= .seconds(1) {
            power = (countedSoFar - window.energy) / window.start.duration(to: instant)
            self.window = (instant, countedSoFar)
        } else if window == nil {
            window = (instant, countedSoFar)
        }
        let measured = anyCountedReading && samples >= 2
        live.withLock { snapshot in
            snapshot.elapsed = start.duration(to: instant)
            snapshot.energy = measured ? countedSoFar : nil
            if let power { snapshot.power = power }
        }
    }

    private func result() -> MeasurementResult {
        var channels: [ChannelResult] = []
        var warnings: [String] = []
        var sampled: [ChannelID: Int] = [:]
        for (index, slot) in slots.enumerated() { sampled[slot.descriptor.id] = index }
        for descriptor in self.channels {
            var result = ChannelResult(
                descriptor: descriptor, decision: decisions[descriptor.id], energy: nil,
                method: .none, readings: 0, errors: 0, wraps: 0, resets: 0, ambiguousIntervals: 0)
            guard let index = sampled[descriptor.id] else {
                channels.append(result)
                continue
            }
            let track = tracks[index]
            result.energy = track.energy
            result.readings = track.readings
            result.errors = track.errors
            result.firstFailure = track.firstFailure
            switch track.state {
            case .counter(let accumulator):
                result.method = .counter
                result.wraps = accumulator.wraps
                result.resets = accumulator.resets
                result.ambiguousIntervals = accumulator.ambiguousIntervals
            case .power:
                result.method = .powerIntegration
            case .temperature(let statistics):
                result.temperature = statistics
            }
            warnings += Self.warnings(for: result)
            channels.append(result)
        }
        let duration = (startInstant.flatMap { start in lastTick.map { start.duration(to: $0) } }) ?? .zero
        return MeasurementResult(
            channels: channels, interval: interval, intervalLimit: intervalLimit, duration: duration,
            samples: samples, peakPower: peakPower, warnings: warnings)
    }

    private static func warnings(for result: ChannelResult) -> [String] {
        let id = result.descriptor.id
        var warnings: [String] = []
        if result.errors > 0 {
            warnings.append(
                "\(id): \(result.errors) failed read(s) of \(result.descriptor.path) "
                    + "(first: \(result.firstFailure?.description ?? "unknown")); those samples were skipped")
        }
        if result.resets > 0 {
            warnings.append(
                "\(id): counter reset \(result.resets) time(s); the energy of those intervals is not counted")
        }
        if result.ambiguousIntervals > 0 {
            warnings.append(
                "\(id): \(result.ambiguousIntervals) interval(s) longer than the counter's shortest wrap period "
                    + "(sampler stalled?); a whole wrap may be missing from the total")
        }
        if result.descriptor.isEnergy, result.energy == nil, result.descriptor.unreadable == nil {
            warnings.append("\(id): fewer than two good readings; nothing measured")
        }
        return warnings
    }
}
