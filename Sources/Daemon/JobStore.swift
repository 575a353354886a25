import Foundation
import GRDB
import LinuxSupport
import Meter
import Reports
import SustainAPI
import Synchronization

/// One finished job as the carbon log keeps it: indexed columns plus the full report.
public struct JobRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "jobs"

    public var id: String
    public var uid: Int64
    public var user: String
    /// The command, as JSON (an array of strings).
    public var command: String
    public var startedAt: Date
    public var endedAt: Date
    public var exitCode: Int64?
    public var joules: Double?
    public var kgCo2e: Double?
    /// Labels, as JSON (an object of strings).
    public var labels: String
    /// "finished" | "incomplete".
    public var state: String
    /// The full `sustain.report.v1` JSON.
    public var report: String

    enum CodingKeys: String, CodingKey {
        case id, uid, user, command
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case exitCode = "exit_code"
        case joules
        case kgCo2e = "kg_co2e"
        case labels, state, report
    }
}

/// Filters for listing jobs.
public struct JobFilter: Sendable, Equatable {
    public var uid: UInt32?
    public var user: String?
    public var since: Date?
    /// `key=value`.
    public var label: (key: String, value: String)?
    public var limit: Int = 1000

    public init() {}

    /// The filters of a `GET /v1/jobs` query (checked when it was parsed).
    public init(_ query: JobQuery) {
        user = query.user
        since = query.since
        label = query.label.map { ($0.key, $0.value) }
        limit = query.limit ?? JobQuery.defaultLimit
    }

    public static func == (lhs: JobFilter, rhs: JobFilter) -> Bool {
        lhs.uid == rhs.uid && lhs.user == rhs.user && lhs.since == rhs.since && lhs.label?.key == rhs.label?.key
            && lhs.label?.value == rhs.label?.value && lhs.limit == rhs.limit
    }
}

/// The per-job carbon log: an SQLite database in WAL mode (GRDB), versioned by migrations. Its files are the
/// daemon's alone (0600, whatever the umask); a database deleted or replaced while the daemon runs is noticed
/// (`reopenIfReplaced()`) and made anew.
public final class JobStore: Sendable {
    private let state: Mutex<State>
    private let readOnly: Bool
    public let path: String

    private struct State {
        var database: DatabasePool
        var file: FileIdentity?
    }

    private var database: DatabasePool { state.withLock { $0.database } }

    /// Opens (creating if needed, and migrating) the database at `path`; `readOnly` opens an existing one as it is.
    public init(path: String, readOnly: Bool = false) throws {
        self.path = path
        self.readOnly = readOnly
        let database = try Self.open(path, readOnly: readOnly)
        state = Mutex(State(database: database, file: FileIdentity.of(path)))
    }

    private static func open(_ path: String, readOnly: Bool) throws -> DatabasePool {
        if !readOnly {
            // SQLite gives the WAL and shared-memory files the database file's mode: create it 0600 first, and
            // make older files private too.
            for file in [path, path + "-wal", path + "-shm"] where file == path || SafeFile.kind(of: file) != nil {
                try SafeFile.makePrivateFile(file, mode: 0o600)
            }
        }
        var configuration = GRDB.Configuration()
        configuration.busyMode = .timeout(5)
        configuration.readonly = readOnly
        // An append-mostly log read by id or by an indexed filter: a small page cache per connection (SQLite's
        // default is 2 MB each) and two readers keep the daemon's memory flat however many jobs it logs.
        configuration.maximumReaderCount = 2
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA cache_size = -256") }
        let database = try DatabasePool(path: path, configuration: configuration)
        if !readOnly { try Self.migrator.migrate(database) }
        return database
    }

