import Glibc

/// The file of a listening Unix socket, published so that no other user can steer it: the server binds inside a
/// private directory (0700, next to the public name), group and mode are set there, where no one else can reach,
/// and a hard link is renamed into place atomically. The private link stays for the daemon's life, so a public
/// name that is deleted or replaced is put back (`verify()`) without a new bind.
public final class PublishedSocket: @unchecked Sendable {
    /// The public path clients connect to.
    public let path: String
    /// Where the server must bind (inside the private directory).
    public let bindPath: String
    private let directory: String
    private let name: String
    private let privateDirectory: String
    private var published = false
    private static let prefix = ".sustain-measured-"

    /// Checks the directory of `path` (created 0755 if missing: users must reach the socket), refuses a path at
    /// which a server already answers or that is not a socket, and makes the private directory.
    public init(path: String) throws(SafeFileError) {
        let (directory, name) = try SafeFile.split(path)
        self.path = path
        self.directory = directory
        self.name = name
        if access(directory, F_OK) != 0 { try SafeFile.makeDirectories(directory, mode: 0o755) }
        try SafeFile.checkPrivateDirectory(directory)
        if let kind = SafeFile.kind(of: path) {
            guard kind == .socket else { throw .notRegularFile(path: path, kind: kind) }
            if UnixHTTPClient(socketPath: path, timeoutSeconds: 2).isReachable() {
                throw .system(path: path, SystemError("bind (another server answers here)", errno: EADDRINUSE))
            }
        }
        // Private directories are named after their socket: a second service with another socket in the same
        // directory never takes this one's for stale (nor this one its).
        Self.removeStalePrivateDirectories(in: directory, prefix: Self.prefix + name + "-")
        do {
            privateDirectory = try SafeFile.makeTemporaryDirectory(in: directory, prefix: Self.prefix + name + "-")
        } catch {
            throw .system(path: directory, error)
        }
        bindPath = privateDirectory + "/socket"
        guard bindPath.utf8.count < 108 else {
            rmdir(privateDirectory)
            throw .system(path: path, SystemError("bind", subject: "a socket path over 107 bytes", errno: ENAMETOOLONG))
        }
    }

    /// Once the server is bound at `bindPath`: gives the socket `group` (when set) and `mode`, then links it into
    /// place at `path` in one rename (whatever stood there is replaced, never followed).
    public func publish(mode: mode_t, group: gid_t?) throws(SafeFileError) {
        if let group, lchown(bindPath, UInt32.max, group) != 0 {
            throw .system(path: bindPath, SystemError("chown", errno: errno))
        }
        if chmod(bindPath, mode) != 0 { throw .system(path: bindPath, SystemError("chmod", errno: errno)) }
        try linkIntoPlace()
        published = true
    }

    /// What `verify()` found.
    public enum Check: Equatable, Sendable {
        case intact
        /// The public name was missing or was another file: the socket was linked back.
        case restored(was: String)
        case failed(String)
    }

    /// Checks that the public name is still this socket, and links it back when it is not.
    public func verify() -> Check {
        guard published else { return .intact }
        guard let ours = Self.identity(bindPath) else { return .failed("the private socket \(bindPath) is gone") }
        let current = Self.identity(path)
        if current == ours { return .intact }
        let was = current == nil ? "deleted" : "replaced by \(SafeFile.kind(of: path)?.rawValue ?? "another file")"
        do {
            try linkIntoPlace()
            return .restored(was: was)
        } catch {
            return .failed("\(was), and cannot be restored: \(error)")
        }
    }

    /// Removes the public name if it is still this socket (a newer daemon's is left alone), and the private
    /// directory.
    public func remove() {
        if let ours = Self.identity(bindPath), Self.identity(path) == ours { unlink(path) }
        unlink(bindPath)
        unlink(privateDirectory + "/publish")
        rmdir(privateDirectory)
    }

    private func linkIntoPlace() throws(SafeFileError) {
        let staging = privateDirectory + "/publish"
        unlink(staging)
        guard link(bindPath, staging) == 0 else { throw .system(path: staging, SystemError("link", errno: errno)) }
        guard rename(staging, path) == 0 else {
            let code = errno
            unlink(staging)
            throw .system(path: path, SystemError("rename", errno: code))
        }
    }

    private static func identity(_ path: String) -> FileIdentity? { FileIdentity.of(path) }

    /// Private directories a daemon that was killed left behind: ours (same owner, 0700), with no server answering.
    private static func removeStalePrivateDirectories(in directory: String, prefix: String) {
        for entryName in SafeFile.names(in: directory, prefix: prefix) {
            let candidate = "\(directory)/\(entryName)"
            var info = stat()
            guard lstat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == geteuid(),
                info.st_mode & 0o7777 == 0o700
            else { continue }
            if UnixHTTPClient(socketPath: candidate + "/socket", timeoutSeconds: 2).isReachable() { continue }
            unlink(candidate + "/socket")
            unlink(candidate + "/publish")
            rmdir(candidate)
        }
    }
}
