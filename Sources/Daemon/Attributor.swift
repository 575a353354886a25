import Foundation
import LinuxSupport
import Meter
import SustainCore

/// The service's attribution: the reads that feed its `AttributionLedger` (the counted energy between two sampler
/// checkpoints, the machine's and each job cgroup's CPU time), once a second and at each job's start and stop. The
/// accounting itself (shares, remainder, history) is the ledger's, pure and table-tested.
///
/// GPUs are not in it: they are charged to jobs by which processes ran on them, as before. Owned by the job
/// registry (an actor): never touched from two threads. A step costs one 64-byte `pread` per open cgroup and a few
/// array additions per job: 1,000 jobs in their own cgroups are a few milliseconds a second.
final class Attributor {
    typealias JobLedger = AttributionLedger.Job

    /// Why attribution is off on this machine (no cgroup v2), nil when it is on.
    let unavailable: String?
    let mount: String?
    /// The attributed domains: counted, not GPUs.
    let domains: [ChannelID]
    private(set) var ledger: AttributionLedger
    private var last: (checkpoint: SamplerCheckpoint, busy: Double?)?
    /// The root cgroup's `cpu.stat`: every process's CPU time, the machine's busy time. Read from the cgroup
    /// hierarchy, not `/proc/stat`, which the service's unit hides (`ProcSubset=pid`).
    private let machineStat: CgroupCPUStat?
    /// Each open cgroup's `cpu.stat` (nil: it could not be opened, as if removed).
    private var stats: [String: CgroupCPUStat?] = [:]
    private(set) var since: MonotonicInstant?

    var policy: CPUTimeAttribution.IdlePolicy { ledger.policy }
    var jobs: [String: JobLedger] { ledger.jobs }
    var finishedJoules: Double { ledger.finishedJoules }
    var totals: (machine: Double, attributed: Double, unattributed: Double) { ledger.totals }

    init(sampler: Sampler, mount: String?, policy: CPUTimeAttribution.IdlePolicy) {
        if let mount, SafeFile.kind(of: mount + "/cgroup.procs") == .regular {
            self.mount = mount
            unavailable = nil
        } else {
            self.mount = nil
            unavailable =
                mount.map { "no cgroup v2 hierarchy at \($0)" }
                ?? "this kernel has no cgroup v2 hierarchy mounted (no cgroup2 line in /proc/mounts)"
        }
        machineStat = self.mount.flatMap { CgroupCPUStat(mount: $0, path: "/") }
        domains = sampler.channels.filter {
            $0.isEnergy && $0.kind != .gpu && sampler.decisions[$0.id]?.counted == true
        }.map(\.id)
        ledger = AttributionLedger(domains: domains.count, policy: policy, totalCPUs: HostFacts.logicalCPUs())
    }

    /// Each attributed domain's energy between two checkpoints (0 where one lacks it).
    private func energies(from start: SamplerCheckpoint, to end: SamplerCheckpoint) -> [Double] {
        var before: [ChannelID: Double] = [:]
        for total in start.channels { before[total.id] = total.joules }
        var after: [ChannelID: Double] = [:]
        for total in end.channels { after[total.id] = total.joules }
        return domains.map { domain in
            guard let to = after[domain], let from = before[domain] else { return 0 }
            return max(0, to - from)
        }
    }

    /// Attributes the energy since the last step to the jobs open now, up to `checkpoint`.
    func step(to checkpoint: SamplerCheckpoint, at wallTime: Double = Date().timeIntervalSince1970) {
        guard mount != nil else { return }
        // The machine's busy CPU time: the root cgroup's, else /proc/stat's (a root cgroup without cpu.stat).
        let busyNow =
            machineStat?.usageMicroseconds().map { Double($0) / 1_000_000 } ?? MachineCPUTime.read()?.busySeconds
        guard let last else {
            since = checkpoint.instant
            self.last = (checkpoint, busyNow)
            return
        }
        let seconds = last.checkpoint.instant.seconds(to: checkpoint.instant)
        guard seconds > 0 else { return }  // not after the last step: nothing new
        self.last = (checkpoint, busyNow)
        var usage: [String: UInt64?] = [:]
        for path in ledger.cgroups { usage[path] = stats[path]??.usageMicroseconds() }
        ledger.record(
            AttributionLedger.Step(
                seconds: seconds, energies: energies(from: last.checkpoint, to: checkpoint),
                machineBusySeconds: max(0, (busyNow ?? 0) - (last.busy ?? 0)), usage: usage, wallTime: wallTime))
    }

    /// Starts attributing to job `id` from now (the caller has stepped to the job's start reading).
    func add(job id: String, cgroup path: String, owner: UInt32 = 0, observer: Bool = false) {
        guard let mount else { return }
        if stats[path] == nil { stats[path] = .some(CgroupCPUStat(mount: mount, path: path)) }
        ledger.add(
            job: id, cgroup: path, owner: owner, usage: stats[path]??.usageMicroseconds(),
            cpus: CgroupV2.allocatedCPUs(mount: mount, path: path), observer: observer)
    }

    /// Stops attributing to job `id` (the caller has stepped to the job's stop reading) and returns its ledger.
    func remove(job id: String) -> JobLedger? {
        let job = ledger.remove(job: id)
        if let job, !ledger.isOpen(cgroup: job.cgroup) { stats[job.cgroup] = nil }
        return job
    }

    /// A ledger's energy per domain, by domain id.
    func byDomain(_ joules: [Double]) -> [String: Double] {
        Dictionary(uniqueKeysWithValues: zip(domains.map(\.rawValue), joules))
    }

    /// The idle baselines learned so far, by domain id.
    var baselineWatts: [String: Double] {
        Dictionary(
            uniqueKeysWithValues: zip(domains, ledger.baseline).compactMap { id, watts in
                watts.map { (id.rawValue, $0) }
            })
    }
}
