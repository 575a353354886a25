import Foundation
import Logging
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

    /// Sets `requests` for job `id`, or throws having changed nothing.
    func applyPowerLimits(_ requests: [PowerLimitRequest], for id: String, caller: Identity, owner: Identity)
        throws(JobError)
    {
        guard !requests.isEmpty else { return }
        guard requests.count <= 2, Set(requests.map(\.device)).count == requests.count else {
            throw .invalid("power_limits: at most one limit for cpu and one for gpu")
        }
        guard let power else { throw .unavailable("power_limits: this service controls no power limits") }
        let control = configuration.control
        guard
            caller.uid == 0
                || control.groups.contains(where: { Identity.isMember(uid: caller.uid, gid: caller.gid, of: $0) })
        else {
            throw .notAllowed(
                "power_limits: \(caller.user) may not set power limits: only root and members of the service's "
                    + "[control] groups may ("
                    + (control.groups.isEmpty ? "none configured" : control.groups.joined(separator: ", ")) + ")")
        }
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

    /// A finished job's limits, put back (or handed to another job's higher one), with what its report says.
    func releasePowerLimits(of job: Job) -> (records: [Report.PowerControl], notes: [String]) {
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
        let holders = power.holders
        guard !holders.isEmpty else { return [] }
        return closeAbandonedJobs(startTimes: true, among: holders)
    }
}
