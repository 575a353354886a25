import Glibc
import NIOCore

/// Who is calling, as the kernel says: the peer credentials of the Unix socket connection (SO_PEERCRED), never
/// anything the request claims.
public struct Identity: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32
    public var user: String
    /// Root, or a member of the configured admin group: sees and stops every job.
    public var isAdmin: Bool

    public init(uid: UInt32, gid: UInt32, pid: Int32, user: String, isAdmin: Bool) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.user = user
        self.isAdmin = isAdmin
    }

    /// The identity of `uid`, with its user name and admin standing (root, or a member of `adminGroup`).
    public static func of(uid: UInt32, gid: UInt32, pid: Int32, adminGroup: String?) -> Identity {
        Identity(
            uid: uid, gid: gid, pid: pid, user: userName(uid) ?? "uid \(uid)",
            isAdmin: uid == 0 || adminGroup.map { isMember(uid: uid, gid: gid, of: $0) } == true)
    }

    static func userName(_ uid: UInt32) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name
        else { return nil }
        return String(cString: name)
    }

    static func isMember(uid: UInt32, gid: UInt32, of groupName: String) -> Bool {
        guard let group = getgrnam(groupName) else { return false }
        let target = group.pointee.gr_gid
        if target == gid { return true }
        guard let name = userName(uid) else { return false }
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, gid, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, gid, &groups, &count)
        }
        return groups.prefix(Int(max(0, count))).contains(target)
    }
}

/// `struct ucred` (Linux), the value of SO_PEERCRED.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

extension Identity {
    /// SO_PEERCRED of the connection `channel`; nil when the channel is not a Unix socket.
    static func peer(of channel: any Channel, adminGroup: String?) async -> Identity? {
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        let future: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        guard let credentials = try? await future.get(), credentials.pid > 0 else { return nil }
        return .of(uid: credentials.uid, gid: credentials.gid, pid: credentials.pid, adminGroup: adminGroup)
    }
}
