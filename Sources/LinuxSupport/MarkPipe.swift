import Glibc

/// The channel through which a wrapped command marks its phases: a FIFO in a private directory (0700, the
/// wrapper's user), named to the child by `SUSTAIN_MARKS`. A mark is one line (`begin NAME`, `end NAME units=N
/// unit=WORD`, `event NAME`), written in one `write` of at most `PIPE_BUF` bytes, so lines never interleave.
///
/// The wrapper holds the FIFO open for reading and writing, so a writer never blocks on a missing reader while the
/// job runs and the reader never sees end-of-file; clients open it `O_NONBLOCK`, so a full pipe drops the mark
/// instead of slowing the job, and no wrapper (no reader) is an immediate error, never a hang.
public final class MarkPipe: @unchecked Sendable {
    public let path: String
    private let directory: String
    private let fd: Int32
    private var thread: NativeThread?
    /// The line that tells the reading thread to finish (a NUL byte cannot appear in a mark written by text).
    private static let quit: [UInt8] = [0, UInt8(ascii: "\n")]

    /// The most bytes of one mark (Linux's PIPE_BUF: a write this size is atomic).
    public static let maximumLine = 4096

    /// Creates the FIFO in a new private directory under `base` (`$XDG_RUNTIME_DIR` or `/tmp`).
    public init(base: String) throws(SystemError) {
        directory = try SafeFile.makeTemporaryDirectory(in: base, prefix: "sustain-marks-")
        path = directory + "/marks"
        guard mkfifo(path, 0o600) == 0 else {
            let code = errno
            rmdir(directory)
            throw SystemError("mkfifo", subject: path, errno: code)
        }
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            unlink(path)
            rmdir(directory)
            throw SystemError("open", subject: path, errno: code)
        }
        self.fd = fd
    }

    /// Reads marks on a thread of its own, one line at a time, until `finish()`.
    public func start(_ received: @escaping @Sendable ([UInt8]) -> Void) throws(SystemError) {
        let fd = fd
        thread = try NativeThread(name: "sustain-marks") {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = read(fd, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return }
                pending += buffer.prefix(count)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Array(pending[..<newline])
                    pending.removeSubrange(...newline)
                    if line == [0] { return }
                    received(line)
                }
                // A writer that never ends its line cannot make the buffer grow without bound.
                if pending.count > Self.maximumLine { pending.removeAll() }
            }
        }
    }

    /// Lets the thread read every mark written so far, then stops it and removes the FIFO.
    public func finish() {
        _ = Self.quit.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        thread?.join()
        thread = nil
        close(fd)
        unlink(path)
        rmdir(directory)
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
