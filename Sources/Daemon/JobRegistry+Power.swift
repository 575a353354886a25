import Foundation
import Logging
import Meter
import PowerControl
import Reports
import SustainAPI
import SustainCore

/// Power limits held by jobs: set at a job's start for root or a member of `[control] groups`, within the bounds;
/// put back when the job ends, however it ends (its stop, its client's death noticed within `powerWatchInterval`,
/// the service stopping); a service killed with limits set puts them back at its next start (the journal).
extension JobRegistry {
    /// How often the jobs that hold limits are checked for a dead client.
    public static let powerWatchInterval = 0.2

    /// Whether `caller` may set power limits (root, or a member of `[control] groups`); else why not.
    func checkMayControlPower(_ caller: Identity, field: String) throws(JobError) {
        let control = configuration.control
        guard
            caller.uid != 0
                && !control.groups.contains(where: { Identity.isMember(uid: caller.uid, gid: caller.gid, of: $0) })
        else { return }
        throw .notAllowed(
            "\(field): \(caller.user) may not set power limits: only root and members of the service's [control] "
                + "groups may (" + (control.groups.isEmpty ? "none configured" : control.groups.joined(separator: ", "))
                + ")")
    }

    /// The holder of a job's tuner's limits.
    static func tunerHolder(_ id: String) -> String { id + tunerSuffix }
    private static let tunerSuffix = "/tuner"

    /// The job a holder of limits belongs to (its own, or its tuner's).
    static func job(ofHolder holder: String) -> String {
        holder.hasSuffix(tunerSuffix) ? String(holder.dropLast(tunerSuffix.count)) : holder
    }

    /// Sets `requests` for job `id`, or throws having changed nothing.
    func applyPowerLimits(_ requests: [PowerLimitRequest], for id: String, caller: Identity, owner: Identity)
        throws(JobError)
    {
        guard !requests.isEmpty else { return }
        guard requests.count <= 2, Set(requests.map(\.device)).count == requests.count else {
            throw .invalid("power_limits: at most one limit for cpu and one for gpu")
        }
        guard let power else { throw .unavailable("power_limits: this service controls no power limits") }
        try checkMayControlPower(caller, field: "power_limits")
        let control = configuration.control
        do {
            try power.acquire(requests, for: id, requestedBy: "\(caller.user) (uid \(caller.uid))") { kind in
                kind == .cpu ? control.cpuPowerLimitMinWatts : control.gpuPowerLimitMinWatts
            }
        } catch {
            throw .invalid("power_limits: \(error)")
        }
        logger.notice(
            "power limits set",
            metadata: [
                "job": "\(id)", "uid": "\(owner.uid)",
                "limits": "\(requests.map { "\($0.device.rawValue) \($0.watts) W" }.joined(separator: ", "))",
            ])
    }

    /// The tuner of a job that asks for `power_tuning`, or why it cannot have one.
    func tuningSession(
        _ request: PowerTuningRequest?, caller: Identity, limits: [PowerLimitRequest], job label: String?
    ) throws(JobError) -> (session: PowerTuningSession, original: Double?)? {
        guard let request else { return nil }
        guard let power else { throw .unavailable("power_tuning: this service controls no power limits") }
        try checkMayControlPower(caller, field: "power_tuning")
        guard (try? Mark.name(request.stepMark)) != nil else {
            throw .invalid("power_tuning: step_mark must be a mark name, got \(request.stepMark)")
        }
        guard !limits.contains(where: { $0.device == request.device }) else {
            throw .invalid(
                "power_tuning: the tuner chooses the \(request.device.rawValue) limit: leave it out of power_limits")
        }
        if let step = request.stepWatts, !(step.isFinite && step >= 1) {
            throw .invalid("power_tuning: step_watts must be at least 1 W")
        }
        let devices = power.devices(request.device)
        let control = configuration.control
        let saved = profiles?.saved(kind: request.device, devices: devices, job: label)
        do {
            let session = try PowerTuningSession(
                kind: request.device, stepMark: request.stepMark, objective: try request.parsedObjective(),
                devices: devices,
                minimum: request.device == .cpu ? control.cpuPowerLimitMinWatts : control.gpuPowerLimitMinWatts,
                stepWatts: request.stepWatts ?? PowerTuningRequest.defaultStep, reusing: saved)
            return (session, devices.map { Double($0.limitMicrowatts) / 1_000_000 }.max())
        } catch {
            throw .invalid("power_tuning: \(error)")
        }
    }

