import Glibc
import Testing

@testable import LinuxSupport

/// The wrapper's hand-written HTTP/1.1 response parser: lengths, chunks, what is malformed.
struct UnixHTTPClientTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func aContentLengthBodyIsCutAtItsLength() throws {
        let response = try UnixHTTPClient.parse(
            Self.bytes("HTTP/1.1 201 Created\r\nContent-Length: 5\r\nContent-Type: x\r\n\r\nhello, and more"),
            subject: "t")
        #expect(response.status == 201)
        #expect(response.body == Self.bytes("hello"))
    }

    @Test func aBodyWithoutLengthRunsToTheEnd() throws {
        let response = try UnixHTTPClient.parse(Self.bytes("HTTP/1.0 200 OK\r\n\r\nall of it"), subject: "t")
        #expect(response.body == Self.bytes("all of it"))
    }

    @Test func chunkedBodiesAreJoinedWithExtensionsAndMixedCaseHeaders() throws {
        let text =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n"
        let response = try UnixHTTPClient.parse(Self.bytes(text), subject: "t")
        #expect(response.body == Self.bytes("Wikipedia in\r\n\r\nchunks."))
    }

    @Test func aChunkThatIsCutShortIsAnError() {
        #expect(throws: SystemError.self) {
            try UnixHTTPClient.parse(
                Self.bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\nshort"), subject: "t")
        }
    }

    @Test(arguments: ["", "HTTP/1.1 200 OK\r\n", "garbage\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n", "SSH-2.0\r\n\r\n"])
    func malformedResponsesAreErrors(text: String) {
        #expect(throws: SystemError.self) { try UnixHTTPClient.parse(Self.bytes(text), subject: "t") }
    }

    @Test func aLengthLongerThanTheBodyKeepsWhatArrived() throws {
        // The connection closed early: the caller gets what came (and JSON decoding then fails clearly).
        let response = try UnixHTTPClient.parse(
            Self.bytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"), subject: "t")
        #expect(response.body == Self.bytes("partial"))
    }

    /// Hostile answers (round 3): a chunk size that overflows or is negative trapped the client (SIGILL).
    @Test(arguments: ["7fffffffffffffff", "-5", "ffffffffffffffffff", "8000000000000000"])
    func hostileChunkSizesAreErrorsNotTraps(size: String) {
        #expect(throws: SystemError.self) {
            try UnixHTTPClient.parse(
                Self.bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nabc\r\n0\r\n\r\n"),
                subject: "t")
        }
    }

    @Test func aNegativeContentLengthKeepsWhatArrived() throws {
        let response = try UnixHTTPClient.parse(
            Self.bytes("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nbody"), subject: "t")
        #expect(response.body == Self.bytes("body"))
    }

    /// A server that drips one byte every 0.2 s never lets a read time out; the client's deadline is for the
    /// whole answer, so it gives up after its timeout (1 s), not never.
    @Test func aDrippingServerIsCutAtTheDeadline() throws {
        let path = "/tmp/sustain-drip-\(getpid()).sock"
        unlink(path)
        let server = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(path.utf8) + [0])
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(server, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0 && listen(server, 1) == 0)
        defer {
            close(server)
            unlink(path)
        }
        let dripper = try NativeThread(name: "dripper") {
            let client = accept(server, nil, nil)
            guard client >= 0 else { return }
            defer { close(client) }
            var request = [UInt8](repeating: 0, count: 4096)
            _ = read(client, &request, request.count)
            let head = Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".utf8)
            _ = head.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            for _ in 0..<40 {
                var byte: UInt8 = 120
                guard send(client, &byte, 1, Int32(MSG_NOSIGNAL)) == 1 else { return }
                usleep(200_000)
            }
        }
        let started = ContinuousClock.now
        #expect(throws: SystemError.self) {
            _ = try UnixHTTPClient(socketPath: path, timeoutSeconds: 1).send("GET", "/", json: nil)
        }
        let took = ContinuousClock.now - started
        #expect(took < .seconds(2) && took > .milliseconds(900), "\(took)")
        dripper.join()
    }
}
