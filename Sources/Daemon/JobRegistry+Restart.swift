import Foundation
import LinuxSupport
import Logging
import Meter
import Reports
import SustainAPI
import SustainCore

/// What a restarted daemon did with the jobs that were open when it stopped.
public struct RecoverySummary: Sendable, Equatable {
    /// Jobs whose processes still run: carried over, the gap recovered from counters where sound.
    public var continued: [String] = []
    /// Jobs whose processes were gone (or the machine rebooted): closed as "incomplete".
    public var closed: [String] = []
}

/// Checkpoints, abandoned jobs and restarts: every open job's energy so far is on disk, and a restarted daemon
/// carries the open jobs over.
extension JobRegistry {
    /// Saves the sampler's running totals: with each open job's persisted start, every open job's energy so far
    /// is on disk. Called every checkpoint interval and at shutdown.
    public func saveCheckpoint() {
        guard let checkpoint = sampler.latestCheckpoint else { return }
        do {
            try store.saveSamplerState(
                SamplerStateRecord(
                    bootID: bootID, savedAt: wallClock(of: checkpoint.instant),
                    checkpoint: try Stored.encode(checkpoint)))
            storeWorked()
        } catch {
            storeFailed(error, doing: "save the checkpoint")
        }
        saveWatchPeriods()
    }

    /// Closes, as incomplete, the jobs whose process ended without stopping them (a killed client). Checks that
    /// the pid still exists (one system call per job); with `startTimes`, also that it is the same process and not
    /// a later one with the reused pid (a /proc read per job). A job registered without a process is closed once it
    /// is older than `max_job_age_without_pid`.
    @discardableResult
    public func closeAbandonedJobs(startTimes: Bool = true, among ids: Set<String>? = nil) -> [String] {
        let now = Date()
        let maximumAge = limits.maxAgeWithoutPID
        var closing: [(job: Job, warning: String)] = []
        for job in jobs.values where ids?.contains(job.id) ?? true {
            if let process = job.process {
                guard !process.pidExists || startTimes && !process.isAlive() else { continue }
                closing.append(
                    (
                        job,
                        "Process \(process.pid), which started this job, ended without stopping it (was the client "
                            + "killed?): the job was closed as incomplete when the daemon noticed; its exit code is "
                            + "unknown."
                    ))
            } else if now.timeIntervalSince(job.startedAt) > maximumAge {
                closing.append(
                    (
                        job,
                        "This job was registered without a process and stayed open longer than [daemon] "
                            + "max_job_age_without_pid (\(Int(maximumAge)) s): the daemon closed it as incomplete; "
                            + "its energy is counted up to then and its exit code is unknown."
                    ))
            }
        }
        for (job, warning) in closing {
            jobs[job.id] = nil
            _ = finish(job, JobStop(), state: "incomplete", warnings: [warning])
        }
        return closing.map(\.job.id)
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
        let restartedAt = wallClock(of: baseline.instant)
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
                    for index in end.channels.indices { end.channels[index].measured = false }  // no window: never 0 J
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
            attach(&job, at: baseline, restarted: true)
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

    /// The wall-clock time of an instant of the sampler's clock (now, less the time since it).
    func wallClock(of instant: MonotonicInstant) -> Date {
        Date(timeIntervalSinceNow: -instant.seconds(to: sampler.clock.now))
    }

    /// What a gap means for the job's total: counted channels missing across it make the total short.
    func gapWarning(_ gap: Report.Gap) -> String {
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
