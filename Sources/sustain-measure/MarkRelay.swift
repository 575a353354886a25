import FoundationEssentials
import LinuxSupport
import SustainAPI
import Synchronization

/// Relays a job's marks to the service in batches, each mark with the instant the wrapper read it, so that the
/// service places it where it was made however late it arrives, and a flood of marks neither slows the job nor
/// stretches its window. A thread of its own sends; the mark reader only queues. What cannot keep up is shed and
/// counted, never waited for: at most `maximumQueued` marks wait, and at the end the rest get `finalDeadline`.
final class MarkRelay: @unchecked Sendable {
    /// The most marks waiting to be sent (about 1 MB).
    static let maximumQueued = 20_000
    /// How long the wrapper spends, after the command ended, sending the marks still queued.
    static let finalDeadline = 2.0

    private struct State {
        var lines: [String] = []
        var instants: [UInt64] = []
        var shed = 0
        /// Set by `finish()`: send what is queued until the deadline (monotonic nanoseconds), then stop.
        var deadline: UInt64?
        /// Set by `commandEnded(at:)`: marks read after it (drained from the pipe) were written before it.
        var ceiling: UInt64?
    }

    private let client: ServiceClient
    private let job: String
    private let state = Mutex(State())
    /// Counts wake-ups of the sending thread (no busy waiting).
    private let ready = Semaphore()
    private var thread: NativeThread?

    init(client: ServiceClient, job id: String) throws(SystemError) {
        self.client = client
        job = id
        thread = try NativeThread(name: "sustain-relay") { [self] in send() }
    }

    /// Queues one mark read at `nanoseconds` (CLOCK_MONOTONIC); sheds it when the queue is full.
    func enqueue(_ line: [UInt8], at nanoseconds: UInt64) {
        let queued = state.withLock { state -> Bool in
            guard state.deadline == nil, state.lines.count < Self.maximumQueued else {
                state.shed += 1
                return false
            }
            state.lines.append(String(decoding: line, as: UTF8.self))
            state.instants.append(min(nanoseconds, state.ceiling ?? .max))
            return true
        }
        if queued { ready.signal() }
    }

    /// The command ended at `nanoseconds`: what the pipe still holds was written before, and is placed no later.
    func commandEnded(at nanoseconds: UInt64) { state.withLock { $0.ceiling = nanoseconds } }

    /// Sends what is queued (for at most `finalDeadline`), stops the thread and returns how many marks were shed.
    func finish() -> Int {
        state.withLock { $0.deadline = MarkPipe.monotonicNanoseconds() + UInt64(Self.finalDeadline * 1e9) }
        ready.signal()
        thread?.join()
        thread = nil
        return state.withLock { $0.shed }
    }

    private func send() {
        while true {
            ready.wait()
            while true {
                let batch = state.withLock { state -> (lines: [String], instants: [UInt64], done: Bool) in
                    let late = state.deadline.map { MarkPipe.monotonicNanoseconds() > $0 } ?? false
                    if late {
                        state.shed += state.lines.count
                        state.lines.removeAll()
                        state.instants.removeAll()
                    }
                    let count = min(state.lines.count, JobMarks.maximumPerRequest)
                    defer {
                        state.lines.removeFirst(count)
                        state.instants.removeFirst(count)
                    }
                    return (
                        Array(state.lines.prefix(count)), Array(state.instants.prefix(count)),
                        state.deadline != nil && state.lines.count == count
                    )
                }
                if !batch.lines.isEmpty {
                    _ = try? client.mark(JobMarks(marks: batch.lines, at: batch.instants), job: job)
                }
                if batch.done { return }
                if batch.lines.isEmpty { break }
            }
        }
    }
}
