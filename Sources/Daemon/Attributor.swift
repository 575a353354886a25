import LinuxSupport
import Meter
import SustainCore

/// The service's attribution ledger: at every step (once a second, and at each job's start and stop) it shares the
/// machine's counted energy since the last step among the open jobs' cgroups by CPU time
/// (`CPUTimeAttribution`), and keeps what no job got as the unattributed remainder, so that at any time
/// `Σ attributed (open and finished jobs) + unattributed = the machine's counted energy` since the service started.
///
/// GPUs are not in it: they are charged to jobs by which processes ran on them, as before. Owned by the job
/// registry (an actor): never touched from two threads.
final class Attributor {
    /// One job's attributed energy so far.
    struct JobLedger {
        var cgroup: String
        var joules: [ChannelID: Double] = [:]
        var idleJoules = 0.0
        /// The machine's energy in the attributed domains during the job's window.
        var machineJoules = 0.0
        var cgroupRemoved = false
        var total: Double { joules.values.reduce(0, +) }
    }

    private struct Group {
        let stat: CgroupCPUStat?
        var lastUsage: UInt64?
        let cpus: Int?
        var jobs: Set<String> = []
        var removed = false
    }

    /// Why attribution is off on this machine (no cgroup v2), nil when it is on.
    let unavailable: String?
    let mount: String?
    let policy: CPUTimeAttribution.IdlePolicy
    private let sampler: Sampler
    private let totalCPUs: Int
    /// The attributed domains: counted, not GPUs.
    private let domains: [ChannelID]
    private var last: (checkpoint: SamplerCheckpoint, cpu: MachineCPUTime?)?
    /// Each domain's idle baseline: the lowest mean power seen over a step of at least half a second.
    private(set) var baseline: [ChannelID: Double] = [:]
    private var groups: [String: Group] = [:]
    private(set) var jobs: [String: JobLedger] = [:]
    private(set) var unattributed: [ChannelID: Double] = [:]
    private(set) var machine: [ChannelID: Double] = [:]
    /// Attributed energy of the jobs that have finished.
    private(set) var finishedJoules = 0.0
    private(set) var since: MonotonicInstant?

    init(sampler: Sampler, mount: String?, policy: CPUTimeAttribution.IdlePolicy) {
        self.sampler = sampler
        self.policy = policy
        if let mount, SafeFile.kind(of: mount + "/cgroup.procs") == .regular {
            self.mount = mount
            unavailable = nil
        } else {
            self.mount = nil
            unavailable =
                mount.map { "no cgroup v2 hierarchy at \($0)" }
                ?? "this kernel has no cgroup v2 hierarchy mounted (no cgroup2 line in /proc/mounts)"
        }
        totalCPUs = HostFacts.logicalCPUs()
        domains = sampler.channels.filter {
            $0.isEnergy && $0.kind != .gpu && sampler.decisions[$0.id]?.counted == true
        }.map(\.id)
    }

    /// Attributes the energy since the last step to the jobs open now, up to `checkpoint`.
    func step(to checkpoint: SamplerCheckpoint) {
        guard mount != nil else { return }
        let cpu = MachineCPUTime.read()
        guard let last else {
            since = checkpoint.instant
            self.last = (checkpoint, cpu)
            return
        }
        let seconds = last.checkpoint.instant.seconds(to: checkpoint.instant)
        guard seconds > 0 else { return }  // not after the last step: nothing new
        self.last = (checkpoint, cpu)
        var before: [ChannelID: Double] = [:]
        for total in last.checkpoint.channels { before[total.id] = total.joules }
        var after: [ChannelID: Double] = [:]
        for total in checkpoint.channels { after[total.id] = total.joules }
        let machineBusy = (cpu?.busySeconds ?? 0) - (last.cpu?.busySeconds ?? 0)
        // Each cgroup's CPU time in the step; a removed cgroup used none from then on (and the report says so).
        let paths = groups.keys.sorted()
        var busy: [Double] = []
        var cpus: [Int?] = []
        for path in paths {
            guard var group = groups[path] else { continue }
            let usage = group.stat?.usageMicroseconds()
            if usage == nil, !group.removed {
                group.removed = true
                for job in group.jobs { jobs[job]?.cgroupRemoved = true }
            }
            let previous = group.lastUsage ?? usage ?? 0
            busy.append(usage.map { Double($0 >= previous ? $0 - previous : 0) / 1_000_000 } ?? 0)
            cpus.append(group.cpus)
            if let usage { group.lastUsage = usage }
            groups[path] = group
        }
        for domain in domains {
            guard let end = after[domain], let start = before[domain] else { continue }
            let energy = max(0, end - start)
            if seconds >= 0.5 {
                let watts = energy / seconds
                baseline[domain] = min(baseline[domain] ?? watts, watts)
            }
            let shares = CPUTimeAttribution.split(
                energy: energy, idleEnergy: (baseline[domain] ?? 0) * seconds, machineBusy: machineBusy,
                groupBusy: busy, groupCPUs: cpus, totalCPUs: totalCPUs, policy: policy)
            var given = 0.0
            for (index, path) in paths.enumerated() {
                guard let group = groups[path], !group.jobs.isEmpty else { continue }
                // Jobs in one cgroup share its attribution.
                let each = Double(group.jobs.count)
                for job in group.jobs {
                    jobs[job]?.joules[domain, default: 0] += shares[index].total / each
                    jobs[job]?.idleJoules += shares[index].idle / each
                }
                given += shares[index].total
            }
            for job in jobs.keys { jobs[job]?.machineJoules += energy }
            machine[domain, default: 0] += energy
            unattributed[domain, default: 0] += energy - given
        }
    }

    /// Starts attributing to job `id` from now (the caller has stepped to the job's start reading).
    func add(job id: String, cgroup path: String) {
        guard let mount else { return }
        if groups[path] == nil {
            let stat = CgroupCPUStat(mount: mount, path: path)
            groups[path] = Group(
                stat: stat, lastUsage: stat?.usageMicroseconds(), cpus: CgroupV2.allocatedCPUs(mount: mount, path: path)
            )
        }
        groups[path]?.jobs.insert(id)
        jobs[id] = JobLedger(cgroup: path)
    }

    /// Stops attributing to job `id` (the caller has stepped to the job's stop reading) and returns its ledger.
    func remove(job id: String) -> JobLedger? {
        guard let ledger = jobs.removeValue(forKey: id) else { return nil }
        groups[ledger.cgroup]?.jobs.remove(id)
        if groups[ledger.cgroup]?.jobs.isEmpty == true { groups[ledger.cgroup] = nil }
        finishedJoules += ledger.total
        return ledger
    }

    /// The domains attributed, for reports and metrics.
    var attributedDomains: [ChannelID] { domains }
}
