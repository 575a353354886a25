import Glibc

/// The channel through which a wrapped command marks its phases: a FIFO in a private directory (0700, the
/// wrapper's user), named to the child by `SUSTAIN_MARKS`. A mark is one line (`begin NAME`, `end NAME units=N
/// unit=WORD`, `event NAME`), written in one `write` of at most `PIPE_BUF` bytes, so lines never interleave.
///
/// The wrapper holds the FIFO open for reading and writing, so a writer never blocks on a missing reader while the
/// job runs and the reader never sees end-of-file; clients open it `O_NONBLOCK`, so a full pipe drops the mark
/// instead of slowing the job, and no wrapper (no reader) is an immediate error, never a hang. The reader stops
/// only when the wrapper says so, through a pipe of its own: what the job writes is always data.
public final class MarkPipe: @unchecked Sendable {
    public let path: String
    private let directory: String
    private let fd: Int32
    /// The pipe whose write end tells the reading thread to drain what is left and finish; no byte the job
    /// writes can stop the reader.
    private let wake: (read: Int32, write: Int32)
    private var thread: NativeThread?

    /// The most bytes of one mark (Linux's PIPE_BUF: a write this size is atomic).
    public static let maximumLine = 4096
    /// The most bytes `finish()` reads after the command ended: a process the job left behind that keeps writing
    /// cannot hold the wrapper (16 full pipes of the default size).
    public static let maximumDrain = 1 << 20
    static let prefix = "sustain-marks-"

    /// Creates the FIFO in a new private directory under `base` (`$XDG_RUNTIME_DIR` or `/tmp`), named after this
    /// process, and first removes the ones that wrappers of this user left when they were killed.
    public init(base: String) throws(SystemError) {
        Self.removeAbandoned(in: base)
        directory = try SafeFile.makeTemporaryDirectory(in: base, prefix: "\(Self.prefix)\(getpid())-")
        path = directory + "/marks"
        guard mkfifo(path, 0o600) == 0 else {
            let code = errno
            rmdir(directory)
            throw SystemError("mkfifo", subject: path, errno: code)
        }
        let fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        var ends: [Int32] = [-1, -1]
        guard fd >= 0, pipe(&ends) == 0 else {
            let code = errno
            if fd >= 0 { close(fd) }
            unlink(path)
            rmdir(directory)
            throw SystemError(fd < 0 ? "open" : "pipe", subject: path, errno: code)
        }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, O_NONBLOCK)
        }
        self.fd = fd
        wake = (ends[0], ends[1])
    }

    /// Reads marks on a thread of its own, one line at a time with the instant it was read (CLOCK_MONOTONIC,
    /// nanoseconds), until `finish()`. Any byte is data: a NUL, an endless line or a flood only cost marks.
    public func start(_ received: @escaping @Sendable (_ line: [UInt8], _ nanoseconds: UInt64) -> Void)
        throws(SystemError)
    {
        let (fd, wake) = (fd, wake.read)
        thread = try NativeThread(name: "sustain-marks") {
            var lines = LineSplitter(maximumLine: Self.maximumLine)
            var buffer = [UInt8](repeating: 0, count: 65_536)
            var drained: Int?  // bytes read since finish() asked; nil while the job runs
            while true {
                if drained == nil {
                    var fds = [
                        pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                        pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
                    ]
                    if poll(&fds, 2, -1) < 0 {
                        if errno == EINTR { continue }
                        return
                    }
                    if fds[1].revents != 0 { drained = 0 }
                }
                let count = read(fd, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else {
                    if drained != nil || (errno != EAGAIN) { return }
                    continue
                }
                let now = Self.monotonicNanoseconds()
                lines.feed(buffer[..<count]) { received($0, now) }
                if let done = drained {
                    drained = done + count
                    if done + count >= Self.maximumDrain { return }
                }
            }
        }
    }

    /// Lets the thread read what the job wrote so far (at most `maximumDrain` bytes), then stops it and removes
    /// the FIFO.
    public func finish() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        thread?.join()
        thread = nil
        close(fd)
        close(wake.read)
        close(wake.write)
        unlink(path)
        rmdir(directory)
    }

    /// The monotonic clock now (CLOCK_MONOTONIC, the sampler's), in nanoseconds.
    public static func monotonicNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Removes `base/sustain-marks-PID-*` directories of this user whose wrapper (PID) is gone: a wrapper killed
    /// with SIGKILL cannot remove its own. Only a FIFO named `marks` is unlinked in them, and only empty
    /// directories are removed.
    static func removeAbandoned(in base: String) {
        for name in SafeFile.names(in: base, prefix: prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid > 0,
                kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            let directory = base + "/" + name
            var info = stat()
            guard lstat(directory, &info) == 0, FileKind(mode: info.st_mode) == .directory, info.st_uid == getuid()
            else { continue }
            let fifo = directory + "/marks"
            if lstat(fifo, &info) == 0, FileKind(mode: info.st_mode) == .fifo { unlink(fifo) }
            rmdir(directory)
        }
    }
    /// Sends one mark to the FIFO at `path` without ever blocking: a missing reader (no wrapper) or a full pipe
    /// is an error, said at once.
    public static func send(_ line: [UInt8], to path: String) throws(MarkDeliveryError) {
        guard line.count < maximumLine, !line.contains(0), !line.contains(UInt8(ascii: "\n")) else {
            throw .invalid("a mark is one line of at most \(maximumLine - 1) bytes")
        }
        var info = stat()
        guard stat(path, &info) == 0, FileKind(mode: info.st_mode) == .fifo else { throw .noJob(path: path) }
        let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENXIO || errno == ENOENT { throw .noJob(path: path) }
            throw .system(SystemError("open", subject: path, errno: errno))
        }
        defer { close(fd) }
        let bytes = line + [UInt8(ascii: "\n")]
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            if written < 0 && errno == EAGAIN { throw .dropped }
            throw .system(SystemError("write", subject: path, errno: written < 0 ? errno : EIO))
        }
    }
}

/// Why a mark was not delivered.
public enum MarkDeliveryError: Error, CustomStringConvertible, Sendable {
    /// No wrapper reads at the path: the job has ended, or the path is not a job's.
    case noJob(path: String)
    /// The pipe was full (the wrapper is not keeping up): the mark was dropped rather than block the job.
    case dropped
    case invalid(String)
    case system(SystemError)

    public var description: String {
        switch self {
        case .noJob(let path): "no job to mark: nothing measures a job at SUSTAIN_MARKS=\(path) (it has ended?)"
        case .dropped: "the mark was dropped: the wrapper is not keeping up (the job is never blocked for a mark)"
        case .invalid(let reason): reason
        case .system(let error): "\(error)"
        }
    }
}

/// Cuts a byte stream into lines of at most `maximumLine` bytes; a longer line is dropped whole (up to its
/// newline), so its tail is never taken for a mark.
struct LineSplitter {
    let maximumLine: Int
    private var pending: [UInt8] = []
    private var skipping = false

    init(maximumLine: Int) { self.maximumLine = maximumLine }

    mutating func feed(_ bytes: ArraySlice<UInt8>, _ line: ([UInt8]) -> Void) {
        var rest = bytes
        while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
            if !skipping, pending.count + (newline - rest.startIndex) <= maximumLine {
                line(pending + rest[..<newline])
            }
            pending.removeAll(keepingCapacity: true)
            skipping = false
            rest = rest[(newline + 1)...]
        }
        guard !skipping else { return }
        if pending.count + rest.count > maximumLine {
            pending.removeAll()
            skipping = true
        } else {
            pending += rest
        }
    }
}
