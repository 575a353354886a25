internal import CLinux
import Glibc

/// An error from a system call: what was called, on what, and the errno.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public var call: String
    public var subject: String?
    public var errno: Int32

    public init(_ call: String, subject: String? = nil, errno: Int32) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    public var reason: String { String(cString: strerror(errno)) }

    public var description: String {
        if let subject { return "\(call) on \(subject) failed: \(reason)" }
        return "\(call) failed: \(reason)"
    }
}

/// Returns `value`, or throws the current errno when it is -1.
@inline(__always)
func valueOrErrno<T: FixedWidthInteger>(_ call: String, subject: String? = nil, _ body: () -> T) throws(SystemError)
    -> T
{
    while true {
        let value = body()
        if value != -1 { return value }
        if errno == EINTR { continue }
        throw SystemError(call, subject: subject, errno: errno)
    }
}

/// What `signalfd` reports about one delivered signal.
public struct SignalInfo: Sendable, Equatable {
    public var signal: Int32
    /// `si_code`: `SI_USER` (0) for kill(2), `SI_KERNEL` (0x80) for a terminal's ^C, and so on.
    public var code: Int32
    /// The sender's pid for signals sent by a process.
    public var senderPID: Int32

    /// True when the kernel raised the signal (a terminal's ^C or ^\, a hangup): the whole foreground process
    /// group received it, so a child in that group already has it.
    public var isFromKernel: Bool { code == 0x80 }
}

enum Syscalls {
    /// Keeps the calling thread on CPU `cpu`; false when that CPU is not allowed.
    static func pinCurrentThread(toCPU cpu: Int) -> Bool { CLinux.sustain_pin_to_cpu(Int32(cpu)) == 0 }

    /// `signalfd(-1, set, SFD_CLOEXEC)`.
    static func signalfd(_ set: sigset_t) throws(SystemError) -> Int32 {
        var set = set
        return try valueOrErrno("signalfd") { CLinux.signalfd(-1, &set, Int32(SFD_CLOEXEC)) }
    }

    /// Reads one `signalfd_siginfo` from `fd`, blocking.
    static func readSignal(_ fd: Int32) throws(SystemError) -> SignalInfo {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        let count = try valueOrErrno("read", subject: "signalfd") {
            withUnsafeMutableBytes(of: &info) { read(fd, $0.baseAddress, size) }
        }
        guard count == size else { throw SystemError("read", subject: "signalfd", errno: EIO) }
        return SignalInfo(
            signal: Int32(info.ssi_signo), code: info.ssi_code, senderPID: Int32(bitPattern: info.ssi_pid))
    }

    /// A periodic `timerfd` on CLOCK_MONOTONIC, first firing after `interval`.
    static func periodicTimer(_ interval: Duration) throws(SystemError) -> Int32 {
        let fd = try valueOrErrno("timerfd_create") { timerfd_create(CLOCK_MONOTONIC, Int32(TFD_CLOEXEC)) }
        let (seconds, attoseconds) = interval.components
        let period = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var spec = itimerspec(it_interval: period, it_value: period)
        do {
            _ = try valueOrErrno("timerfd_settime") { timerfd_settime(fd, 0, &spec, nil) }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Makes the timer `fd` fire once at once (1 ns from now), to wake a thread blocked reading it.
    static func fireTimerNow(_ fd: Int32) {
        var spec = itimerspec(it_interval: timespec(), it_value: timespec(tv_sec: 0, tv_nsec: 1))
        timerfd_settime(fd, 0, &spec, nil)
    }

    /// Reads the 8-byte counter of an eventfd or timerfd, blocking until it is non-zero.
    static func readCounter(_ fd: Int32) -> UInt64 {
        var value: UInt64 = 0
        let count = withUnsafeMutableBytes(of: &value) { read(fd, $0.baseAddress, 8) }
        return count == 8 ? value : 0
    }

    /// `mount(source, target, type, 0, data)`.
    static func mount(_ source: String, on target: String, type: String, options: String?) throws(SystemError) {
        _ = try valueOrErrno("mount", subject: target) { CLinux.mount(source, target, type, 0, options) }
    }
}

/// Gives the memory malloc holds free back to the system (`malloc_trim(0)`): after a large transient parse (an
/// intensity series) in a process that then waits a long time (the wrapper while its command runs).
public func releaseFreeMemory() {
    _ = malloc_trim(0)
}

/// Caps glibc's malloc arenas (`mallopt(M_ARENA_MAX)`): a daemon whose many threads make small allocations
/// otherwise gets an arena per thread, each keeping its freed memory.
public func limitMallocArenas(_ count: Int32) {
    _ = mallopt(M_ARENA_MAX, count)
}
