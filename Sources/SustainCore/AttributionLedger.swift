/// The accounting of attribution, apart from the cgroup and counter reads that feed it: at every step it shares the
/// machine's energy since the last step among the open jobs' cgroups by CPU time (`CPUTimeAttribution`), and keeps
/// what no job got as the unattributed remainder, so that at any time
/// `Σ attributed (open and finished jobs) + unattributed = Σ machine` since the first step.
///
/// Pure: a step is told the energies, the CPU times and the wall clock; the service's `Attributor` reads them.
/// Table-tested without root (`AttributionLedgerTests`).
public struct AttributionLedger: Sendable {
    /// One job's attributed energy so far.
    public struct Job: Sendable, Equatable {
        public let cgroup: String
        /// The job's owner, for the history's per-user view.
        public let uid: UInt32
        /// Per attributed domain, in the ledger's domain order.
        public fileprivate(set) var joules: [Double]
        public fileprivate(set) var idleJoules = 0.0
        /// The machine's energy in the attributed domains during the job's window.
        public fileprivate(set) var machineJoules = 0.0
        public fileprivate(set) var cgroupRemoved = false
        /// An observer (`sustain-measure attach`) is told its cgroup's whole share and takes none of it: it is not
        /// in the totals, and the jobs and watches of its cgroup keep theirs.
        public let observer: Bool
        public var total: Double { joules.reduce(0, +) }
    }

    /// One cgroup: its CPU time at the last step and the jobs in it.
    private struct Group: Sendable {
        var lastUsage: UInt64?
        let cpus: Int?
        var jobs: [String] = []
        var observers: [String] = []
        var removed = false
        var isEmpty: Bool { jobs.isEmpty && observers.isEmpty }
    }

    /// One minute of the history: the machine's attributed-domain energy, what no job got, and each job's part
    /// (with its owner), for views over a time range. A step's energy goes to the minute its step ended in.
    /// Closed minutes hold their jobs in an array (about 32 bytes a job: the id's storage is shared).
    public struct Minute: Sendable {
        public let minute: Int64
        public fileprivate(set) var machine = 0.0
        public fileprivate(set) var unattributed = 0.0
        public fileprivate(set) var jobs: [(id: String, uid: UInt32, joules: Double)] = []
    }

    /// What one step is told: the interval, each domain's energy in it, the machine's busy CPU seconds, each
    /// cgroup's cumulative CPU time now (microseconds; nil: the cgroup is gone or unreadable) and the wall clock.
    public struct Step: Sendable {
        public var seconds: Double
        public var energies: [Double]
        public var machineBusySeconds: Double
        public var usage: [String: UInt64?]
        public var wallTime: Double

        public init(
            seconds: Double, energies: [Double], machineBusySeconds: Double, usage: [String: UInt64?],
            wallTime: Double
        ) {
            self.seconds = seconds
            self.energies = energies
            self.machineBusySeconds = machineBusySeconds
            self.usage = usage
            self.wallTime = wallTime
        }
    }

    public static let historyMinutes = 24 * 60
    public static let historyEntries = 50_000

    public let domainCount: Int
    public let policy: CPUTimeAttribution.IdlePolicy
    public let totalCPUs: Int
    /// A window at least this long teaches the domains' idle baselines.
    public let baselineMinimumSeconds: Double
    /// Each domain's idle baseline: the lowest mean power seen over a window of consecutive steps at least
    /// `baselineMinimumSeconds` long. Windows, not steps: the service steps at every job's start and stop and every
    /// watch's refresh as well as every second, and steps cut short by those (a watch scraped every 0.5 s made
    /// nearly every step shorter than 0.5 s) must still teach it, or the baseline stays at the first, busy value and
    /// the dynamic part shrinks to nothing.
    public private(set) var baseline: [Double?]
    /// The window being filled: its seconds and each domain's energy.
    private var baselineWindow: (seconds: Double, energies: [Double])
    public private(set) var jobs: [String: Job] = [:]
    public private(set) var unattributed: [Double]
    public private(set) var machine: [Double]
    /// Attributed energy of the jobs that have finished.
    public private(set) var finishedJoules = 0.0
    /// The last `historyMinutes` minutes, and at most `historyEntries` job-minutes (the oldest minutes go first):
    /// a day of a few dozen jobs, or most of an hour of a thousand (1.6 MB at the bound).
    public private(set) var history: [Minute] = []
    private var groups: [String: Group] = [:]
    /// The minute being filled: each job's position in its `jobs`.
    private var openPositions: [String: Int] = [:]
    private var historyJobEntries = 0

    public init(
        domains: Int, policy: CPUTimeAttribution.IdlePolicy, totalCPUs: Int, baselineMinimumSeconds: Double = 0.5
    ) {
        domainCount = domains
        self.policy = policy
        self.totalCPUs = totalCPUs
        self.baselineMinimumSeconds = baselineMinimumSeconds
        baseline = Array(repeating: nil, count: domains)
        baselineWindow = (0, Array(repeating: 0, count: domains))
        unattributed = Array(repeating: 0, count: domains)
        machine = Array(repeating: 0, count: domains)
    }

    /// The cgroups whose CPU time the next step needs.
    public var cgroups: [String] { Array(groups.keys) }

    /// Whether a job open now is in `cgroup`.
    public func isOpen(cgroup: String) -> Bool { groups[cgroup] != nil }

    /// Σ machine energy, Σ attributed (open and finished) and Σ unattributed: the first is the sum of the others.
    public var totals: (machine: Double, attributed: Double, unattributed: Double) {
        (
            machine.reduce(0, +), jobs.values.filter { !$0.observer }.map(\.total).reduce(0, +) + finishedJoules,
            unattributed.reduce(0, +)
        )
    }

