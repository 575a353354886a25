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
}
