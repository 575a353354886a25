import Foundation
import HTTPTypes
import Hummingbird
import LinuxSupport
import Logging
import NIOCore
import ServiceLifecycle

@testable import Daemon

/// The API tests' client: the application served on a real Unix socket in a temporary directory, spoken to with
/// the project's own `UnixHTTPClient` (the wrapper's production path). It replaces HummingbirdTesting, whose
/// build (AsyncHTTPClient and BoringSSL) took most of CI's time.
struct TestResponse: Sendable {
    var status: HTTPResponse.Status
    var body: ByteBuffer
}

struct SocketTestClient: Sendable {
    let client: UnixHTTPClient

    /// One request; the blocking client runs on a thread of its own, never on the concurrency pool the server's
    /// handlers need.
    func execute(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil)
        async throws -> TestResponse
    {
        let fields = headers.map { ($0.name.rawName, $0.value) }
        let bytes = body.map { Array($0.readableBytesView) }
        let client = client
        let response = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<UnixHTTPClient.Response, any Error>) in
            Thread {
                do {
                    continuation.resume(
                        returning: try client.send(method.rawValue, uri, headers: fields, body: bytes))
                } catch {
                    continuation.resume(throwing: error)
                }
            }.start()
        }
        return TestResponse(status: HTTPResponse.Status(code: response.status), body: ByteBuffer(bytes: response.body))
    }
}

/// Serves `router` on a fresh Unix socket while `body` runs.
func withServedRouter(_ router: Router<APIContext>, _ body: (SocketTestClient) async throws -> Void) async throws {
    let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
        "sustain-api-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("api.sock").path
    let app = Application(
        router: router, configuration: .init(address: .unixDomainSocket(path: path)),
        logger: Logger(label: "test"))
    let group = ServiceGroup(services: [app], logger: Logger(label: "test"))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let client = UnixHTTPClient(socketPath: path, timeoutSeconds: 30)
        for _ in 0..<200 where !client.isReachable() { try await Task.sleep(for: .milliseconds(10)) }
        do {
            try await body(SocketTestClient(client: client))
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}
