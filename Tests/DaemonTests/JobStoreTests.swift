import Foundation
import GRDB
import Testing

@testable import Daemon

/// The carbon log's file: upgrades keep the jobs, retention deletes only what is old.
struct JobStoreTests {
    static func record(_ id: String, endedDaysAgo days: Double) -> JobRecord {
        let ended = Date(timeIntervalSinceNow: -days * 86_400)
        return JobRecord(
            id: id, uid: 1000, user: "alice", command: #"["train.py"]"#, startedAt: ended.addingTimeInterval(-60),
            endedAt: ended, exitCode: 0, joules: 1234.5, kgCo2e: 0.0002, labels: "{}", state: "finished",
            report: "{}")
    }

    static func temporaryDatabase() throws -> (URL, String) {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("sustain-store-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return (directory, directory.appendingPathComponent("jobs.sqlite").path)
    }

    @Test func aDatabaseOfTheFirstVersionIsMigratedWithItsJobs() throws {
        let (directory, path) = try Self.temporaryDatabase()
        defer { try? FileManager.default.removeItem(at: directory) }
        do {  // the schema as the first release wrote it
            let old = try DatabasePool(path: path)
            try JobStore.migrator.migrate(old, upTo: "v1: jobs")
            try old.write { db in try Self.record("old-job", endedDaysAgo: 1).insert(db) }
        }
        let store = try JobStore(path: path)
        #expect(try store.job(id: "old-job")?.joules == 1234.5)
        #expect(try store.recoveryState().open.isEmpty)
        #expect(try store.integrityCheck() == "ok")
    }

    @Test func retentionDeletesOnlyJobsThatEndedBeforeTheCutoff() throws {
        let (directory, path) = try Self.temporaryDatabase()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try JobStore(path: path)
        try store.insert(Self.record("ancient", endedDaysAgo: 100))
        try store.insert(Self.record("recent", endedDaysAgo: 1))
        #expect(try store.prune(endedBefore: Date(timeIntervalSinceNow: -30 * 86_400)) == 1)
        #expect(try store.job(id: "ancient") == nil)
        #expect(try store.job(id: "recent") != nil)
    }
}
