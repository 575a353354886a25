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
    case notYourProcess(Int32)
    case alreadyStopped(String)
    case invalid(String)
    case unavailable(String)

    public var description: String {
        switch self {
        case .notFound(let id): "no job \(id)"
        case .forbidden(let id): "job \(id) belongs to another user"
        case .notYourProcess(let pid):
            "process \(pid) belongs to another user: register the job with your own pid (the wrapper does), or none"
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

/// What a restarted daemon did with the jobs that were open when it stopped.
public struct RecoverySummary: Sendable, Equatable {
    /// Jobs whose processes still run: carried over, the gap recovered from counters where sound.
    public var continued: [String] = []
    /// Jobs whose processes were gone (or the machine rebooted): closed as "incomplete".
    public var closed: [String] = []
}

/// Open jobs: each remembers the sampler's running totals at its start; its energy is the difference at its end.
/// Every open job's start is persisted, and the sampler's totals every checkpoint interval, so a restarted daemon
/// carries the jobs over (`recover`).
public actor JobRegistry {
    struct Job {
        var id: String
        var identity: Identity
        var start: JobStart
        var startedAt: Date
        var checkpoint: SamplerCheckpoint
        /// The job's process, when the client named a live one; the job is closed as incomplete when it ends.
        var process: ProcessIdentity?
        var gaps: [Report.Gap] = []
        /// The job's process tree and CUDA_VISIBLE_DEVICES, for the GPUs it is charged.
        var attribution: JobAttribution?
        /// Other jobs open at some time during this one.
        var overlapping = 0
    }

    private var jobs: [String: Job] = [:]
    private let sampler: Sampler
    private let sources: [SourceSummary]
    private let store: JobStore
    private var carbon: CarbonSettings
    private let bootID: String?
    private let logger: Logger
    /// The most jobs open at once.
    public static let maximumOpenJobs = 100_000

    public init(
        sampler: Sampler, sources: [SourceSummary], store: JobStore, carbon: CarbonSettings,
        bootID: String? = ProcessIdentity.bootID(), logger: Logger
    ) {
        self.sampler = sampler
        self.sources = sources
        self.store = store
        self.carbon = carbon
        self.bootID = bootID
        self.logger = logger
    }

    public var openJobs: Int { jobs.count }

    /// Carbon settings for jobs that end from now on (a reloaded configuration).
    public func update(carbon: CarbonSettings) { self.carbon = carbon }

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
        var process: ProcessIdentity?
        if let claimed = request.pid {
            let pid = Self.resolve(claimed, peer: identity.pid)
            // The job's process decides its liveness and its GPUs: it must exist, and be the caller's own.
            guard let found = ProcessIdentity.of(pid), let owner = ProcessIdentity.owner(of: pid) else {
                throw .invalid("no process \(pid): register the job with your own pid (the wrapper does), or none")
            }
            guard owner == identity.uid || identity.isAdmin else { throw .notYourProcess(pid) }
            process = found
        }
        guard jobs.count < Self.maximumOpenJobs else { throw .unavailable("too many open jobs") }
        guard let checkpoint = sampler.checkpoint() else {
            throw .unavailable("the sampler has not taken a sample yet")
        }
        let id = Report.newID()
        var job = Job(
            id: id, identity: identity, start: request, startedAt: Date(), checkpoint: checkpoint, process: process)
        watch(&job)
        job.overlapping = jobs.count
        for other in jobs.keys { jobs[other]?.overlapping += 1 }
        jobs[id] = job
        persist(job)
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
            (
                job.id, job.identity.user,
                sampler.measurement(from: job.checkpoint, to: now, job: job.attribution).countedEnergy?.value ?? 0
            )
        }
    }

    // MARK: Checkpoints and restarts

    /// Saves the sampler's running totals: with each open job's persisted start, every open job's energy so far
    /// is on disk. Called every checkpoint interval and at shutdown.
    public func saveCheckpoint() {
        guard let checkpoint = sampler.latestCheckpoint else { return }
        do {
            try store.saveSamplerState(
                SamplerStateRecord(
                    bootID: bootID, savedAt: Self.wallClock(of: checkpoint.instant),
                    checkpoint: try Stored.encode(checkpoint)))
        } catch {
            logger.error("cannot save the checkpoint", metadata: ["error": "\(error)"])
        }
    }

    /// Closes, as incomplete, the jobs whose process ended without stopping them (a killed client). Checks that
    /// the pid still exists (one system call per job); with `startTimes`, also that it is the same process and not
    /// a later one with the reused pid (a /proc read per job).
    @discardableResult
    public func closeAbandonedJobs(startTimes: Bool = true) -> [String] {
        let ended = jobs.values.filter { job in
            guard let process = job.process else { return false }
            return !process.pidExists || startTimes && !process.isAlive()
        }
        for job in ended {
            jobs[job.id] = nil
            _ = finish(
                job, JobStop(), state: "incomplete",
                warnings: [
                    "Process \(job.process?.pid ?? 0), which started this job, ended without stopping it (was the "
                        + "client killed?): the job was closed as incomplete when the daemon noticed; its exit code is "
                        + "unknown."
                ])
        }
        return ended.map(\.id)
    }

    /// Carries over the jobs that were open when the daemon last stopped. `baseline` is the new sampler's first
    /// checkpoint. Jobs whose process still runs continue, the gap recovered from counter deltas where that is
    /// sound and recorded as a gap otherwise; the others are closed as incomplete at the last checkpoint.
    public func recover(baseline: SamplerCheckpoint) -> RecoverySummary {
        var summary = RecoverySummary()
        let saved: SamplerStateRecord?
        let open: [OpenJobRecord]
        do {
            (saved, open) = try store.recoveryState()
        } catch {
            logger.error("cannot read the open jobs of the last run", metadata: ["error": "\(error)"])
            return summary
        }
        let savedCheckpoint = saved.flatMap { try? Stored.decode(SamplerCheckpoint.self, $0.checkpoint) }
        let sameBoot = bootID != nil && saved?.bootID == bootID
        let restartedAt = Self.wallClock(of: baseline.instant)
        var carried: [OpenJobRecord] = []
        for record in open {
            guard var job = try? Job(record) else {
                logger.error("cannot read open job \(record.id) of the last run; it is dropped")
                try? store.deleteOpen(record.id)
                continue
            }
            let alive = sameBoot && (job.process.map { $0.isAlive() } ?? true)
            guard alive, let saved, let savedCheckpoint else {
                var end = savedCheckpoint ?? job.checkpoint
                if end.instant <= job.checkpoint.instant {
                    end.measured = end.measured.map { _ in false }  // no window: nothing measured, never 0 J
                }
                let why =
                    !sameBoot
                    ? "the machine rebooted" : "its process (\(job.process?.pid ?? 0)) was gone when it restarted"
                let last = saved.map { Report.timestamp($0.savedAt) } ?? "unknown"
                _ = finish(
                    job, JobStop(), state: "incomplete", end: end,
                    endedAt: max(saved?.savedAt ?? job.startedAt, job.startedAt),
                    warnings: [
                        "The daemon stopped while this job ran and \(why): the job was closed as incomplete; its "
                            + "energy is counted up to the daemon's last checkpoint (\(last)) and its end and exit "
                            + "code are unknown."
                    ])
                summary.closed.append(job.id)
                continue
            }
            let window = job.checkpoint.carried(
                saved: savedCheckpoint, to: baseline, channels: sampler.channels, sameBoot: true)
            job.checkpoint = window.start
            job.gaps.append(
                Report.Gap(
                    from: saved.savedAt, to: restartedAt,
                    seconds: savedCheckpoint.instant.seconds(to: baseline.instant),
                    recovered: window.recovered.map(\.rawValue), missing: window.missing.map(\.rawValue)))
            watch(&job)
            jobs[job.id] = job
            if let record = try? OpenJobRecord(job) { carried.append(record) }
            summary.continued.append(job.id)
        }
        for id in summary.continued { jobs[id]?.overlapping += summary.continued.count - 1 }
        do {
            try store.saveRecovery(
                open: carried,
                sampler: SamplerStateRecord(
                    bootID: bootID, savedAt: restartedAt, checkpoint: try Stored.encode(baseline)))
        } catch {
            logger.error("cannot save the carried-over jobs", metadata: ["error": "\(error)"])
        }
        if !open.isEmpty {
            logger.notice(
                "carried over the jobs of the last run",
                metadata: ["continued": "\(summary.continued.count)", "closed": "\(summary.closed.count)"])
        }
        return summary
    }

    /// The wall-clock time of a monotonic instant (now, less the time since it).
    static func wallClock(of instant: MonotonicInstant) -> Date {
        Date(timeIntervalSinceNow: -instant.seconds(to: .now))
    }

    /// The pid a client names, in the daemon's pid namespace. A client in a container (a child pid namespace)
    /// names itself by its container pid; the kernel gives the daemon its host pid (SO_PEERCRED), and the peer's
    /// `NSpid` line ties the two.
    static func resolve(_ claimed: Int32, peer: Int32) -> Int32 {
        guard claimed != peer, peer > 0 else { return claimed }
        let pids = ProcessIdentity.namespacePids(of: peer)
        return pids.count > 1 && pids.last == claimed ? peer : claimed
    }

    /// Watches the job's process tree for GPU use, and reads its CUDA_VISIBLE_DEVICES.
    private func watch(_ job: inout Job) {
        guard let process = job.process else { return }
        job.attribution = JobAttribution(
            root: process.pid,
            visibleDevices: ProcessIdentity.environmentVariable("CUDA_VISIBLE_DEVICES", of: process.pid))
        sampler.watch(jobRoot: process.pid)
    }

    private func persist(_ job: Job) {
        do {
            try store.saveOpen(try OpenJobRecord(job))
        } catch {
            logger.error(
                "cannot persist open job: it is measured, but a daemon crash would lose it",
                metadata: ["id": "\(job.id)", "error": "\(error)"])
        }
    }

    private func running(_ job: Job) -> RunningJob {
        let energy = sampler.checkpoint().map {
            sampler.measurement(from: job.checkpoint, to: $0, job: job.attribution).countedEnergy?.value
        }
        return RunningJob(
            id: job.id, state: "running", uid: job.identity.uid, user: job.identity.user, command: job.start.command,
            pid: job.start.pid, labels: job.start.labels ?? [:], startedAt: job.startedAt, joules: energy ?? nil)
    }

    private func finish(
        _ job: Job, _ request: JobStop, state: String, end: SamplerCheckpoint? = nil, endedAt: Date = Date(),
        warnings: [String] = []
    ) -> Report {
        let end = end ?? sampler.checkpoint() ?? job.checkpoint
        let measurement = sampler.measurement(from: job.checkpoint, to: end, job: job.attribution)
        if let root = job.attribution?.root, !jobs.values.contains(where: { $0.attribution?.root == root }) {
            sampler.unwatch(jobRoot: root)
        }
        let facts = JobFacts(
            id: job.id, command: job.start.command, exitCode: request.signal == nil ? request.exitCode : nil,
            signal: request.signal, signalsReceived: request.signalsReceived ?? [],
            interrupted: request.interrupted ?? false, startedAt: job.startedAt, endedAt: endedAt,
            host: Report.Host.current())
        var report = Report(job: facts, measurement: measurement, sources: sources, carbon: carbon)
        report.owner = Report.Owner(uid: job.identity.uid, user: job.identity.user, pid: job.start.pid)
        report.labels = job.start.labels ?? [:]
        report.measuredBy = "sustain-measured"
        report.gaps = job.gaps
        report.overlappingJobs = job.overlapping
        report.warnings += job.gaps.map(warning) + warnings
        if job.overlapping > 0 {
            report.warnings.append(
                "\(job.overlapping) other job(s) ran on this machine during this one: its energy is the machine's "
                    + "during its window (CPU packages, memory and the counted devices), shared with them, not this "
                    + "job's alone; GPUs are charged by which job's processes ran on them.")
        }
        do {
            try store.insert(JobRecord(report: report, identity: job.identity, labels: report.labels, state: state))
        } catch {
            logger.error("cannot record job", metadata: ["id": "\(job.id)", "error": "\(error)"])
            report.warnings.append("The daemon could not record this job in its database: \(error).")
        }
        logger.info(
            "job \(state)",
            metadata: [
                "id": "\(job.id)", "uid": "\(job.identity.uid)", "user": "\(job.identity.user)",
                "command": "\(job.start.command.joined(separator: " "))",
                "exit_code": "\(report.exitCode.map(String.init) ?? "null")",
                "joules": "\(report.energy.joules.map { String($0) } ?? "null")",
                "kg_co2e": "\(report.carbon.kgCo2e.map { String($0) } ?? "null")",
                "labels": "\(report.labels)",
            ])
        return report
    }

    /// What a gap means for the job's total: counted channels missing across it make the total short.
    private func warning(_ gap: Report.Gap) -> String {
        let seconds = (gap.seconds * 10).rounded() / 10
        var text = "The daemon was down for \(seconds) s while this job ran."
        if !gap.recovered.isEmpty {
            text += " Recovered from counter deltas: \(gap.recovered.joined(separator: ", "))."
        }
        let counted = gap.missing.filter { sampler.decisions[ChannelID($0)]?.counted ?? false }
        let other = gap.missing.filter { !counted.contains($0) }
        if !counted.isEmpty {
            text +=
                " Not measured across the gap: \(counted.joined(separator: ", ")); the total is short by their share "
                + "of it."
        }
        if !other.isEmpty {
            text += " Also not measured across it (not in the total): \(other.joined(separator: ", "))."
        }
        return text
    }
}

/// The daemon's own JSON for what it persists (open jobs, checkpoints).
enum Stored {
    static func encode<Value: Encodable>(_ value: Value) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func decode<Value: Decodable>(_ type: Value.Type, _ text: String) throws -> Value {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }
}

extension OpenJobRecord {
    init(_ job: JobRegistry.Job) throws {
        self.init(
            id: job.id, uid: Int64(job.identity.uid), user: job.identity.user,
            process: try job.process.map(Stored.encode), startedAt: job.startedAt,
            request: try Stored.encode(job.start), checkpoint: try Stored.encode(job.checkpoint),
            gaps: try Stored.encode(job.gaps))
    }
}

extension JobRegistry.Job {
    init(_ record: OpenJobRecord) throws {
        self.init(
            id: record.id,
            identity: Identity(
                uid: UInt32(clamping: record.uid), gid: 0, pid: 0, user: record.user, isAdmin: false),
            start: try Stored.decode(JobStart.self, record.request), startedAt: record.startedAt,
            checkpoint: try Stored.decode(SamplerCheckpoint.self, record.checkpoint),
            process: try record.process.map { try Stored.decode(ProcessIdentity.self, $0) },
            gaps: try Stored.decode([Report.Gap].self, record.gaps))
    }
}
