import Foundation
import SustainTestSupport
import Testing

/// `sustain-measured` refuses to start on a bad configuration, naming the file, the key and the reason, before it
/// touches a socket or a database.
struct DaemonConfigTests {
    @Test(arguments: [
        ("[daemon]\ninterval = 0\n", "daemon.interval", "from 0.001 to 60 seconds"),
        ("[daemon]\nsources = [\"rapl\"]\n", "daemon.sources", "unknown source \"rapl\""),
        ("[impact]\nregion = \"atlantis\"\n", "impact.region", "atlantis"),
        ("[daemon\n", nil, "not valid TOML"),
    ])
    func aBadFileStopsTheStartWithTheKey(text: String, key: String?, reason: String) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("bad.toml")
        try text.write(to: config, atomically: true, encoding: .utf8)
        let socket = directory.appendingPathComponent("s.sock").path
        let database = directory.appendingPathComponent("jobs.sqlite").path
        let outcome = try Harness.run([
            Harness.product("sustain-measured"), "--config", config.path, "--socket", socket, "--database", database,
        ])
        #expect(outcome.status != 0)
        let message = outcome.stderr
        #expect(message.contains(config.path), "\(message)")
        if let key { #expect(message.contains(key), "\(message)") }
        #expect(message.contains(reason), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: socket), "nothing started")
        #expect(!FileManager.default.fileExists(atPath: database))
    }

    @Test func aMissingFileIsNamed() throws {
        let outcome = try Harness.run([
            Harness.product("sustain-measured"), "--config", "/nonexistent/sustain.toml", "--socket", "/tmp/never.sock",
        ])
        #expect(outcome.status != 0)
        let message = outcome.stderr
        #expect(message.contains("/nonexistent/sustain.toml"), "\(message)")
    }
}
