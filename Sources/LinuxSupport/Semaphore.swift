import Glibc

/// A counting semaphore (POSIX `sem_t`): one thread waits, others signal, with no busy waiting. For a thread of
/// our own (`NativeThread`) that sleeps until there is work.
public final class Semaphore: @unchecked Sendable {
    private let semaphore: UnsafeMutablePointer<sem_t>

    public init() {
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, 0)
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    /// Adds one to the count, waking a waiting thread (`sem_post`).
    public func signal() { sem_post(semaphore) }

    /// Waits until the count is above zero and takes one (`sem_wait`, retried when a signal interrupts it).
    public func wait() {
        while sem_wait(semaphore) != 0 && errno == EINTR {}
    }
}
