import Foundation
import Meter
import Reports

/// One job's counters for Prometheus: energy per kind of counted domain and carbon, counting up while it runs and
/// kept for a while after it ends so the final value is scraped.
public struct JobCounter: Sendable, Equatable {
    public var id: String
    public var uid: UInt32
    public var user: String
    /// The SLURM job it is (its `slurm_job_id` label); empty when none.
    public var slurmJobID: String
    /// Counted energy by domain kind (package, dram, gpu, …), in joules.
    public var joules: [String: Double]
    public var grams: Double?
    /// When it finished; nil while it runs.
    public var endedAt: Date?
    /// The container or pod it ran in (`ContainerIdentity.labels`); nil outside one.
    public var container: [String: String]? = nil
}

extension JobRegistry {
    /// The most finished jobs kept for metrics, whatever the retention: series stay bounded.
    public static let maximumFinishedCounters = 10_000

    func keepCounter(of job: Job, report: Report) {
        guard job.countedIn == nil else { return }  // its node energy is in another registration's counter
        var byKind: [String: Double] = [:]
        for domain in report.energy.domains where domain.counted {
            if let joules = domain.joules { byKind[domain.kind, default: 0] += joules }
        }
        finishedCounters.append(
            JobCounter(
                id: job.id, uid: job.identity.uid, user: job.identity.user,
                slurmJobID: job.start.labels?["slurm_job_id"] ?? "", joules: byKind,
                grams: report.carbon.kgCo2e.map { $0 * 1000 }, endedAt: report.endedAt, container: report.container))
        if finishedCounters.count > Self.maximumFinishedCounters {
            finishedCounters.removeFirst(finishedCounters.count - Self.maximumFinishedCounters)
        }
    }

    /// Every open job's counters now, and the finished ones of the last `retention` seconds (older ones dropped).
    public func jobCounters(retention: Double, now: Date = Date()) -> [JobCounter] {
        finishedCounters.removeAll { ($0.endedAt.map { now.timeIntervalSince($0) } ?? 0) > retention }
        guard let checkpoint = sampler.checkpoint() else { return finishedCounters }
        let open = jobs.values.filter { $0.countedIn == nil }.map { job in
            let measurement = sampler.measurement(from: job.checkpoint, to: checkpoint, job: job.attribution)
            var byKind: [String: Double] = [:]
            for channel in measurement.counted {
                if let energy = channel.energy { byKind[channel.descriptor.kind.rawValue, default: 0] += energy.value }
            }
            let settings = (try? carbonSettings(for: job.start.carbon)) ?? nil
            let grams = settings.map { settings in
                byKind.values.reduce(0, +) / 3_600_000 * settings.pue.value * settings.intensity.gramsPerKilowattHour
            }
            return JobCounter(
                id: job.id, uid: job.identity.uid, user: job.identity.user,
                slurmJobID: job.start.labels?["slurm_job_id"] ?? "", joules: byKind, grams: grams, endedAt: nil,
                container: job.container?.labels)
        }
        return open + finishedCounters
    }
}
