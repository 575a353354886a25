import Glibc

/// Files that a root process writes and reads without being steered by another user: the one place that creates
/// report files, private directories and reads configuration files.
///
/// Every write goes through a directory opened once and used by descriptor, a temporary file with an unpredictable
/// name created with `O_EXCL|O_NOFOLLOW` and an explicit mode (whatever the umask), and `renameat` over the target
/// only when the target is a regular file or absent.
public enum SafeFile {
    /// Replaces the regular file at `path` with `bytes`, atomically (readers see the old or the new file whole) and
    /// durably (`fsync` of the file and of its directory). The new file gets `mode` exactly.
    ///
    /// Refuses, with `SafeFileError.notRegularFile`, a path that exists and is not a regular file (a device such as
    /// `/dev/null`, a FIFO, a directory, a symbolic link): it is never replaced.
    public static func replace(
        _ path: String, with bytes: UnsafeRawBufferPointer, mode: mode_t = 0o600, createDirectories: Bool = false
    ) throws(SafeFileError) {
        try Destination(path, createDirectories: createDirectories).replace(with: bytes, mode: mode)
    }

    /// Where a file will be written, fixed before anything runs: its directory is opened once, and the file is
    /// replaced inside that open directory. A directory renamed, or replaced by a symbolic link to another, while a
    /// command runs does not move the write (root writing a user's report writes where the user named at the start).
    public final class Destination: @unchecked Sendable {
        public let path: String
        private let directory: Int32
        private let name: String

        /// Opens the directory of `path` (made first, mode 0700, with `createDirectories`); refuses a `path` that
        /// exists and is not a regular file.
        public init(_ path: String, createDirectories: Bool = false) throws(SafeFileError) {
            let (directoryPath, name) = try split(path)
            if createDirectories, directoryPath != "." { try makeDirectories(directoryPath, mode: 0o700) }
            let directory = try openDirectory(directoryPath, for: path)
            do throws(SafeFileError) {
                if let kind = try existingKind(name, in: directory, path: path), kind != .regular {
                    throw .notRegularFile(path: path, kind: kind)
                }
            } catch {
                close(directory)
                throw error
            }
            (self.path, self.directory, self.name) = (path, directory, name)
        }

        deinit { close(directory) }

        /// Writes `bytes` to a new file beside the target and renames it over the target: atomic, mode `mode`
        /// exactly, synced.
        public func replace(with bytes: UnsafeRawBufferPointer, mode: mode_t = 0o600) throws(SafeFileError) {
            if let kind = try existingKind(name, in: directory, path: path), kind != .regular {
                throw .notRegularFile(path: path, kind: kind)
            }
            var temporary = ""
            var fd: Int32 = -1
            for _ in 0..<8 {
                temporary = ".\(name.prefix(200)).\(String(UInt64.random(in: 0...UInt64.max), radix: 36)).tmp"
                fd = openat(directory, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                if fd >= 0 || errno != EEXIST { break }
            }
            guard fd >= 0 else { throw .system(path: path, SystemError("create a temporary file", errno: errno)) }
            do throws(SystemError) {
                if fchmod(fd, mode) != 0 { throw SystemError("fchmod", errno: errno) }
                try writeAll(fd, bytes)
                if fsync(fd) != 0 { throw SystemError("fsync", errno: errno) }
                close(fd)
                fd = -1
                // The check above and this rename are not one step, but whatever stands at `name` now is only a
                // directory entry: renameat replaces the entry (a symlink planted since is replaced, not followed).
                if renameat(directory, temporary, directory, name) != 0 { throw SystemError("rename", errno: errno) }
            } catch {
                if fd >= 0 { close(fd) }
                unlinkat(directory, temporary, 0)
                throw .system(path: path, error)
            }
            fsync(directory)
        }

        /// `replace(with:mode:)` for an array of bytes.
        public func replace(with bytes: [UInt8], mode: mode_t = 0o600) throws(SafeFileError) {
            let result = bytes.withUnsafeBytes { raw in
                Result { () throws(SafeFileError) in try replace(with: raw, mode: mode) }
            }
            try result.get()
        }
    }

