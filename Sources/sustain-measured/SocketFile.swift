import Daemon
import Glibc
import LinuxSupport
import Logging
import SustainConfiguration

/// The socket's publication and watch, with what the journal says about them.
enum SocketFile {
    /// Gives the bound socket its group and mode, and links it into place.
    static func publish(_ socket: PublishedSocket, mode: UInt32, group: String, logger: Logger) {
        var gid: gid_t?
        if let entry = getgrnam(group) {
            gid = entry.pointee.gr_gid
        } else {
            logger.warning(
                "group \(group) does not exist: the socket stays root's (create it: see systemd/sustain.sysusers)")
        }
        do {
            try socket.publish(mode: mode_t(mode), group: gid)
            logger.info("listening", metadata: ["socket": "\(socket.path)"])
        } catch {
            logger.critical("cannot publish the socket: \(error)")
        }
    }

    /// Puts the socket back when its file was deleted or replaced, so wrappers never silently measure alone.
    static func watch(_ socket: PublishedSocket, logger: Logger) {
        switch socket.verify() {
        case .intact: break
        case .restored(let was):
            logger.error("the socket file was \(was): restored", metadata: ["socket": "\(socket.path)"])
        case .failed(let reason):
            logger.critical("the socket file is not this daemon's: \(reason)", metadata: ["socket": "\(socket.path)"])
        }
    }
}

/// The daemon's state directory, held for its life: the directory checked (no other user can change what is in
/// it), the instance lock taken before anything else is touched, and the database opened with private modes.
struct DaemonState: Sendable {
    let lock: InstanceLock
    let store: JobStore
    /// The database's directory, private to the service: its journal of power limits and tuning profiles too.
    let directory: String

    static func prepare(database: String) throws -> DaemonState {
        let slash = database.lastIndex(of: "/") ?? database.startIndex
        let directory = slash == database.startIndex ? "/" : String(database[..<slash])
        let name = String(database[database.index(after: slash)...])
        if SafeFile.kind(of: directory) == nil { try SafeFile.makeDirectories(directory, mode: 0o700) }
        try SafeFile.checkPrivateDirectory(directory)
        let lock = try InstanceLock(path: "\(directory)/.\(name).lock")
        return DaemonState(lock: lock, store: try JobStore(path: database), directory: directory)
    }
}

extension SustainConfiguration.Configuration.Daemon {
    /// The job limits these settings give.
    var limits: JobLimits {
        JobLimits(maxOpenJobsPerUser: maxOpenJobsPerUser, maxAgeWithoutPID: maxJobAgeWithoutPID)
    }
}