    /// Starts attributing to job `id` in `cgroup`, whose CPU time is `usage` microseconds now (nil: unknown) and
    /// which holds `cpus` CPUs (nil: unknown). An `observer` is told the cgroup's whole share and takes none.
    public mutating func add(
        job id: String, cgroup: String, owner: UInt32, usage: UInt64?, cpus: Int?, observer: Bool = false
    ) {
        if groups[cgroup] == nil { groups[cgroup] = Group(lastUsage: usage, cpus: cpus) }
        if observer {
            groups[cgroup]?.observers.append(id)
        } else {
            groups[cgroup]?.jobs.append(id)
        }
        jobs[id] = Job(cgroup: cgroup, uid: owner, joules: Array(repeating: 0, count: domainCount), observer: observer)
    }

    /// Stops attributing to job `id` (the caller has stepped to its end) and returns what it got.
    public mutating func remove(job id: String) -> Job? {
        guard let job = jobs.removeValue(forKey: id) else { return nil }
        groups[job.cgroup]?.jobs.removeAll { $0 == id }
        groups[job.cgroup]?.observers.removeAll { $0 == id }
        if groups[job.cgroup]?.isEmpty == true { groups[job.cgroup] = nil }
        if !job.observer { finishedJoules += job.total }
        return job
    }

    /// Shares one step's energy among the jobs open now.
    public mutating func record(_ step: Step) {
        guard step.seconds > 0, step.energies.count == domainCount else { return }
        let energy = step.energies.map { $0.isFinite ? max(0, $0) : 0 }
        // Each cgroup's CPU time in the step; a removed cgroup used none from then on (and the report says so).
        let paths = Array(groups.keys)
        var busy: [Double] = []
        var cpus: [Int?] = []
        busy.reserveCapacity(paths.count)
        cpus.reserveCapacity(paths.count)
        for path in paths {
            let usage = step.usage[path] ?? nil
            if usage == nil, groups[path]?.removed == false {
                groups[path]?.removed = true
                for job in (groups[path]?.jobs ?? []) + (groups[path]?.observers ?? []) {
                    jobs[job]?.cgroupRemoved = true
                }
            }
            let previous = groups[path]?.lastUsage ?? usage ?? 0
            busy.append(usage.map { Double($0 >= previous ? $0 - previous : 0) / 1_000_000 } ?? 0)
            cpus.append(groups[path]?.cpus)
            if let usage { groups[path]?.lastUsage = usage }
        }
        baselineWindow.seconds += step.seconds
        baselineWindow.energies = zip(baselineWindow.energies, energy).map { $0 + $1 }
        if baselineWindow.seconds >= baselineMinimumSeconds {
            for domain in energy.indices {
                let watts = baselineWindow.energies[domain] / baselineWindow.seconds
                baseline[domain] = min(baseline[domain] ?? watts, watts)
            }
            baselineWindow = (0, Array(repeating: 0, count: domainCount))
        }
        // Per domain and group: its share; then each job of the group gets its part, once.
        let shares = energy.indices.map { domain in
            CPUTimeAttribution.split(
                energy: energy[domain], idleEnergy: (baseline[domain] ?? 0) * step.seconds,
                machineBusy: step.machineBusySeconds, groupBusy: busy, groupCPUs: cpus, totalCPUs: totalCPUs,
                policy: policy)
        }
        for domain in energy.indices {
            machine[domain] += energy[domain]
            unattributed[domain] += energy[domain]
        }
        let stepEnergy = energy.reduce(0, +)
        for index in jobs.values.indices { jobs.values[index].machineJoules += stepEnergy }
        // Observers: their cgroup's whole share, taken from nobody.
        for (position, path) in paths.enumerated() {
            for id in groups[path]?.observers ?? [] {
                guard var job = jobs.removeValue(forKey: id) else { continue }
                for domain in energy.indices {
                    job.joules[domain] += shares[domain][position].total
                    job.idleJoules += shares[domain][position].idle
                }
                jobs[id] = job
            }
        }
        // The minute is changed in place: a copy would copy its jobs array at every step.
        let minute = openMinute(at: step.wallTime)
        history[minute].machine += stepEnergy
        var attributed = 0.0
        for (position, path) in paths.enumerated() {
            guard let members = groups[path]?.jobs, !members.isEmpty else { continue }
            // Jobs in one cgroup share its attribution.
            let each = 1 / Double(members.count)
            for id in members {
                guard var job = jobs.removeValue(forKey: id) else { continue }
                var part = 0.0
                for domain in energy.indices {
                    let share = shares[domain][position]
                    job.joules[domain] += share.total * each
                    job.idleJoules += share.idle * each
                    unattributed[domain] -= share.total * each
                    part += share.total * each
                }
                jobs[id] = job
                if let position = openPositions[id] {
                    history[minute].jobs[position].joules += part
                } else {
                    openPositions[id] = history[minute].jobs.count
                    history[minute].jobs.append((id, job.uid, part))
                    historyJobEntries += 1
                }
                attributed += part
            }
        }
        history[minute].unattributed += stepEnergy - attributed
    }

    /// The index in `history` of the minute holding `wallTime` (a new one when time moved on), the oldest dropped
    /// past the bounds.
    private mutating func openMinute(at wallTime: Double) -> Int {
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

    /// The minutes that overlap `[from, to)` (seconds since 1970).
    public func history(from: Double, to: Double) -> [Minute] {
        let first = Int64((from / 60).rounded(.down))
        let last = Int64((to / 60).rounded(.up))
        return history.filter { $0.minute >= first && $0.minute < last }
    }
}
