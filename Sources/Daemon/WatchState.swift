import Foundation
import LinuxSupport
import Meter
import SustainConfiguration
import SustainCore

/// One `[[watch]]` entry as the service keeps it: where the server is now, its energy and units since the service
/// started watching it, and the period its next report covers. The energy is the attribution ledger's (entry
/// `watch:NAME`, beside the jobs, one accounting), plus the GPUs its processes used.
struct WatchState {
    /// Running totals since the service started watching the server.
    struct Totals: Equatable, Codable {
        /// Attributed CPU-side energy per ledger domain.
        var domains: [Double]
        /// The machine's attributed-domain energy while watched, and the idle part of the server's.
        var machine = 0.0
        var idle = 0.0
        /// GPU energy charged by the server's processes.
        var gpu = 0.0
        var grams = 0.0
        var units = 0.0
        var joules: Double { domains.reduce(0, +) + gpu }

        init(domains: Int) { self.domains = Array(repeating: 0, count: domains) }

        /// Adds what one ledger entry of the watch got (its present cgroup's, or an earlier one's).
        mutating func add(_ ledger: AttributionLedger.Job) {
            domains = zip(domains, ledger.joules).map { $0 + $1 }
            machine += ledger.machineJoules
            idle += ledger.idleJoules
        }

        static func - (lhs: Totals, rhs: Totals) -> Totals {
            var result = Totals(domains: lhs.domains.count)
            result.domains = zip(lhs.domains, rhs.domains).map { $0 - $1 }
            result.machine = lhs.machine - rhs.machine
            result.idle = lhs.idle - rhs.idle
            result.gpu = lhs.gpu - rhs.gpu
            result.grams = lhs.grams - rhs.grams
            result.units = lhs.units - rhs.units
            return result
        }
    }

    /// Where the server is now.
    struct Location: Equatable, Codable {
        var cgroup: String
        /// Its first process (the pid file's, else the lowest pid in the cgroup): the root of the tree whose GPU
        /// use is charged to it, and whose owner owns its reports.
        var root: ProcessIdentity?
        var owner: UInt32
    }

    /// The report period: from `start`, with the totals then, and what went missing during it.
    struct Period: Codable {
        var start: SamplerCheckpoint
        var startedAt: Date
        var totals: Totals
        var scrapes = 0
        var failures = 0
        /// The last failed scrape's reason in the period.
        var lastFailure: String?
        /// Whether the server was found at some time in the period, and why it was not when it was not.
        var found = false
        var missing: String?
        var notes: [String] = []
    }

    /// A period as saved every checkpoint (`watch_periods`), for a service that stops without writing it.
    struct Saved: Codable {
        /// The watch's target as configured (`cgroup …`): a period is written again only for the same server.
        var target: String
        var period: Period
        /// The totals at `last`, the period's last saved checkpoint.
        var now: Totals
        var last: SamplerCheckpoint
        var location: Location?
        var countsUnits: Bool
    }

    let config: Configuration.Watch
    var location: Location?
    /// Why the server cannot be found now (a unit stopped, a pid file gone): said in metrics and the report.
    var missing: String?
    /// Energy of the ledger entries of earlier cgroups (the server restarted elsewhere), and GPU energy, carbon
    /// and units so far.
    var retired: Totals
    var gpu = 0.0
    var grams = 0.0
    /// Energy at the last accounting, and its checkpoint (GPU energy is measured between checkpoints).
    var accounted = 0.0
    var lastCheckpoint: SamplerCheckpoint
    var scraped = WatchUnits()
    /// Units counted by the application's `count` marks.
    var marked = 0.0
    var period: Period

    var ledgerID: String { Self.ledgerID(config.name) }
    static func ledgerID(_ name: String) -> String { "watch:" + name }

    /// Whether any unit of work is configured or has been marked.
    var countsUnits: Bool { config.unitsURL != nil || marked > 0 }

    var target: String { Self.targetDescription(config.target) }

    static func targetDescription(_ target: Configuration.Watch.Target) -> String {
        switch target {
        case .cgroup(let path): "cgroup \(path)"
        case .unit(let unit): "unit \(unit)"
        case .pidFile(let path): "pid_file \(path)"
        }
    }

    /// Adds a note to the current period once.
    mutating func note(_ text: String) {
        if !period.notes.contains(text), period.notes.count < 20 { period.notes.append(text) }
    }

    /// Where `target` is now, or why it cannot be found, with the cgroup hierarchy at `mount`.
    static func locate(_ target: Configuration.Watch.Target, mount: String) -> Result<Location, WatchMissing> {
        let cgroup: String
        var root: ProcessIdentity?
        switch target {
        case .cgroup(let path):
            guard SafeFile.kind(of: mount + path + "/cgroup.procs") == .regular else {
                return .failure(WatchMissing("the cgroup \(path) does not exist (is the server running?)"))
            }
            cgroup = path
        case .unit(let unit):
            guard let path = CgroupV2.path(ofUnit: unit, mount: mount) else {
                return .failure(WatchMissing("the unit \(unit) has no cgroup (is it started?)"))
            }
            cgroup = path
        case .pidFile(let file):
            let bytes: [UInt8]
            do {
                bytes = try SafeFile.readTrusted(file, limit: 64)
            } catch {
                return .failure(WatchMissing("the pid file cannot be read (\(error))"))
            }
            let text = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isWhitespace).first
            guard let pid = text.flatMap({ Int32($0) }), pid > 0, let process = ProcessIdentity.of(pid),
                let path = CgroupV2.path(ofProcess: pid)
            else {
                return .failure(WatchMissing("the pid file \(file) names no running process"))
            }
            cgroup = path
            root = process
        }
        if root == nil, let first = CgroupV2.firstProcess(mount: mount, path: cgroup) {
            root = ProcessIdentity.of(first)
        }
        let owner = root.flatMap { ProcessIdentity.owner(of: $0.pid) } ?? 0
        return .success(Location(cgroup: cgroup, root: root, owner: owner))
    }
}

struct WatchMissing: Error, Equatable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
