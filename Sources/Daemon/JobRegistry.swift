import Foundation
import Impact
import LinuxSupport
import Logging
import Meter
import Reports
import SustainCore

/// Why a job request was refused, with the HTTP status it maps to.
public enum JobError: Error, Equatable, Sendable, CustomStringConvertible {
    case notFound(String)
    case forbidden(String)
    case alreadyStopped(String)
    case invalid(String)
    case unavailable(String)

    public var description: String {
        switch self {
        case .notFound(let id): "no job \(id)"
        case .forbidden(let id): "job \(id) belongs to another user"
        case .alreadyStopped(let id): "job \(id) has already been stopped"
        case .invalid(let reason): reason
        case .unavailable(let reason): reason
        }
    }
}

/// What a client says when it starts a job.
public struct JobStart: Codable, Sendable, Equatable {
    public var command: [String]
    /// The process whose tree is the job (the wrapper's own pid).
    public var pid: Int32?
    public var cgroup: String?
    public var labels: [String: String]?
}

/// What a client says when its job ends.
public struct JobStop: Codable, Sendable, Equatable {
    public var exitCode: Int32?
    public var signal: Int32?
    public var signalsReceived: [String]?
    public var interrupted: Bool?

    enum CodingKeys: String, CodingKey {
        case exitCode = "exit_code"
        case signal
        case signalsReceived = "signals_received"
        case interrupted
    }
}

/// A running job, as `GET /v1/jobs/{id}` shows it.
public struct RunningJob: Codable, Sendable, Equatable {
    public var id: String
    public var state: String
    public var uid: UInt32
    public var user: String
    public var command: [String]
    public var pid: Int32?
    public var labels: [String: String]
    public var startedAt: Date
    /// Counted energy so far.
    public var joules: Double?

    enum CodingKeys: String, CodingKey {
        case id, state, uid, user, command, pid, labels
        case startedAt = "started_at"
        case joules
    }
}

/// Open jobs: each remembers the sampler's running totals at its start; its energy is the difference at its end.
public actor JobRegistry {
    struct Job {
        var id: String
        var identity: Identity
        var start: JobStart
        var startedAt: Date
        var checkpoint: SamplerCheckpoint
    }

    private var jobs: [String: Job] = [:]
    private let sampler: Sampler
    private let sources: [SourceSummary]
    private let store: JobStore
    private let carbon: CarbonSettings
    private let logger: Logger
    /// The most jobs open at once.
    public static let maximumOpenJobs = 100_000

    public init(sampler: Sampler, sources: [SourceSummary], store: JobStore, carbon: CarbonSettings, logger: Logger) {
        self.sampler = sampler
        self.sources = sources
        self.store = store
        self.carbon = carbon
        self.logger = logger
    }

    public var openJobs: Int { jobs.count }

    /// Opens a job for `identity`.
    public func start(_ request: JobStart, by identity: Identity) throws(JobError) -> RunningJob {
        guard !request.command.isEmpty, request.command.count <= 4096 else {
            throw .invalid("command must be a non-empty array of strings")
        }
        if let labels = request.labels,
            labels.count > 64 || labels.contains(where: { $0.key.count > 128 || $0.value.count > 1024 })
        {
            throw .invalid("at most 64 labels, keys up to 128 and values up to 1024 characters")
        }
        guard jobs.count < Self.maximumOpenJobs else { throw .unavailable("too many open jobs") }
        guard let checkpoint = sampler.checkpoint() else {
            throw .unavailable("the sampler has not taken a sample yet")
        }
        let id = Report.newID()
        let job = Job(id: id, identity: identity, start: request, startedAt: Date(), checkpoint: checkpoint)
        jobs[id] = job
        logger.info("job started", metadata: ["id": "\(id)", "uid": "\(identity.uid)", "pid": "\(request.pid ?? 0)"])
        return running(job)
    }

    /// Closes a job and returns its report, which is also logged to the store.
    public func stop(_ id: String, _ request: JobStop, by identity: Identity) throws(JobError) -> Report {
        guard let job = jobs[id] else {
            if (try? store.job(id: id)) != nil { throw .alreadyStopped(id) }
            throw .notFound(id)
        }
        guard job.identity.uid == identity.uid || identity.isAdmin else { throw .forbidden(id) }
        jobs[id] = nil
        return finish(job, request, state: "finished")
    }

    /// A running job, if `identity` may see it.
    public func running(_ id: String, by identity: Identity) throws(JobError) -> RunningJob? {
        guard let job = jobs[id] else { return nil }
        guard job.identity.uid == identity.uid || identity.isAdmin else { throw .forbidden(id) }
        return running(job)
    }

    /// Running jobs that `identity` may see.
    public func runningJobs(by identity: Identity) -> [RunningJob] {
        jobs.values.filter { $0.identity.uid == identity.uid || identity.isAdmin }.sorted {
            $0.startedAt < $1.startedAt
        }
        .map(running)
    }

    /// Counted energy of every open job so far (for metrics).
    public func openJobEnergies() -> [(id: String, user: String, joules: Double)] {
        guard let now = sampler.checkpoint() else { return [] }
        return jobs.values.map { job in
            (job.id, job.identity.user, sampler.measurement(from: job.checkpoint, to: now).countedEnergy?.value ?? 0)
        }
    }

    private func running(_ job: Job) -> RunningJob {
        let energy = sampler.checkpoint().map { sampler.measurement(from: job.checkpoint, to: $0).countedEnergy?.value }
        return RunningJob(
            id: job.id, state: "running", uid: job.identity.uid, user: job.identity.user, command: job.start.command,
            pid: job.start.pid, labels: job.start.labels ?? [:], startedAt: job.startedAt, joules: energy ?? nil)
    }

    private func finish(_ job: Job, _ request: JobStop, state: String) -> Report {
        let end = sampler.checkpoint() ?? job.checkpoint
        let measurement = sampler.measurement(from: job.checkpoint, to: end)
        let facts = JobFacts(
            id: job.id, command: job.start.command, exitCode: request.signal == nil ? request.exitCode : nil,
            signal: request.signal, signalsReceived: request.signalsReceived ?? [],
            interrupted: request.interrupted ?? false, startedAt: job.startedAt, endedAt: Date(),
            host: Report.Host.current())
        var report = Report(job: facts, measurement: measurement, sources: sources, carbon: carbon)
        report.owner = Report.Owner(uid: job.identity.uid, user: job.identity.user, pid: job.start.pid)
        report.labels = job.start.labels ?? [:]
        report.measuredBy = "sustain-measured"
        do {
            try store.insert(JobRecord(report: report, identity: job.identity, labels: report.labels, state: state))
        } catch {
            logger.error("cannot record job", metadata: ["id": "\(job.id)", "error": "\(error)"])
            report.warnings.append("The daemon could not record this job in its database: \(error).")
        }
        logger.info(
            "job finished",
            metadata: [
                "id": "\(job.id)", "uid": "\(job.identity.uid)", "user": "\(job.identity.user)",
                "command": "\(job.start.command.joined(separator: " "))",
                "exit_code": "\(request.exitCode.map(String.init) ?? "null")",
                "joules": "\(report.energy.joules.map { String($0) } ?? "null")",
                "kg_co2e": "\(report.carbon.kgCo2e.map { String($0) } ?? "null")",
                "labels": "\(report.labels)",
            ])
        return report
    }
}
