import SustainCore

/// The running state of one sampled channel: its accumulator and its counts.
struct ChannelTrack: Sendable {
    enum State: Sendable {
        case counter(CounterAccumulator)
        case power(PowerIntegrator)
        case temperature(TemperatureStatistics)
    }

    var state: State
    var readings = 0
    var errors = 0
    var firstFailure: ReadFailure?

    init(quantity: ChannelQuantity) {
        switch quantity {
        case .energyCounter(let range): state = .counter(CounterAccumulator(range: range))
        case .power: state = .power(PowerIntegrator())
        case .temperature: state = .temperature(TemperatureStatistics())
        }
    }

    /// What one reading added: energy over the time since the channel's previous good reading. `clean` is false
    /// for a baseline, a failed read, a reset or an ambiguous interval.
    struct Step {
        var energy: Joules = .zero
        var elapsed: Duration?
        var clean = false
    }

    /// Feeds one reading.
    mutating func record(_ reading: Reading, at instant: ContinuousClock.Instant) -> Step {
        switch (reading, state) {
        case (.counter(let value), .counter(var accumulator)):
            readings += 1
            let elapsed = accumulator.lastInstant.map { $0.duration(to: instant) }
            let step = accumulator.record(value, at: instant)
            state = .counter(accumulator)
            let clean: Bool
            switch step {
            case .advanced, .wrapped: clean = true
            case .baseline, .reset, .ambiguous: clean = false
            }
            return Step(energy: step.energy, elapsed: elapsed, clean: clean)
        case (.power(let watts), .power(var integrator)):
            guard watts.value >= 0, watts.value.isFinite else {
                fail(ReadFailure(errno: 0, description: "negative power \(watts.value) W"))
                return Step()
            }
            readings += 1
            let elapsed = integrator.lastInstant.map { $0.duration(to: instant) }
            let energy = integrator.record(watts, at: instant)
            state = .power(integrator)
            return Step(energy: energy, elapsed: elapsed, clean: elapsed != nil)
        case (.temperature(let celsius), .temperature(var statistics)):
            readings += 1
            statistics.record(celsius)
            state = .temperature(statistics)
            return Step()
        case (.failed(let failure), _):
            fail(failure)
            return Step()
        default:
            fail(ReadFailure(errno: 0, description: "reading of the wrong kind"))
            return Step()
        }
    }

    private mutating func fail(_ failure: ReadFailure) {
        errors += 1
        if firstFailure == nil { firstFailure = failure }
    }

    /// The energy measured, or nil when fewer than two readings were taken (nothing measured).
    var energy: Joules? {
        switch state {
        case .counter(let accumulator): readings >= 2 ? accumulator.total : nil
        case .power(let integrator): readings >= 2 ? integrator.total : nil
        case .temperature: nil
        }
    }
}

/// Minimum, maximum and mean of a temperature channel.
public struct TemperatureStatistics: Sendable, Equatable {
    public private(set) var minimum: Celsius?
    public private(set) var maximum: Celsius?
    public private(set) var sum = 0.0
    public private(set) var count = 0

    public init() {}

    mutating func record(_ value: Celsius) {
        minimum = Swift.min(minimum ?? value, value)
        maximum = Swift.max(maximum ?? value, value)
        sum += value.value
        count += 1
    }

    public var mean: Celsius? { count > 0 ? Celsius(sum / Double(count)) : nil }
}
