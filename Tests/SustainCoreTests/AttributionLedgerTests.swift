import SustainCore
import Testing

/// Attribution's accounting without cgroups or root: the split of one interval, then the ledger over many steps.
struct AttributionLedgerTests {
    struct SplitCase: Sendable, CustomTestStringConvertible {
        var label: String
        var energy: Double
        var idle: Double
        var machineBusy: Double
        var groupBusy: [Double]
        var groupCPUs: [Int?] = []
        var totalCPUs = 8
        var policy = CPUTimeAttribution.IdlePolicy.unattributed
        /// Expected (dynamic, idle) per group.
        var shares: [(Double, Double)]
        var testDescription: String { label }
    }

    static let splitCases: [SplitCase] = [
        SplitCase(
            label: "dynamic part by CPU time, the rest unattributed", energy: 100, idle: 20, machineBusy: 4,
            groupBusy: [2, 1], shares: [(40, 0), (20, 0)]),
        SplitCase(
            label: "cpuset: the static part by allocated CPUs", energy: 100, idle: 20, machineBusy: 4,
            groupBusy: [2, 1], groupCPUs: [2, nil], policy: .cpuset, shares: [(40, 5), (20, 0)]),
        SplitCase(
            label: "cgroups busier than the machine (tick skew): never more than the whole", energy: 100, idle: 20,
            machineBusy: 2, groupBusy: [3, 1], shares: [(60, 0), (20, 0)]),
        SplitCase(
            label: "more CPUs held than the machine has: split over what is held", energy: 100, idle: 40,
            machineBusy: 1, groupBusy: [0, 0], groupCPUs: [8, 8], policy: .cpuset, shares: [(0, 20), (0, 20)]),
        SplitCase(
            label: "zero busy time: no dynamic share", energy: 100, idle: 20, machineBusy: 0, groupBusy: [0, 0],
            shares: [(0, 0), (0, 0)]),
        SplitCase(
            label: "idle above the energy is clamped to it", energy: 50, idle: 80, machineBusy: 1, groupBusy: [1],
            groupCPUs: [4], policy: .cpuset, shares: [(0, 25)]),
        SplitCase(
            label: "negative idle counts as none", energy: 50, idle: -10, machineBusy: 1, groupBusy: [1],
            shares: [(50, 0)]),
        SplitCase(
            label: "no energy: nothing to share", energy: 0, idle: 0, machineBusy: 1, groupBusy: [1],
            shares: [(0, 0)]),
        SplitCase(
            label: "NaN energy: nothing to share", energy: .nan, idle: 0, machineBusy: 1, groupBusy: [1],
            shares: [(0, 0)]),
        SplitCase(
            label: "NaN and negative CPU times count as none", energy: 90, idle: 0, machineBusy: 3,
            groupBusy: [.nan, -1, 3], shares: [(0, 0), (0, 0), (90, 0)]),
    ]

    @Test(arguments: splitCases) func splitSharesOneInterval(_ test: SplitCase) {
        let cpus = test.groupCPUs.isEmpty ? test.groupBusy.map { _ in nil } : test.groupCPUs
        let shares = CPUTimeAttribution.split(
            energy: test.energy, idleEnergy: test.idle, machineBusy: test.machineBusy, groupBusy: test.groupBusy,
            groupCPUs: cpus, totalCPUs: test.totalCPUs, policy: test.policy)
        #expect(shares.count == test.shares.count)
        for (share, expected) in zip(shares, test.shares) {
            #expect(abs(share.dynamic - expected.0) < 1e-9, "dynamic \(share.dynamic), expected \(expected.0)")
            #expect(abs(share.idle - expected.1) < 1e-9, "idle \(share.idle), expected \(expected.1)")
        }
        // Never more than the whole.
        if test.energy.isFinite { #expect(shares.map(\.total).reduce(0, +) <= max(0, test.energy) + 1e-9) }
    }

    /// One step of `seconds` with `watts` in each of two domains.
    static func step(
        _ seconds: Double, watts: [Double] = [100, 20], busy: Double, usage: [String: UInt64?], at wallTime: Double
    ) -> AttributionLedger.Step {
        AttributionLedger.Step(
            seconds: seconds, energies: watts.map { $0 * seconds }, machineBusySeconds: busy, usage: usage,
            wallTime: wallTime)
    }

    static func expectConserved(_ ledger: AttributionLedger, _ comment: Comment? = nil) {
        let totals = ledger.totals
        #expect(
            abs(totals.attributed + totals.unattributed - totals.machine) <= 1e-9 * max(1, totals.machine), comment)
        #expect(totals.attributed <= totals.machine + 1e-9, comment)
    }