    /// When the database file at `path` is no longer the one open (deleted, or replaced by another file), opens
    /// (creating) the file now there and returns true: the caller then writes what it holds (open jobs, the
    /// checkpoint) into it. Throws when the new file cannot be opened; the old connection is kept.
    public func reopenIfReplaced() throws -> Bool {
        let current = FileIdentity.of(path)
        guard current == nil || current != state.withLock({ $0.file }) else { return false }
        let database = try Self.open(path, readOnly: readOnly)
        state.withLock { $0 = State(database: database, file: FileIdentity.of(path)) }
        return true
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: jobs") { db in
            try db.create(table: "jobs") { table in
                table.primaryKey("id", .text)
                table.column("uid", .integer).notNull().indexed()
                table.column("user", .text).notNull()
                table.column("command", .text).notNull()
                table.column("started_at", .datetime).notNull().indexed()
                table.column("ended_at", .datetime).notNull()
                table.column("exit_code", .integer)
                table.column("joules", .double)
                table.column("kg_co2e", .double)
                table.column("labels", .text).notNull()
                table.column("state", .text).notNull()
                table.column("report", .text).notNull()
            }
        }
        migrator.registerMigration("v2: checkpoints") { db in
            try db.create(table: "open_jobs") { table in
                table.primaryKey("id", .text)
                table.column("uid", .integer).notNull()
                table.column("user", .text).notNull()
                table.column("process", .text)
                table.column("started_at", .datetime).notNull()
                table.column("request", .text).notNull()
                table.column("checkpoint", .text).notNull()
                table.column("gaps", .text).notNull()
            }
            try db.create(table: "sampler_state") { table in
                table.primaryKey("id", .integer).check { $0 == 1 }
                table.column("boot_id", .text)
                table.column("saved_at", .datetime).notNull()
                table.column("checkpoint", .text).notNull()
            }
        }
        migrator.registerMigration("v3: watch periods") { db in
            // Each watched server's period so far (JSON), saved every checkpoint: a service that stops without
            // writing the periods' reports (a crash, SIGKILL) writes them when it starts again.
            try db.create(table: "watch_periods") { table in
                table.primaryKey("name", .text)
                table.column("period", .text).notNull()
            }
        }
        return migrator
    }

    /// Records a finished job and forgets it as an open one, in one transaction (again, harmlessly, when a retry
    /// follows a write that did land).
    public func insert(_ record: JobRecord) throws {
        try database.write { db in
            try record.save(db)
            _ = try OpenJobRecord.deleteOne(db, key: record.id)
        }
    }

    /// Remembers an open job (inserted at its start, replaced when a restart carries it over).
    public func saveOpen(_ record: OpenJobRecord) throws {
        try database.write { db in try record.save(db) }
    }

    /// Forgets an open job that cannot be carried over (its row could not be read).
    public func deleteOpen(_ id: String) throws {
        try database.write { db in _ = try OpenJobRecord.deleteOne(db, key: id) }
    }

    /// Replaces the watched servers' saved periods (name → JSON) with `periods`, in one transaction.
    public func saveWatchPeriods(_ periods: [String: String]) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM watch_periods")
            for (name, period) in periods {
                try db.execute(
                    sql: "INSERT INTO watch_periods (name, period) VALUES (?, ?)", arguments: [name, period])
            }
        }
    }

    /// The watched servers' saved periods, name → JSON.
    public func watchPeriods() throws -> [String: String] {
        try database.read { db in
            var periods: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, period FROM watch_periods") {
                periods[row["name"]] = row["period"]
            }
            return periods
        }
    }

    /// The sampler's running totals, saved every checkpoint interval: with each open job's start, they give every
    /// open job's energy so far.
    public func saveSamplerState(_ state: SamplerStateRecord) throws {
        try database.write { db in try state.save(db) }
    }

    /// After a restart: the carried-over jobs (their starts now in the new sampler's totals) and the new
    /// sampler's first totals, in one transaction so the two always agree.
    public func saveRecovery(open: [OpenJobRecord], sampler: SamplerStateRecord) throws {
        try database.write { db in
            for record in open { try record.save(db) }
            try sampler.save(db)
        }
    }

    /// What a restarted daemon carries over: the last saved totals and the jobs open then.
    public func recoveryState() throws -> (sampler: SamplerStateRecord?, open: [OpenJobRecord]) {
        try database.read { db in
            (try SamplerStateRecord.fetchOne(db, key: 1), try OpenJobRecord.order(Column("started_at")).fetchAll(db))
        }
    }

    /// Deletes finished jobs that ended before `date`; returns how many.
    public func prune(endedBefore date: Date) throws -> Int {
        try database.write { db in try JobRecord.filter(Column("ended_at") < date).deleteAll(db) }
    }

    /// SQLite's own check of the file (`PRAGMA integrity_check`): "ok" when sound.
    public func integrityCheck() throws -> String {
        try database.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "no answer" }
    }

    public func job(id: String) throws -> JobRecord? {
        try database.read { db in try JobRecord.fetchOne(db, key: id) }
    }

    public func jobs(_ filter: JobFilter) throws -> [JobRecord] {
        try database.read { db in
            var request = JobRecord.all()
            if let uid = filter.uid { request = request.filter(Column("uid") == Int64(uid)) }
            if let user = filter.user { request = request.filter(Column("user") == user) }
            if let since = filter.since { request = request.filter(Column("started_at") >= since) }
            if let label = filter.label {
                request = request.filter(
                    sql: "json_extract(labels, ?) = ?", arguments: ["$.\"\(label.key)\"", label.value])
            }
            return try request.order(Column("started_at").desc).limit(filter.limit).fetchAll(db)
        }
    }
}

extension JobRecord {
    /// The record of a finished job's report.
    public init(report: Report, identity: Identity, labels: [String: String], state: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        id = report.id
        uid = Int64(identity.uid)
        user = identity.user
        command = String(decoding: try encoder.encode(report.command), as: UTF8.self)
        startedAt = report.startedAt
        endedAt = report.endedAt
        exitCode = report.exitCode.map(Int64.init)
        joules = report.energy.joules
        kgCo2e = report.carbon.kgCo2e
        self.labels = String(decoding: try encoder.encode(labels), as: UTF8.self)
        self.state = state
        self.report = String(decoding: try report.jsonData(), as: UTF8.self)
    }
}

/// An open job as the daemon persists it, so a restart can carry it over.
public struct OpenJobRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "open_jobs"

    public var id: String
    public var uid: Int64
    public var user: String
    /// The job's process (JSON `ProcessIdentity`), when the client named a live one.
    public var process: String?
    public var startedAt: Date
    /// The start request (JSON `JobStart`).
    public var request: String
    /// The job's start in the sampler's running totals (JSON `SamplerCheckpoint`).
    public var checkpoint: String
    /// Earlier restarts while it ran (JSON `[Report.Gap]`).
    public var gaps: String

    enum CodingKeys: String, CodingKey {
        case id, uid, user, process
        case startedAt = "started_at"
        case request, checkpoint, gaps
    }
}

/// The sampler's running totals at its latest saved checkpoint (one row).
public struct SamplerStateRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "sampler_state"

    public var id: Int64 = 1
    public var bootID: String?
    public var savedAt: Date
    /// JSON `SamplerCheckpoint`.
    public var checkpoint: String

    public init(bootID: String?, savedAt: Date, checkpoint: String) {
        self.bootID = bootID
        self.savedAt = savedAt
        self.checkpoint = checkpoint
    }

    enum CodingKeys: String, CodingKey {
        case id
        case bootID = "boot_id"
        case savedAt = "saved_at"
        case checkpoint
    }
}
