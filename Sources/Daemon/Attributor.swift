import Foundation
import LinuxSupport
import Meter
import SustainCore

/// The service's attribution ledger: at every step (once a second, and at each job's start and stop) it shares the
/// machine's counted energy since the last step among the open jobs' cgroups by CPU time
/// (`CPUTimeAttribution`), and keeps what no job got as the unattributed remainder, so that at any time
/// `Σ attributed (open and finished jobs) + unattributed = the machine's counted energy` since the service started.
///
/// GPUs are not in it: they are charged to jobs by which processes ran on them, as before. Owned by the job
/// registry (an actor): never touched from two threads. A step costs one 64-byte `pread` per open cgroup and a few
/// array additions per job: 1,000 jobs in their own cgroups are a few milliseconds a second.
final class Attributor {
    /// One job's attributed energy so far.
    struct JobLedger {
        var cgroup: String
        /// The job's owner, for the history's per-user view.
        var uid: UInt32
        /// Per attributed domain, in `Attributor.domains` order.
        var joules: [Double]
        var idleJoules = 0.0
        /// The machine's energy in the attributed domains during the job's window.
        var machineJoules = 0.0
        var cgroupRemoved = false
        var total: Double { joules.reduce(0, +) }
    }

    private struct Group {
        let stat: CgroupCPUStat?
        var lastUsage: UInt64?
        let cpus: Int?
        var jobs: [String] = []
        var removed = false
    }

    /// Why attribution is off on this machine (no cgroup v2), nil when it is on.
    let unavailable: String?
    let mount: String?
    let policy: CPUTimeAttribution.IdlePolicy
    private let totalCPUs: Int
    /// The attributed domains: counted, not GPUs.
    let domains: [ChannelID]
    private var last: (checkpoint: SamplerCheckpoint, busy: Double?)?
    /// The root cgroup's `cpu.stat`: every process's CPU time, the machine's busy time. Read from the cgroup
    /// hierarchy, not `/proc/stat`, which the service's unit hides (`ProcSubset=pid`).
    private let machineStat: CgroupCPUStat?
    /// Each domain's idle baseline: the lowest mean power seen over a step of at least half a second.
    private(set) var baseline: [Double?]
    private var groups: [String: Group] = [:]
    private(set) var jobs: [String: JobLedger] = [:]
    private(set) var unattributed: [Double]
    private(set) var machine: [Double]
    /// Attributed energy of the jobs that have finished.
    private(set) var finishedJoules = 0.0
    private(set) var since: MonotonicInstant?

    /// One minute of the history: the machine's attributed-domain energy, what no job got, and each job's part
    /// (with its owner), for views over a time range. A step's energy goes to the minute its step ended in.
    /// Closed minutes hold their jobs in an array (about 32 bytes a job: the id's storage is shared).
    struct Minute {
        var minute: Int64
        var machine = 0.0
        var unattributed = 0.0
        var jobs: [(id: String, uid: UInt32, joules: Double)] = []
    }
    /// The last `historyMinutes` minutes, and at most `historyEntries` job-minutes (the oldest minutes go first):
    /// a day of a few dozen jobs, or most of an hour of a thousand (1.6 MB at the bound).
    private(set) var history: [Minute] = []
    /// The minute being filled: each job's position in its `jobs`.
    private var openPositions: [String: Int] = [:]
    private var historyJobEntries = 0
    static let historyMinutes = 24 * 60
    static let historyEntries = 50_000

