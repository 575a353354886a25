import Glibc

/// An exclusive lock held for the life of the process (`flock(LOCK_EX|LOCK_NB)` on a file in the state directory):
/// a second daemon on the same state exits with the holder's pid instead of taking over its socket and database.
public final class InstanceLock: Sendable {
    private let fd: Int32
    public let path: String

    /// Takes the lock at `path` (created 0600 if missing, never through a symbolic link) and writes this
    /// process's pid in it. Throws `.held(pid:)` when another process holds it.
    public init(path: String) throws(InstanceLockError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(SystemError("open", subject: path, errno: errno)) }
        fchmod(fd, 0o600)
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            guard code == EWOULDBLOCK else { throw .system(SystemError("flock", subject: path, errno: code)) }
            let text = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
            throw .held(path: path, pid: Int32(text.split(separator: "\n").first ?? ""))
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.fd = fd
    }

    deinit { close(fd) }
}

public enum InstanceLockError: Error, CustomStringConvertible, Sendable, Equatable {
    case held(path: String, pid: Int32?)
    case system(SystemError)

    public var description: String {
        switch self {
        case .held(let path, let pid):
            "another sustain-measured\(pid.map { " (pid \($0))" } ?? "") is running on this state (lock \(path)); "
                + "stop it first (systemctl stop sustain-measured), or give this one its own --database"
        case .system(let error): "cannot take the instance lock: \(error)"
        }
    }
}