    @Test func oneJobGetsItsShareOfTheDynamicPart() throws {
        var ledger = AttributionLedger(domains: 2, policy: .unattributed, totalCPUs: 2)
        // The first steps teach the idle baseline: 120 W with nobody running.
        ledger.record(Self.step(1, busy: 0, usage: [:], at: 0))
        ledger.add(job: "a", cgroup: "/a", owner: 1000, usage: 5_000_000, cpus: nil)
        // 220 W (100 dynamic), the machine busy 2 s, the job 1.5 s of them.
        ledger.record(Self.step(1, watts: [200, 20], busy: 2, usage: ["/a": 6_500_000], at: 1))
        let job = try #require(ledger.jobs["a"])
        #expect(abs(job.total - 75) < 1e-9)
        #expect(abs(job.joules[0] - 75) < 1e-9 && job.joules[1] == 0)
        #expect(abs(job.machineJoules - 220) < 1e-9)
        #expect(ledger.baseline == [100, 20])
        Self.expectConserved(ledger)
        #expect(abs(ledger.totals.unattributed - (120 + 220 - 75)) < 1e-9)
    }

    @Test func zeroBusyTimeAttributesNothing() {
        var ledger = AttributionLedger(domains: 2, policy: .unattributed, totalCPUs: 2)
        ledger.add(job: "idle", cgroup: "/idle", owner: 0, usage: 0, cpus: nil)
        for second in 0..<10 {
            ledger.record(Self.step(1, busy: 0, usage: ["/idle": 0], at: Double(second)))
        }
        #expect(ledger.jobs["idle"]?.total == 0)
        #expect(abs(ledger.totals.unattributed - 1200) < 1e-9)
        Self.expectConserved(ledger)
    }

    @Test func aThousandJobsShareEquallyAndNothingIsLost() {
        var ledger = AttributionLedger(domains: 2, policy: .cpuset, totalCPUs: 1000)
        ledger.record(Self.step(1, watts: [50, 10], busy: 0, usage: [:], at: 0))
        var usage: [String: UInt64?] = [:]
        for index in 0..<1000 {
            ledger.add(job: "j\(index)", cgroup: "/j\(index)", owner: UInt32(index), usage: 0, cpus: 1)
            usage["/j\(index)"] = 0
        }
        for second in 1...60 {
            for index in 0..<1000 { usage["/j\(index)"] = UInt64(second) * 1_000 }  // 1 ms of CPU a second each
            ledger.record(Self.step(1, watts: [150, 10], busy: 1, usage: usage, at: Double(second)))
        }
        // Each: dynamic 100 W × 60 s / 1000, idle 60 W × 60 s / 1000 (one CPU of 1000).
        for index in [0, 499, 999] {
            #expect(abs((ledger.jobs["j\(index)"]?.total ?? 0) - (6 + 3.6)) < 1e-9)
        }
        Self.expectConserved(ledger)
        #expect(abs(ledger.totals.unattributed - 60) < 1e-6)  // the first second's, before the jobs
    }

