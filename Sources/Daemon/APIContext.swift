import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SustainAPI
import Synchronization

/// The admin group's name, which a configuration reload (SIGHUP) may change while connections are served.
public final class AdminGroup: Sendable {
    private let value: Mutex<String?>
    public init(_ name: String?) { value = Mutex(name) }
    public var name: String? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// How the API learns who is calling.
public enum IdentitySource: Sendable {
    /// SO_PEERCRED of the Unix socket connection: the only source in production.
    case peerCredentials(adminGroup: AdminGroup)
    /// A fixed identity per request from the `X-Sustain-Test-Uid` header: in-process tests only, never served.
    case testHeader(adminGroup: String?)
}

/// The request context: the connection's channel (for its peer credentials) and the caller's identity.
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: (any Channel)?
    public var identity: Identity?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Request bodies above this size are refused with 413: a job start holds at most 64 KiB of command
    /// (`RecordedCommand.storedBytesLimit`), at most six times that once JSON-escaped.
    public var maxUploadSize: Int { 1024 * 1024 }

    /// The API's one coding (`APICoding`): ISO 8601 dates, sorted keys.
    public var responseEncoder: JSONEncoder { APICoding.encoder() }
    public var requestDecoder: JSONDecoder { APICoding.decoder() }
}

/// Sets `context.identity` from the kernel (or, in tests only, from a header); refuses requests without one.
struct IdentityMiddleware: RouterMiddleware {
    typealias Context = APIContext
    let source: IdentitySource

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response)
        async throws -> Response
    {
        var context = context
        switch source {
        case .peerCredentials(let adminGroup):
            if let channel = context.channel {
                context.identity = await Identity.peer(of: channel, adminGroup: adminGroup.name)
            }
        case .testHeader(let adminGroup):
            if let name = HTTPField.Name("X-Sustain-Test-Uid"), let text = request.headers[values: name].first,
                let uid = UInt32(text)
            {
                context.identity = .of(uid: uid, gid: uid, pid: 1, adminGroup: adminGroup)
            }
        }
        guard context.identity != nil else {
            throw HTTPError(.forbidden, message: "no peer credentials: connect over the Unix socket")
        }
        return try await next(request, context)
    }
}
