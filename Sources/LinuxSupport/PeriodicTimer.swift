import Glibc
import Synchronization

/// A drift-free periodic tick kept by the kernel (timerfd on CLOCK_MONOTONIC). Each tick costs one blocking
/// `read`; `stop()` sets a flag and makes the timer fire at once, so a stop is seen immediately whatever the
/// interval.
public final class PeriodicTimer: Sendable {
    public enum Event: Equatable, Sendable {
        /// One or more periods passed; `missed` counts periods that passed unseen (the thread was late).
        case tick(missed: UInt64)
        /// `stop()` was called.
        case stop
    }

    private let fd: Int32
    private let stopped = Atomic(false)

    /// Starts ticking every `interval` from now.
    public init(interval: Duration) throws(SystemError) {
        fd = try Syscalls.periodicTimer(interval)
    }

    deinit { close(fd) }

    /// Blocks until the next tick or the stop.
    public func next() -> Event {
        while true {
            if stopped.load(ordering: .acquiring) { return .stop }
            let expirations = Syscalls.readCounter(fd)
            if stopped.load(ordering: .acquiring) { return .stop }
            if expirations > 0 { return .tick(missed: expirations - 1) }
        }
    }

    /// Ends the current and every later `next()` with `.stop`. Safe from any thread.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        Syscalls.fireTimerNow(fd)
    }
}
