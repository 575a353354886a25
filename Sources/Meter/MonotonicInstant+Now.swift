import Glibc
import SustainCore

extension MonotonicInstant {
    /// Now, from `clock_gettime(CLOCK_MONOTONIC)` (vDSO: no system call).
    public static var now: MonotonicInstant {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return MonotonicInstant(nanoseconds: UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec))
    }
}

/// The system's monotonic clock.
public struct SystemClock: InstantSource {
    public init() {}
    public var now: MonotonicInstant { .now }
}