    @Test func aJobLeavingMidSecondKeepsWhatItGotAndGetsNoMore() throws {
        var ledger = AttributionLedger(domains: 2, policy: .unattributed, totalCPUs: 2)
        ledger.record(Self.step(1, busy: 0, usage: [:], at: 0))
        ledger.add(job: "a", cgroup: "/a", owner: 1, usage: 0, cpus: nil)
        ledger.add(job: "b", cgroup: "/b", owner: 2, usage: 0, cpus: nil)
        ledger.record(Self.step(1, watts: [300, 20], busy: 2, usage: ["/a": 1_000_000, "/b": 1_000_000], at: 1))
        // a stops 0.4 s into the next second: the registry steps to its stop reading, then removes it.
        ledger.record(Self.step(0.4, watts: [300, 20], busy: 0.8, usage: ["/a": 1_400_000, "/b": 1_400_000], at: 1.4))
        let removed = ledger.remove(job: "a")
        let a = try #require(removed)
        #expect(abs(a.total - (100 + 40)) < 1e-9)
        #expect(!ledger.isOpen(cgroup: "/a"))
        #expect(ledger.remove(job: "a") == nil)
        // The rest of the second: b alone; a's cgroup is not read any more.
        ledger.record(Self.step(0.6, watts: [300, 20], busy: 1.2, usage: ["/b": 2_000_000], at: 2))
        #expect(abs((ledger.jobs["b"]?.total ?? 0) - (100 + 40 + 60)) < 1e-9)
        #expect(abs(ledger.finishedJoules - 140) < 1e-9)
        #expect(ledger.cgroups == ["/b"])
        Self.expectConserved(ledger)
    }

    @Test func aRemovedCgroupIsSaidAndGetsNothingFromThenOn() throws {
        var ledger = AttributionLedger(domains: 1, policy: .unattributed, totalCPUs: 1)
        ledger.record(Self.step(1, watts: [10], busy: 0, usage: [:], at: 0))
        ledger.add(job: "a", cgroup: "/a", owner: 1, usage: 0, cpus: nil)
        ledger.record(Self.step(1, watts: [110], busy: 1, usage: ["/a": 1_000_000], at: 1))
        ledger.record(Self.step(1, watts: [110], busy: 1, usage: ["/a": nil], at: 2))
        let a = try #require(ledger.jobs["a"])
        #expect(a.cgroupRemoved)
        #expect(abs(a.total - 100) < 1e-9)
        Self.expectConserved(ledger)
    }

    @Test func jobsInOneCgroupShareItsPart() {
        var ledger = AttributionLedger(domains: 1, policy: .unattributed, totalCPUs: 1)
        ledger.record(Self.step(1, watts: [10], busy: 0, usage: [:], at: 0))
        ledger.add(job: "a", cgroup: "/slurm/job1", owner: 1, usage: 0, cpus: nil)
        ledger.add(job: "b", cgroup: "/slurm/job1", owner: 1, usage: 0, cpus: nil)
        ledger.record(Self.step(1, watts: [110], busy: 1, usage: ["/slurm/job1": 1_000_000], at: 1))
        #expect(abs((ledger.jobs["a"]?.total ?? 0) - 50) < 1e-9)
        #expect(abs((ledger.jobs["b"]?.total ?? 0) - 50) < 1e-9)
        _ = ledger.remove(job: "a")
        #expect(ledger.isOpen(cgroup: "/slurm/job1"))
        Self.expectConserved(ledger)
    }

    /// `attach` to a watched server: the observer is told the cgroup's whole share; the watch keeps all of it, and
    /// the totals count it once. Alone in its cgroup, an observer's share stays in the remainder.
    @Test func anObserverIsToldTheWholeShareAndTakesNone() throws {
        var ledger = AttributionLedger(domains: 1, policy: .unattributed, totalCPUs: 1)
        ledger.record(Self.step(1, watts: [10], busy: 0, usage: [:], at: 0))
        ledger.add(job: "watch:model", cgroup: "/system.slice/vllm.service", owner: 0, usage: 0, cpus: nil)
        ledger.add(job: "attach", cgroup: "/system.slice/vllm.service", owner: 1, usage: 0, cpus: nil, observer: true)
        ledger.add(job: "alone", cgroup: "/other", owner: 1, usage: 0, cpus: nil, observer: true)
        ledger.record(
            Self.step(
                1, watts: [110], busy: 1, usage: ["/system.slice/vllm.service": 600_000, "/other": 400_000], at: 1))
        #expect(abs((ledger.jobs["watch:model"]?.total ?? 0) - 60) < 1e-9)
        #expect(abs((ledger.jobs["attach"]?.total ?? 0) - 60) < 1e-9)
        #expect(abs((ledger.jobs["alone"]?.total ?? 0) - 40) < 1e-9)
        #expect(abs(ledger.totals.attributed - 60) < 1e-9 && abs(ledger.totals.unattributed - 60) < 1e-9)
        Self.expectConserved(ledger)
        let removed = ledger.remove(job: "attach")
        let attach = try #require(removed)
        #expect(attach.observer && abs(ledger.finishedJoules) < 1e-12, "an observer's share is nobody's")
        _ = ledger.remove(job: "alone")
        #expect(!ledger.isOpen(cgroup: "/other") && ledger.isOpen(cgroup: "/system.slice/vllm.service"))
        Self.expectConserved(ledger)
    }

