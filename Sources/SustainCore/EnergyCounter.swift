/// A raw reading of a cumulative energy counter, in microjoules (powercap `energy_uj`).
public struct MicrojouleCounter: Hashable, Comparable, Sendable {
    public var microjoules: UInt64
    @inlinable public init(_ microjoules: UInt64) { self.microjoules = microjoules }
    @inlinable public static func < (lhs: MicrojouleCounter, rhs: MicrojouleCounter) -> Bool {
        lhs.microjoules < rhs.microjoules
    }
}

/// The value at which a counter wraps back to zero (powercap `max_energy_range_uj`), and the fastest it can plausibly
/// advance. Together they give the shortest time in which the counter can wrap.
public struct CounterRange: Hashable, Sendable {
    /// The counter's largest value in microjoules; readings lie in `0...maxMicrojoules`. Nil: it never wraps
    /// (64-bit hwmon energy counters).
    public var maxMicrojoules: UInt64?
    /// The highest power the domain can plausibly draw; faster advance means a reset or a glitch, not energy.
    public var plausibleMaxPower: Watts

    public init(maxMicrojoules: UInt64?, plausibleMaxPower: Watts) {
        self.maxMicrojoules = maxMicrojoules
        self.plausibleMaxPower = plausibleMaxPower
    }

    /// The shortest time in which the counter can wrap once, at `plausibleMaxPower`. Nil when it never wraps.
    public var shortestWrapPeriod: Duration? { shortestWrapSeconds.map { .seconds(fractional: $0) } }

    /// `shortestWrapPeriod` in seconds.
    @inlinable public var shortestWrapSeconds: Double? {
        guard let max = maxMicrojoules, max > 0, plausibleMaxPower.value > 0 else { return nil }
        return Joules(microjoules: max).value / plausibleMaxPower.value
    }
}

/// What one new reading did to a counter channel.
public enum CounterStep: Equatable, Sendable {
    /// The first reading: a baseline, no energy yet.
    case baseline
    /// The counter advanced by this much energy.
    case advanced(Joules)
    /// The counter passed its maximum and started again; the energy is the true advance across the wrap.
    case wrapped(Joules)
    /// The counter moved by an amount no real power could produce (it went backwards, or jumped ahead): a reset or
    /// a glitch. The interval's energy is unknown and is not counted.
    case reset
    /// More time passed than the counter needs to wrap at full power, so a whole wrap may be hidden in the delta.
    /// The visible advance is counted; the true value may be larger by multiples of the range.
    case ambiguous(Joules)

    /// The energy this step adds to the total.
    public var energy: Joules {
        switch self {
        case .baseline, .reset: .zero
        case .advanced(let j), .wrapped(let j), .ambiguous(let j): j
        }
    }
}

/// Turns successive readings of one cumulative counter into energy: deltas with wraparound against the counter's own
/// range, resets detected by plausibility, never negative energy. The one place this math lives.
public struct CounterAccumulator: Sendable {
    public let range: CounterRange
    /// Time below which a step is judged as if it took this long: counters update about every millisecond, so a
    /// reading taken microseconds after the previous one can show a whole update's worth of energy.
    public static let plausibilityFloor: Duration = .milliseconds(10)
    static let plausibilityFloorSeconds = plausibilityFloor.seconds
    /// Headroom over `plausibleMaxPower` before an advance is judged implausible.
    public static let plausibilitySlack = 1.5

    public private(set) var total: Joules = .zero
    public private(set) var last: MicrojouleCounter?
    public private(set) var lastInstant: MonotonicInstant?
    public private(set) var wraps = 0
    public private(set) var resets = 0
    public private(set) var ambiguousIntervals = 0

    public init(range: CounterRange) { self.range = range }

    /// Records a reading taken at `instant` and returns what it meant.
    @discardableResult
    public mutating func record(_ reading: MicrojouleCounter, at instant: MonotonicInstant) -> CounterStep {
        defer {
            last = reading
            lastInstant = instant
        }
        guard let previous = last, let previousInstant = lastInstant else { return .baseline }
        let step = Self.step(from: previous, to: reading, seconds: previousInstant.seconds(to: instant), range: range)
        switch step {
        case .wrapped: wraps += 1
        case .reset: resets += 1
        case .ambiguous: ambiguousIntervals += 1
        case .baseline, .advanced: break
        }
        total += step.energy
        return step
    }

    /// The step between two readings `seconds` apart, for a counter with `range`. Pure; table-tested.
    public static func step(
        from previous: MicrojouleCounter,
        to current: MicrojouleCounter,
        seconds: Double,
        range: CounterRange
    ) -> CounterStep {
        let wrapped: Bool
        let deltaMicrojoules: UInt64
        if current >= previous {
            wrapped = false
            deltaMicrojoules = current.microjoules - previous.microjoules
        } else if let max = range.maxMicrojoules, previous.microjoules <= max {
            // Readings lie in 0...max; after max the counter continues at 0.
            wrapped = true
            deltaMicrojoules = (max - previous.microjoules) + current.microjoules
        } else {
            return .reset
        }
        let energy = Joules(microjoules: deltaMicrojoules)
        let judged = Swift.max(seconds, plausibilityFloorSeconds)
        let ceiling = Joules(range.plausibleMaxPower.value * plausibilitySlack * judged)
        if energy > ceiling { return .reset }
        if let period = range.shortestWrapSeconds, seconds >= period { return .ambiguous(energy) }
        return wrapped ? .wrapped(energy) : .advanced(energy)
    }
}
