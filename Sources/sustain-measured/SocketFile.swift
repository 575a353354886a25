import Foundation
import Logging

/// The socket file: a stale one is removed before binding; permissions are set once it exists.
enum SocketFile {
    static func prepare(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
    }

    static func setPermissions(_ path: String, mode: UInt32, group: String, logger: Logger) {
        var info = stat()
        if let entry = getgrnam(group) {
            if stat(path, &info) == 0, info.st_gid == entry.pointee.gr_gid {
                // Already the group's (systemd's Group=): nothing to change, no CAP_CHOWN needed.
            } else if chown(path, UInt32.max, entry.pointee.gr_gid) != 0 {
                logger.warning("cannot give the socket to group \(group): \(String(cString: strerror(errno)))")
            }
        } else {
            logger.warning(
                "group \(group) does not exist: the socket stays root's (create it: see systemd/sustain.sysusers)")
        }
        if chmod(path, mode_t(mode)) != 0 {
            logger.warning("cannot set the socket's mode: \(String(cString: strerror(errno)))")
        }
    }
}