    @Test func theBaselineLearnsFromWindowsOfHalfASecondHoweverTheStepsCutThem() {
        var ledger = AttributionLedger(domains: 1, policy: .unattributed, totalCPUs: 1)
        ledger.record(Self.step(0.3, watts: [40], busy: 0, usage: [:], at: 0))
        #expect(ledger.baseline == [nil], "0.3 s is too short to learn from")
        ledger.record(Self.step(0.3, watts: [40], busy: 0, usage: [:], at: 0.3))
        #expect(ledger.baseline.first.map { abs(($0 ?? 0) - 40) < 1e-9 } == true, "0.6 s in two steps")
        ledger.record(Self.step(1, watts: [60], busy: 0, usage: [:], at: 1))
        #expect(ledger.baseline.first.map { abs(($0 ?? 0) - 40) < 1e-9 } == true, "the lowest")
        // Steps of 0.25 s at 20 W (a watch refreshed every quarter second) still teach it.
        for index in 0..<4 {
            ledger.record(Self.step(0.25, watts: [20], busy: 0, usage: [:], at: 2 + Double(index) / 4))
        }
        #expect(ledger.baseline.first.map { abs(($0 ?? 0) - 20) < 1e-9 } == true, "\(ledger.baseline)")
    }

    @Test func aStepOfNoTimeOrTheWrongShapeChangesNothing() {
        var ledger = AttributionLedger(domains: 2, policy: .unattributed, totalCPUs: 1)
        ledger.record(Self.step(0, busy: 0, usage: [:], at: 0))
        ledger.record(Self.step(1, watts: [1, 2, 3], busy: 0, usage: [:], at: 0))
        ledger.record(Self.step(1, watts: [.infinity, -5], busy: 0, usage: [:], at: 0))
        #expect(ledger.totals.machine == 0)
    }

    @Test func theHistoryKeepsEachMinutesJobsAndRemainder() {
        var ledger = AttributionLedger(domains: 1, policy: .unattributed, totalCPUs: 1)
        ledger.record(Self.step(1, watts: [10], busy: 0, usage: [:], at: 59))
        ledger.add(job: "a", cgroup: "/a", owner: 7, usage: 0, cpus: nil)
        ledger.record(Self.step(1, watts: [110], busy: 1, usage: ["/a": 1_000_000], at: 60))
        ledger.record(Self.step(1, watts: [110], busy: 1, usage: ["/a": 2_000_000], at: 61))
        ledger.record(Self.step(1, watts: [110], busy: 1, usage: ["/a": 3_000_000], at: 185))
        let minutes = ledger.history(from: 0, to: 240)
        #expect(minutes.map(\.minute) == [0, 1, 3])
        #expect(minutes.map(\.machine) == [10, 220, 110])
        #expect(
            minutes[1].jobs.count == 1 && minutes[1].jobs[0].uid == 7 && abs(minutes[1].jobs[0].joules - 200) < 1e-9)
        #expect(abs(minutes[1].unattributed - 20) < 1e-9)
        #expect(ledger.history(from: 120, to: 180).isEmpty)
    }
}
