/// Integrates power readings over a monotonic clock into energy with the trapezoid rule. The one place this math
/// lives.
public struct PowerIntegrator: Sendable {
    public private(set) var total: Joules = .zero
    public private(set) var last: Watts?
    public private(set) var lastInstant: MonotonicInstant?
    public private(set) var peak: Watts?

    public init() {}

    /// Adds a reading taken at `instant` and returns the energy of the interval it closes (zero for the first).
    @discardableResult
    public mutating func record(_ power: Watts, at instant: MonotonicInstant) -> Joules {
        defer {
            last = power
            lastInstant = instant
            if peak.map({ power > $0 }) ?? true { peak = power }
        }
        guard let previous = last, let previousInstant = lastInstant else { return .zero }
        let energy = Self.trapezoid(previous, power, seconds: previousInstant.seconds(to: instant))
        total += energy
        return energy
    }

    /// Energy under a straight line from `start` to `end` power over `seconds`. Pure; table-tested.
    public static func trapezoid(_ start: Watts, _ end: Watts, seconds: Double) -> Joules {
        guard seconds > 0 else { return .zero }
        return Joules((start.value + end.value) / 2 * seconds)
    }
}
