/// An amount of energy in joules.
public struct Joules: Hashable, Comparable, Sendable, AdditiveArithmetic, CustomStringConvertible {
    public var value: Double

    @inlinable public init(_ value: Double) { self.value = value }

    public static var zero: Joules { Joules(0) }

    /// Energy from a microjoule count (the unit of powercap `energy_uj` and hwmon `energy*_input`).
    @inlinable public init(microjoules: UInt64) { self.value = Double(microjoules) / 1_000_000 }

    @inlinable public static func + (lhs: Joules, rhs: Joules) -> Joules { Joules(lhs.value + rhs.value) }
    @inlinable public static func - (lhs: Joules, rhs: Joules) -> Joules { Joules(lhs.value - rhs.value) }
    @inlinable public static func < (lhs: Joules, rhs: Joules) -> Bool { lhs.value < rhs.value }

    /// Mean power over `duration`; nil for an empty duration.
    @inlinable public static func / (lhs: Joules, rhs: Duration) -> Watts? {
        let seconds = rhs.seconds
        return seconds > 0 ? Watts(lhs.value / seconds) : nil
    }

    /// Kilowatt-hours (1 kWh = 3.6 MJ).
    @inlinable public var kilowattHours: Double { value / 3_600_000 }

    public var description: String { "\(value) J" }
}

/// A power in watts.
public struct Watts: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: Double

    @inlinable public init(_ value: Double) { self.value = value }

    /// Power from microwatts (the unit of powercap `*_uw` files).
    @inlinable public init(microwatts: UInt64) { self.value = Double(microwatts) / 1_000_000 }

    @inlinable public static func < (lhs: Watts, rhs: Watts) -> Bool { lhs.value < rhs.value }

    /// Energy delivered at this power over `duration`.
    @inlinable public static func * (lhs: Watts, rhs: Duration) -> Joules { Joules(lhs.value * rhs.seconds) }

    public var description: String { "\(value) W" }
}

/// A temperature in degrees Celsius, as libsensors reports it.
public struct Celsius: Hashable, Comparable, Sendable {
    public var value: Double
    @inlinable public init(_ value: Double) { self.value = value }
    @inlinable public static func < (lhs: Celsius, rhs: Celsius) -> Bool { lhs.value < rhs.value }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    @inlinable public var seconds: Double { self / .seconds(1) }

    /// A duration from floating-point seconds, rounded to the nanosecond; saturates at about ±292 years (and NaN
    /// is zero) rather than trap. Options are range-checked before they get here.
    @inlinable public static func seconds(fractional seconds: Double) -> Duration {
        let nanoseconds = (seconds * 1e9).rounded()
        guard !nanoseconds.isNaN else { return .zero }
        guard nanoseconds < 9.2e18 else { return .nanoseconds(Int64.max) }
        guard nanoseconds > -9.2e18 else { return .nanoseconds(Int64.min) }
        return .nanoseconds(Int64(nanoseconds))
    }
}
