/// A point on the system's monotonic clock (CLOCK_MONOTONIC), in nanoseconds. Plain integer arithmetic keeps the
/// sampling hot path cheap; the clock does not advance while the machine is suspended, so a suspend does not
/// turn the last power reading into phantom energy.
public struct MonotonicInstant: Hashable, Comparable, Sendable, Codable {
    public var nanoseconds: UInt64

    @inlinable public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    @inlinable public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// Seconds from `self` to `later` (negative when `later` is earlier).
    @inlinable public func seconds(to later: MonotonicInstant) -> Double {
        later.nanoseconds >= nanoseconds
            ? Double(later.nanoseconds - nanoseconds) * 1e-9 : -Double(nanoseconds - later.nanoseconds) * 1e-9
    }

    /// The time from `self` to `later`.
    @inlinable public func duration(to later: MonotonicInstant) -> Duration {
        later.nanoseconds >= nanoseconds
            ? .nanoseconds(Int64(later.nanoseconds - nanoseconds))
            : .nanoseconds(-Int64(nanoseconds - later.nanoseconds))
    }

    @inlinable public static func + (lhs: MonotonicInstant, rhs: Duration) -> MonotonicInstant {
        let nanoseconds = Int64((rhs / .nanoseconds(1)).rounded())
        return MonotonicInstant(nanoseconds: UInt64(Int64(lhs.nanoseconds) + nanoseconds))
    }
}

/// Where the sampler reads the time: the system's monotonic clock, or a test's manual clock that advances only
/// when told, so that a test of energy over a window is exact and does not wait.
public protocol InstantSource: Sendable {
    var now: MonotonicInstant { get }
}
