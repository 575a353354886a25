import Glibc

/// A plain POSIX thread for work that must keep time (the sampler) and must not wait behind a task pool.
public final class NativeThread: @unchecked Sendable {
    private var handle: pthread_t
    private var joined = false

    /// Starts `body` on a new thread.
    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        final class Box {
            let body: @Sendable () -> Void
            let name: String
            init(_ body: @escaping @Sendable () -> Void, _ name: String) {
                self.body = body
                self.name = name
            }
        }
        let box = Unmanaged.passRetained(Box(body, name)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { raw in
                guard let raw else { return nil }
                let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
                box.body()
                return nil
            }, box)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError("pthread_create", subject: name, errno: rc)
        }
        handle = thread
    }

    /// Gives the calling thread real-time FIFO scheduling at `priority` (`pthread_setschedparam`), so that it keeps
    /// its period on a loaded machine; false when that is not allowed (it needs root or CAP_SYS_NICE).
    @discardableResult
    public static func makeCurrentThreadRealtime(priority: Int32) -> Bool {
        var parameters = sched_param()
        parameters.sched_priority = priority
        return pthread_setschedparam(pthread_self(), SCHED_FIFO, &parameters) == 0
    }

    /// Keeps the calling thread on CPU `cpu` (`sched_setaffinity`); false when that CPU is not allowed.
    @discardableResult
    public static func pinCurrentThread(toCPU cpu: Int) -> Bool { Syscalls.pinCurrentThread(toCPU: cpu) }

    /// Waits for the thread to finish. Idempotent.
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(handle, nil)
    }

    deinit { if !joined { pthread_detach(handle) } }
}