    /// `replace(_:with:mode:createDirectories:)` for an array of bytes.
    public static func replace(
        _ path: String, with bytes: [UInt8], mode: mode_t = 0o600, createDirectories: Bool = false
    )
        throws(SafeFileError)
    {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(SafeFileError) in
                try replace(path, with: raw, mode: mode, createDirectories: createDirectories)
            }
        }
        try result.get()
    }

    /// Appends `bytes` to the existing regular file at `path` only if it belongs to `owner`: for root appending to a
    /// user's file (a SLURM job's output), where a symlink or another user's file must never be written. The last
    /// component is opened with `O_NOFOLLOW`, and the opened file's owner and type are checked before writing.
    public static func append(_ bytes: [UInt8], toFileOf owner: uid_t, at path: String) throws(SafeFileError) {
        let fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw .system(path: path, SystemError("open", subject: path, errno: errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw .system(path: path, SystemError("fstat", subject: path, errno: errno))
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw .notRegularFile(path: path, kind: FileKind(mode: info.st_mode))
        }
        guard info.st_uid == owner else {
            throw .untrustedDirectory(path: path, reason: "owned by uid \(info.st_uid), not the job's user \(owner)")
        }
        let written = bytes.withUnsafeBytes { raw in Result { () throws(SystemError) in try writeAll(fd, raw) } }
        if case .failure(let error) = written { throw .system(path: path, error) }
    }

    /// The contents of the regular file at `path`, at most `limit` bytes. Opens without blocking (a FIFO or a
    /// device never hangs the caller) and refuses anything that is not a regular file, or a larger one.
    public static func readRegular(_ path: String, limit: Int) throws(SafeFileError) -> [UInt8] {
        let (fd, info) = try openRegular(path, flags: O_RDONLY)
        defer { close(fd) }
        return try readAll(fd, path: path, size: Int(info.st_size), limit: limit)
    }

    /// Reads an open file of `size` bytes (it may have grown), at most `limit`.
    static func readAll(_ fd: Int32, path: String, size: Int, limit: Int) throws(SafeFileError) -> [UInt8] {
        guard size <= limit else { throw .tooLarge(path: path, size: size, limit: limit) }
        var bytes = [UInt8](repeating: 0, count: size + 1)
        var count = 0
        while count < bytes.count {
            let read = bytes.withUnsafeMutableBytes {
                Glibc.read(fd, $0.baseAddress.map { $0 + count }, $0.count - count)
            }
            if read < 0 && errno == EINTR { continue }
            guard read >= 0 else { throw .system(path: path, SystemError("read", errno: errno)) }
            if read == 0 { break }
            count += read
            if count > limit { throw .tooLarge(path: path, size: count, limit: limit) }
        }
        bytes.removeLast(bytes.count - count)  // in place: a 16 MiB file is not held twice
        return bytes
    }

    /// Reads a file a root service trusts (a configured data file that another program writes): the last
    /// component is not followed if it is a symbolic link (`O_NOFOLLOW`), and the file must be regular, have one
    /// name (a hard link to a file elsewhere is refused), be writable by its owner alone, and be owned by root or
    /// by the owner of the directory that holds it. So the writer of that directory cannot make root read (and
    /// quote) a file it could not read itself.
    public static func readTrusted(_ path: String, limit: Int) throws(SafeFileError) -> [UInt8] {
        let (fd, info) = try openRegular(path, flags: O_RDONLY | O_NOFOLLOW)
        defer { close(fd) }
        let (directory, _) = try split(path)
        var parent = stat()
        guard lstat(directory, &parent) == 0 else {
            throw .system(path: path, SystemError("lstat", subject: directory, errno: errno))
        }
        if info.st_nlink != 1 {
            throw .untrustedFile(path: path, reason: "has \(info.st_nlink) names (a hard link)")
        }
        if info.st_mode & 0o022 != 0 {
            throw .untrustedFile(path: path, reason: "writable by its group or by others")
        }
        if info.st_uid != 0 && info.st_uid != parent.st_uid {
            throw .untrustedFile(
                path: path, reason: "owned by uid \(info.st_uid), neither root nor its directory's owner")
        }
        return try readAll(fd, path: path, size: Int(info.st_size), limit: limit)
    }

    /// Creates `path` and its missing parents with `mode` exactly (whatever the umask); an existing directory is
    /// left as it is.
    public static func makeDirectories(_ path: String, mode: mode_t) throws(SafeFileError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, mode) == 0 {
                chmod(current, mode)
            } else if errno != EEXIST {
                throw .system(path: current, SystemError("mkdir", errno: errno))
            }
        }
    }

    /// Checks that no other user can change what is inside the directory `path`: it is a directory owned by root or
    /// by this process's user, and writable by nobody else unless it is sticky and root's (like /tmp).
    public static func checkPrivateDirectory(_ path: String) throws(SafeFileError) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .system(path: path, SystemError("stat", errno: errno)) }
        let kind = FileKind(mode: info.st_mode)
        guard kind == .directory else { throw .notRegularFile(path: path, kind: kind) }
        let owner = info.st_uid
        guard owner == 0 || owner == geteuid() else {
            throw .untrustedDirectory(path: path, reason: "owned by uid \(owner)")
        }
        let othersWrite = info.st_mode & (S_IWGRP | S_IWOTH) != 0
        let sticky = info.st_mode & S_ISVTX != 0
        if othersWrite && !(sticky && owner == 0) {
            throw .untrustedDirectory(
                path: path,
                reason: "writable by \(info.st_mode & S_IWOTH != 0 ? "every user" : "its group") and not sticky")
        }
    }

    /// Creates the regular file `path` if missing (never through a symbolic link) and gives it `mode` exactly,
    /// whatever the umask; an existing file gets `mode` too.
    public static func makePrivateFile(_ path: String, mode: mode_t) throws(SafeFileError) {
        let (fd, _) = try openRegular(path, flags: O_RDWR | O_CREAT | O_NOFOLLOW, mode: mode)
        defer { close(fd) }
        guard fchmod(fd, mode) == 0 else { throw .system(path: path, SystemError("fchmod", errno: errno)) }
    }

    /// Opens `path` with `flags` (plus non-blocking, no controlling terminal, close-on-exec: a FIFO or a device
    /// never hangs the caller) and checks on the descriptor that it is a regular file; the caller closes it.
    static func openRegular(_ path: String, flags: Int32, mode: mode_t = 0) throws(SafeFileError) -> (Int32, stat) {
        let fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .system(path: path, SystemError("open", errno: errno)) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw .system(path: path, SystemError("fstat", errno: code))
        }
        let kind = FileKind(mode: info.st_mode)
        guard kind == .regular else {
            close(fd)
            throw .notRegularFile(path: path, kind: kind)
        }
        return (fd, info)
    }

    /// Makes a new directory `DIRECTORY/PREFIXxxxxxx` with a random suffix, mode 0700 (`mkdtemp`): a place no
    /// other user can reach, whatever `directory` is; returns its path.
    public static func makeTemporaryDirectory(in directory: String, prefix: String) throws(SystemError) -> String {
        var template = Array("\(directory)/\(prefix)XXXXXX".utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap(mkdtemp) }) else {
            throw SystemError("mkdtemp", subject: directory, errno: errno)
        }
        return String(cString: created)
    }

    /// The names in `directory` that start with `prefix` (`readdir`); none when it cannot be read.
    public static func names(in directory: String, prefix: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasPrefix(prefix) { names.append(name) }
        }
        return names
    }

    /// What stands at `path` (a symbolic link itself, not followed), nil when nothing does or it cannot be seen.
    public static func kind(of path: String) -> FileKind? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return FileKind(mode: info.st_mode)
    }

    static func split(_ path: String) throws(SafeFileError) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let name = String(path[path.index(after: slash)...])
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        guard !name.isEmpty, name != ".", name != ".." else {
            throw .notRegularFile(path: path, kind: .directory)
        }
        return (directory, name)
    }

    static func openDirectory(_ directory: String, for path: String) throws(SafeFileError) -> Int32 {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .system(path: path, SystemError("open the directory", subject: directory, errno: errno))
        }
        return fd
    }

    /// The kind of what stands at `name` in the directory, nil when nothing does (symbolic links not followed).
    static func existingKind(_ name: String, in directoryFD: Int32, path: String) throws(SafeFileError) -> FileKind? {
        var info = stat()
        guard fstatat(directoryFD, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return nil }
            throw .system(path: path, SystemError("stat", errno: errno))
        }
        return FileKind(mode: info.st_mode)
    }
}