    /// Keeps a tuned job's sweep for its `job` label; what the report says when it cannot.
    func saveTuningProfile(of job: Job) -> [String] {
        guard let session = job.tuning, let profiles, let label = job.start.labels?["job"],
            let profile = session.profile(job: label, reportID: job.id, at: Date())
        else { return [] }
        do {
            try profiles.save(profile)
            session.savedPath = profiles.path(kind: profile.kind, model: profile.model, job: profile.job)
            return []
        } catch {
            logger.error("tuning profile not saved", metadata: ["job": "\(job.id)", "error": "\(error)"])
            return ["The tuning sweep was not saved (the service's log says why): the next run sweeps again."]
        }
    }

    /// A tuned job whose saved profile chose its limit: set it at the job's start, before its first reading.
    func applyInitialTuning(_ session: PowerTuningSession?, for id: String, caller: Identity) throws(JobError) {
        guard let session, let watts = session.initialLimit, let power else { return }
        do {
            try power.acquire(
                [PowerLimitRequest(device: session.kind, watts: watts)], for: Self.tunerHolder(id),
                requestedBy: "\(caller.user) (uid \(caller.uid)) tuner")
        } catch {
            throw .invalid("power_tuning: the saved profile's \(watts) W cannot be set: \(error)")
        }
    }

    /// A timed mark of a tuned job: a step's end may move its tuner to the next limit.
    func tune(_ job: Job, _ mark: Mark, at checkpoint: SamplerCheckpoint) {
        guard let session = job.tuning, let power, let watts = session.observe(mark, at: checkpoint) else { return }
        let holder = Self.tunerHolder(job.id)
        do {
            try power.acquire(
                [PowerLimitRequest(device: session.kind, watts: watts)], for: holder,
                requestedBy: "\(job.identity.user) (uid \(job.identity.uid)) tuner")
        } catch {
            session.fail("\(watts) W could not be set: \(error)")
            _ = power.release(holder)
            logger.error("power tuning stopped", metadata: ["job": "\(job.id)", "error": "\(error)"])
        }
    }

    /// A finished job's limits, put back (or handed to another job's higher one), with what its report says.
    func releasePowerLimits(of job: Job) -> (records: [Report.PowerControl], notes: [String]) {
        let tuned = power.map { $0.release(Self.tunerHolder(job.id)) } ?? (records: [], notes: [])
        let own = releaseOwnPowerLimits(of: job)
        return (own.records + tuned.records, own.notes + tuned.notes)
    }

    private func releaseOwnPowerLimits(of job: Job) -> (records: [Report.PowerControl], notes: [String]) {
        guard let power, power.holds(job.id) else {
            guard let asked = job.start.powerLimits, !asked.isEmpty else { return ([], []) }
            // Asked for, but not held now: the service restarted while the job ran and put them back then.
            return (
                [],
                [
                    "This job asked for power limits (\(asked.map { "\($0.device.rawValue) \($0.watts) W" }.joined(separator: ", "))), "
                        + "but the service restarted while it ran and put them back then: the job ran part of its time "
                        + "without them."
                ]
            )
        }
        let released = power.release(job.id)
        for record in released.records where record.restoreError != nil {
            logger.error(
                "power limit not put back",
                metadata: [
                    "job": "\(job.id)", "device": "\(record.device)", "error": "\(record.restoreError ?? "")",
                    "original_watts": "\(record.originalWatts)",
                ])
        }
        logger.notice("power limits released", metadata: ["job": "\(job.id)"])
        return released
    }

    /// Every limit back to its original: the service is stopping. Open jobs are carried over to the next start,
    /// without their limits (their reports say so).
    public func releaseAllPowerLimits() {
        guard let power, !power.holders.isEmpty else { return }
        let released = power.releaseAll()
        logger.notice("power limits put back at shutdown", metadata: ["jobs": "\(released.keys.sorted())"])
    }

    /// Closes the jobs that hold power limits and whose client died, so that their limits come back at once.
    @discardableResult
    public func closeAbandonedPowerJobs() -> [String] {
        guard let power else { return [] }
        let holders = Set(power.holders.map(Self.job(ofHolder:)))
        guard !holders.isEmpty else { return [] }
        return closeAbandonedJobs(startTimes: true, among: holders)
    }
}
