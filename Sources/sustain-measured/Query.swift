import ArgumentParser
import Daemon
import Foundation
import Hummingbird
import SustainConfiguration

/// Answers an API GET from the database alone, for `sustain-measure report` as root while the daemon is down.
struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the answer to GET /v1/jobs?… or /v1/jobs/ID from the database alone (root).",
        discussion: "sustain-measure report runs this when the daemon is down. Finished jobs only.")

    @Option(help: ArgumentHelp("The carbon log.", valueName: "path"))
    var database = SustainConfiguration.Configuration.Daemon().database

    @Argument(help: ArgumentHelp("The API target, such as /v1/jobs?limit=10.", valueName: "target"))
    var target: String

    func run() throws {
        guard geteuid() == 0 else {
            try fail(
                "it reads every user's jobs, so it is for root; users read their own through the daemon "
                    + "(sustain-measure report).")
        }
        guard FileManager.default.fileExists(atPath: database) else {
            try fail("no carbon log at \(database): pass --database, or check [daemon] database.")
        }
        do {
            print(try API.offline(target, store: try JobStore(path: database, readOnly: true)))
        } catch let error as HTTPError {
            try fail(error.body ?? "\(error.status)")
        }
    }

    /// A plain message on stderr and exit status 1 (no usage text: the caller is usually sustain-measure).
    func fail(_ message: String) throws -> Never {
        FileHandle.standardError.write(Data("sustain-measured query: \(message)\n".utf8))
        throw ExitCode(1)
    }
}
