import Glibc

/// A wake-up for a thread that sleeps between ticks: `signal()` ends every later wait at once, on an eventfd.
public final class WakeEvent: Sendable {
    let fd: Int32

    public init() throws(SystemError) { fd = try Syscalls.eventfd() }

    deinit { close(fd) }

    /// Wakes the waiter now and on every later wait.
    public func signal() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(fd, $0.baseAddress, 8) }
    }

    /// Blocks until `signal()` has been called.
    public func wait() {
        while (try? Syscalls.waitReadable([fd])) == nil {}
    }
}

/// A drift-free periodic tick kept by the kernel (timerfd on CLOCK_MONOTONIC), stoppable by a `WakeEvent`.
public final class PeriodicTimer: @unchecked Sendable {
    public enum Event: Equatable, Sendable {
        /// One or more periods passed; `missed` counts periods that passed unseen (the thread was late).
        case tick(missed: UInt64)
        /// The wake event was signalled.
        case stop
    }

    private let fd: Int32
    private let stop: WakeEvent

    /// Starts ticking every `interval` from now.
    public init(interval: Duration, stop: WakeEvent) throws(SystemError) {
        fd = try Syscalls.periodicTimer(interval)
        self.stop = stop
    }

    deinit { close(fd) }

    /// Blocks until the next tick or the stop; the stop wins when both are ready.
    public func next() -> Event {
        while true {
            guard let ready = try? Syscalls.waitReadable([fd, stop.fd]) else { continue }
            if ready.contains(stop.fd) { return .stop }
            let expirations = Syscalls.readCounter(fd)
            if expirations > 0 { return .tick(missed: expirations - 1) }
        }
    }
}
