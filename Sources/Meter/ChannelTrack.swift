import SustainCore

/// The running state of one sampled channel: its accumulator and its counts. Every accumulator is stored (only the
/// one for `quantity` is used) so that recording mutates it in place, with no optional or enum payload to copy.
struct ChannelTrack: Sendable {
    enum Quantity: Sendable { case counter, power, temperature }

    let quantity: Quantity
    private(set) var counter: CounterAccumulator
    private(set) var integrator = PowerIntegrator()
    private(set) var temperature = TemperatureStatistics()
    private(set) var readings = 0
    private(set) var errors = 0
    private(set) var firstFailure: ReadFailure?

    init(quantity: ChannelQuantity) {
        switch quantity {
        case .energyCounter(let range):
            self.quantity = .counter
            counter = CounterAccumulator(range: range)
        case .power:
            self.quantity = .power
            counter = CounterAccumulator(range: CounterRange(maxMicrojoules: nil, plausibleMaxPower: Watts(0)))
        case .temperature:
            self.quantity = .temperature
            counter = CounterAccumulator(range: CounterRange(maxMicrojoules: nil, plausibleMaxPower: Watts(0)))
        }
    }

    /// What one reading added: energy over the seconds since the channel's previous good reading. `clean` is false
    /// for a baseline, a failed read, a reset or an ambiguous interval.
    struct Step {
        var energy: Joules = .zero
        var elapsedSeconds = 0.0
        var clean = false
        var readingFailed = false
    }

    /// Feeds one reading.
    mutating func record(_ reading: Reading, at instant: MonotonicInstant) -> Step {
        switch (reading, quantity) {
        case (.counter(let value), .counter):
            readings += 1
            let elapsed = counter.lastInstant.map { $0.seconds(to: instant) } ?? 0
            switch counter.record(value, at: instant) {
            case .advanced(let energy), .wrapped(let energy):
                return Step(energy: energy, elapsedSeconds: elapsed, clean: true)
            case .ambiguous(let energy):
                return Step(energy: energy, elapsedSeconds: elapsed)
            case .baseline, .reset:
                return Step(elapsedSeconds: elapsed)
            }
        case (.power(let watts), .power):
            guard watts.value >= 0, watts.value.isFinite else { return fail(ReadFailure(.invalidValue)) }
            readings += 1
            let elapsed = integrator.lastInstant.map { $0.seconds(to: instant) }
            let energy = integrator.record(watts, at: instant)
            return Step(energy: energy, elapsedSeconds: elapsed ?? 0, clean: elapsed != nil)
        case (.temperature(let celsius), .temperature):
            readings += 1
            temperature.record(celsius)
            return Step()
        case (.failed(let failure), _):
            return fail(failure)
        default:
            return fail(ReadFailure(.invalidValue))
        }
    }

    private mutating func fail(_ failure: ReadFailure) -> Step {
        errors += 1
        if firstFailure == nil { firstFailure = failure }
        return Step(readingFailed: true)
    }

    /// The energy measured, or nil when fewer than two readings were taken (nothing measured).
    var energy: Joules? {
        guard readings >= 2 else { return nil }
        switch quantity {
        case .counter: return counter.total
        case .power: return integrator.total
        case .temperature: return nil
        }
    }

    /// Energy so far, whatever the number of readings (0 before the second).
    var runningEnergy: Joules {
        switch quantity {
        case .counter: counter.total
        case .power: integrator.total
        case .temperature: .zero
        }
    }

    /// The first counter reading, for the domain policy's same-counter check.
    var firstCounterReading: MicrojouleCounter? { quantity == .counter ? counter.last : nil }

    /// Adds what only the track knows to a channel result whose totals came from a window: the first failure,
    /// the ambiguous intervals, a temperature's statistics.
    func fillDiagnostics(_ result: inout ChannelResult) {
        result.firstFailure = firstFailure
        switch quantity {
        case .counter: result.ambiguousIntervals = counter.ambiguousIntervals
        case .power: break
        case .temperature: result.temperature = temperature
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
