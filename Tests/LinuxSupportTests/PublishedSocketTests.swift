import Foundation
import LinuxSupport
import Testing

struct PublishedSocketTests {
    /// Two services with sockets in one directory, starting together (two `sustain-measured` nodes on one test
    /// machine): the second must not take the first's private bind directory for a stale one and remove it.
    @Test func anotherSocketsPrivateDirectoryIsNotTakenForStale() throws {
        let directory = URL(fileURLWithPath: "/tmp/sustain-socket-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        chmod(directory.path, 0o755)
        let first = try PublishedSocket(path: directory.appendingPathComponent("a.sock").path)
        let second = try PublishedSocket(path: directory.appendingPathComponent("b.sock").path)
        defer {
            first.remove()
            second.remove()
        }
        let firstDirectory = URL(fileURLWithPath: first.bindPath).deletingLastPathComponent().path
        #expect(FileManager.default.fileExists(atPath: firstDirectory), "a.sock's private directory survives b.sock")
        #expect(first.bindPath != second.bindPath)
    }
}