/// Which file a path names: its device and inode, to notice a file deleted or replaced under a daemon.
public struct FileIdentity: Equatable, Sendable {
    public var device: UInt64
    public var inode: UInt64

    /// The file at `path` (a symbolic link itself), nil when there is none.
    public static func of(_ path: String) -> FileIdentity? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}

/// What a path is, from its `st_mode`.
public enum FileKind: String, Sendable, Equatable {
    case regular = "a regular file"
    case directory = "a directory"
    case symbolicLink = "a symbolic link"
    case characterDevice = "a character device"
    case blockDevice = "a block device"
    case fifo = "a FIFO"
    case socket = "a socket"

    public init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFLNK: self = .symbolicLink
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFIFO: self = .fifo
        default: self = .socket
        }
    }
}

/// Why a file could not be written or read safely: what, where, and what to do.
public enum SafeFileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The path exists and is not a regular file: it is neither replaced nor read.
    case notRegularFile(path: String, kind: FileKind)
    case tooLarge(path: String, size: Int, limit: Int)
    /// A directory another user could change.
    case untrustedDirectory(path: String, reason: String)
    /// A file a root service will not read: it could be another file under a planted name.
    case untrustedFile(path: String, reason: String)
    case system(path: String, SystemError)

    public var description: String {
        switch self {
        case .notRegularFile(let path, let kind):
            "\(path) is \(kind.rawValue), not a regular file; it is left untouched (give the path of a regular file)"
        case .tooLarge(let path, let size, let limit):
            "\(path) is \(size) bytes, more than the \(limit) allowed"
        case .untrustedDirectory(let path, let reason):
            "\(path) is \(reason): another user could replace what is in it (use a directory only root can write)"
        case .untrustedFile(let path, let reason):
            "\(path) is \(reason): not read (a root service reads only files their writer owns)"
        case .system(let path, let error):
            "\(path): \(error.subject.map { "\(error.call) \($0)" } ?? error.call) failed: \(error.reason)"
        }
    }

    /// The reason alone, without the path.
    public var reason: String {
        switch self {
        case .system(_, let error): error.reason
        case .notRegularFile(_, let kind): "it is \(kind.rawValue), not a regular file"
        case .tooLarge(_, let size, let limit): "it is \(size) bytes, more than the \(limit) allowed"
        case .untrustedDirectory(_, let reason), .untrustedFile(_, let reason): reason
        }
    }
}