    init(sampler: Sampler, mount: String?, policy: CPUTimeAttribution.IdlePolicy) {
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
        machineStat = self.mount.flatMap { CgroupCPUStat(mount: $0, path: "/") }
        domains = sampler.channels.filter {
            $0.isEnergy && $0.kind != .gpu && sampler.decisions[$0.id]?.counted == true
        }.map(\.id)
        baseline = Array(repeating: nil, count: domains.count)
        unattributed = Array(repeating: 0, count: domains.count)
        machine = Array(repeating: 0, count: domains.count)
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
        let energy = energies(from: last.checkpoint, to: checkpoint)
        let machineBusy = max(0, (busyNow ?? 0) - (last.busy ?? 0))
        // Each cgroup's CPU time in the step; a removed cgroup used none from then on (and the report says so).
        var busy: [Double] = []
        var cpus: [Int?] = []
        busy.reserveCapacity(groups.count)
        cpus.reserveCapacity(groups.count)
        var removedJobs: [String] = []
        for index in groups.values.indices {
            let usage = groups.values[index].stat?.usageMicroseconds()
            if usage == nil, !groups.values[index].removed {
                groups.values[index].removed = true
                removedJobs += groups.values[index].jobs
            }
            let previous = groups.values[index].lastUsage ?? usage ?? 0
            busy.append(usage.map { Double($0 >= previous ? $0 - previous : 0) / 1_000_000 } ?? 0)
            cpus.append(groups.values[index].cpus)
            if let usage { groups.values[index].lastUsage = usage }
        }
        for job in removedJobs { jobs[job]?.cgroupRemoved = true }
        // Per group and domain: its share; then each job of the group gets its part, once.
        var shares = [[CPUTimeAttribution.Share]](repeating: [], count: domains.count)
        for domain in domains.indices {
            if seconds >= 0.5 {
                let watts = energy[domain] / seconds
                baseline[domain] = min(baseline[domain] ?? watts, watts)
            }
            shares[domain] = CPUTimeAttribution.split(
                energy: energy[domain], idleEnergy: (baseline[domain] ?? 0) * seconds, machineBusy: machineBusy,
                groupBusy: busy, groupCPUs: cpus, totalCPUs: totalCPUs, policy: policy)
            machine[domain] += energy[domain]
            unattributed[domain] += energy[domain]
        }
        let stepEnergy = energy.reduce(0, +)
        for index in jobs.values.indices { jobs.values[index].machineJoules += stepEnergy }
        // The minute is changed in place: a copy would copy its jobs array at every step.
        let minute = openMinute(at: wallTime)
        history[minute].machine += stepEnergy
        var attributed = 0.0
        for (position, group) in groups.values.enumerated() where !group.jobs.isEmpty {
            // Jobs in one cgroup share its attribution.
            let each = 1 / Double(group.jobs.count)
            for job in group.jobs {
                guard var ledger = jobs.removeValue(forKey: job) else { continue }
                var part = 0.0
                for domain in domains.indices {
                    let share = shares[domain][position]
                    ledger.joules[domain] += share.total * each
                    ledger.idleJoules += share.idle * each
                    unattributed[domain] -= share.total * each
                    part += share.total * each
                }
                jobs[job] = ledger
                if let position = openPositions[job] {
                    history[minute].jobs[position].joules += part
                } else {
                    openPositions[job] = history[minute].jobs.count
                    history[minute].jobs.append((job, ledger.uid, part))
                    historyJobEntries += 1
                }
                attributed += part
            }
        }
        history[minute].unattributed += stepEnergy - attributed
    }

    /// The index in `history` of the minute holding `wallTime` (a new one when time moved on), the oldest dropped
    /// past the bounds.
    private func openMinute(at wallTime: Double) -> Int {
        let index = Int64((wallTime / 60).rounded(.down))
        if let last = history.last, last.minute >= index { return history.count - 1 }
        history.append(Minute(minute: index))
        openPositions.removeAll(keepingCapacity: true)
        while let first = history.first,
            first.minute <= index - Int64(Self.historyMinutes) || historyJobEntries > Self.historyEntries
        {
            historyJobEntries -= first.jobs.count
            history.removeFirst()
        }
        return history.count - 1
    }

    /// The energy from `from` to `to` (seconds since 1970), in whole minutes: the minutes that overlap the range.
    func history(from: Double, to: Double) -> [Minute] {
        let first = Int64((from / 60).rounded(.down))
        let last = Int64((to / 60).rounded(.up))
        return history.filter { $0.minute >= first && $0.minute < last }
    }

    /// Starts attributing to job `id` from now (the caller has stepped to the job's start reading).
    func add(job id: String, cgroup path: String, owner: UInt32 = 0) {
        guard let mount else { return }
        if groups[path] == nil {
            let stat = CgroupCPUStat(mount: mount, path: path)
            groups[path] = Group(
                stat: stat, lastUsage: stat?.usageMicroseconds(),
                cpus: CgroupV2.allocatedCPUs(mount: mount, path: path))
        }
        groups[path]?.jobs.append(id)
        jobs[id] = JobLedger(cgroup: path, uid: owner, joules: Array(repeating: 0, count: domains.count))
    }

    /// Stops attributing to job `id` (the caller has stepped to the job's stop reading) and returns its ledger.
    func remove(job id: String) -> JobLedger? {
        guard let ledger = jobs.removeValue(forKey: id) else { return nil }
        groups[ledger.cgroup]?.jobs.removeAll { $0 == id }
        if groups[ledger.cgroup]?.jobs.isEmpty == true { groups[ledger.cgroup] = nil }
        finishedJoules += ledger.total
        return ledger
    }

    /// A ledger's energy per domain, by domain id.
    func byDomain(_ joules: [Double]) -> [String: Double] {
        Dictionary(uniqueKeysWithValues: zip(domains.map(\.rawValue), joules))
    }

    /// The idle baselines learned so far, by domain id.
    var baselineWatts: [String: Double] {
        Dictionary(
            uniqueKeysWithValues: zip(domains, baseline).compactMap { id, watts in watts.map { (id.rawValue, $0) } })
    }
}
