import Foundation
import Impact
import LinuxSupport
import Meter
import Reports
import SustainAPI
import SustainCore

extension JobRegistry {
    /// Ties a starting job to its cgroup (the one registered with it, else its process's) and starts attributing
    /// the machine's energy to it from `checkpoint`; or notes why it cannot be.
    func attach(_ job: inout Job, at checkpoint: SamplerCheckpoint, restarted: Bool = false) {
        // The container or pod, from the cgroup path alone, whether or not the energy can be attributed.
        let cgroup = job.start.cgroup ?? job.process.flatMap { CgroupV2.path(ofProcess: $0.pid) }
        job.container = cgroup.flatMap(ContainerIdentity.parse)
        attributor.step(to: checkpoint)
        if let reason = attributor.unavailable {
            job.attributionNote = "Not attributed: \(reason); energy.joules is the machine's during the job."
            return
        }
        guard let cgroup else {
            job.attributionNote =
                "Not attributed: the job named no process and no cgroup, so none of the machine's energy can be tied "
                + "to it; energy.joules is the machine's during the job."
            return
        }
        // A cgroup registered with the job (root, an admin, the SLURM prolog) is the job's. One found from the
        // job's process must hold nothing else: the root cgroup (a VM, a container, a host without systemd) or
        // a login session's scope is everyone's, and its CPU time would charge this job for others' work.
        if job.start.cgroup == nil, let process = job.process, let reason = sharedCgroup(cgroup, of: process.pid) {
            job.attributionNote =
                "Not attributed: the job's cgroup \(cgroup) \(reason), so its CPU time is not the job's; "
                + "energy.joules is the machine's during the job. Run the job in a cgroup of its own (systemd-run "
                + "--scope, SLURM's cgroup plugin) to get its share."
            return
        }
        attributor.add(job: job.id, cgroup: cgroup, owner: job.identity.uid, observer: job.start.observe == true)
        if restarted {
            job.attributionNote =
                "The service restarted during this job: its attribution counts from the restart only."
        }
    }

    /// Whether the cgroup at `path` holds processes and all of them are `uid`'s, with no child cgroups (whose
    /// processes would be charged with it): a user may then name it for a job (`sustain-measure attach`).
    func ownsWholly(_ path: String, uid: UInt32) -> Bool {
        guard path != "/", let mount = attributor.mount,
            let processes = CgroupV2.processes(mount: mount, path: path), !processes.isEmpty
        else { return false }
        return CgroupV2.children(mount: mount, path: path).isEmpty
            && processes.allSatisfy { ProcessIdentity.owner(of: $0) == uid }
    }

    /// Why the cgroup `path` that process `pid` is in is not the job's own, if it is not: the root cgroup, or one
    /// holding a process outside the job's tree.
    func sharedCgroup(_ path: String, of pid: Int32) -> String? {
        if path == "/" { return "is the root cgroup, which every process without one of its own shares" }
        guard let mount = attributor.mount, let processes = CgroupV2.processes(mount: mount, path: path) else {
            return nil
        }
        let others = processes.filter { $0 != pid && !ProcessTree.isDescendant($0, of: pid) }
        guard !others.isEmpty else { return nil }
        return "also holds \(others.count) process(es) outside the job (a login session's or a service's cgroup)"
    }

    /// The job's `attribution` object (its attributed carbon beside the measured one) and what to say about it.
    func attributionSection(_ ledger: Attributor.JobLedger?, note: String?, carbon settings: CarbonSettings) -> (
        section: Report.Attribution?, warnings: [String]
    ) {
        var warnings = note.map { [$0] } ?? []
        guard let ledger else { return (nil, warnings) }
        let joules = ledger.total
        let kilograms = CarbonAssessment(energy: Joules(joules), settings: settings).emissions?.kilograms
        let section = Report.Attribution(
            method: "cgroup-cpu-time", joules: joules,
            share: ledger.machineJoules > 0 ? joules / ledger.machineJoules : nil,
            domains: attributor.byDomain(ledger.joules),
            idleJoules: ledger.idleJoules, idlePolicy: attributor.policy.rawValue,
            machineJoules: ledger.machineJoules, cgroup: ledger.cgroup, kgCo2e: kilograms,
            note: "Attributed, not measured: the machine's counted CPU-side energy (GPUs excluded) shared among "
                + "the jobs open in each second by their cgroups' CPU time; the static part "
                + (attributor.policy == .cpuset ? "split by allocated CPUs" : "left unattributed")
                + ". energy.joules stays the machine's measured energy during the job."
                + (ledger.observer
                    ? " Observed (attach): the cgroup's whole share in the window, which the jobs and watched "
                        + "servers in it keep; it is not added to the service's totals." : ""))
        if ledger.cgroupRemoved {
            warnings.append(
                "The job's cgroup \(ledger.cgroup) was removed before the job ended: from then on no energy was "
                    + "attributed to it.")
        }
        return (section, warnings)
    }

    /// Every job's attributed energy so far and the remainder, since the service started: the conservation view.
    public func attributionView(by identity: Identity) -> AttributionView {
        if let now = sampler.latestCheckpoint { attributor.step(to: now) }
        let machine = attributor.totals.machine
        let open = jobs.values.compactMap { job -> AttributionView.Job? in
            guard let ledger = attributor.jobs[job.id], !ledger.observer else { return nil }
            let visible = job.identity.uid == identity.uid || identity.isAdmin
            return AttributionView.Job(
                id: visible ? job.id : "(another user's job)", user: visible ? job.identity.user : "",
                cgroup: visible ? ledger.cgroup : "", joules: ledger.total,
                share: ledger.machineJoules > 0 ? ledger.total / ledger.machineJoules : nil)
        }.sorted { $0.joules > $1.joules }
        let unattributed = attributor.totals.unattributed
        // A watch's earlier cgroups' energy is in the ledger's finished total: shown with the watch instead.
        let watched = watches.values.sorted { $0.config.name < $1.config.name }
        let retired = watched.map { $0.retired.domains.reduce(0, +) }.reduce(0, +)
        let watchViews = watched.map { watch in
            AttributionView.Watch(
                name: watch.config.name, cgroup: watch.location?.cgroup,
                joules: totals(of: watch).domains.reduce(0, +), missing: watch.missing)
        }
        let finished = attributor.finishedJoules - retired
        let attributed = open.map(\.joules).reduce(0, +) + watchViews.map(\.joules).reduce(0, +) + finished
        return AttributionView(
            method: "cgroup-cpu-time", available: attributor.unavailable == nil, reason: attributor.unavailable,
            idlePolicy: attributor.policy.rawValue,
            sinceSeconds: attributor.since.map { $0.seconds(to: sampler.clock.now) },
            machineJoules: machine, openJobs: open, watches: watchViews.isEmpty ? nil : watchViews,
            finishedJobsJoules: finished,
            unattributedJoules: unattributed,
            conservationError: machine > 0 ? (attributed + unattributed - machine) / machine : nil,
            baselineWatts: attributor.baselineWatts)
    }

    /// The attribution over `[from, to)` (seconds since 1970), in the whole minutes the history holds.
    public func attributionRange(from: Double, to: Double, by identity: Identity) -> AttributionRange {
        if let now = sampler.latestCheckpoint { attributor.step(to: now) }
        let minutes = attributor.ledger.history(from: from, to: to)
        var byJob: [String: Double] = [:]
        var others = 0.0
        var machine = 0.0
        var unattributed = 0.0
        for minute in minutes {
            machine += minute.machine
            unattributed += minute.unattributed
            for part in minute.jobs {
                if part.uid == identity.uid || identity.isAdmin {
                    byJob[part.id, default: 0] += part.joules
                } else {
                    others += part.joules
                }
            }
        }
        let attributed = byJob.values.reduce(0, +) + others
        let first = minutes.first.map { Double($0.minute) * 60 } ?? from
        let last = minutes.last.map { Double($0.minute + 1) * 60 } ?? to
        return AttributionRange(
            from: Date(timeIntervalSince1970: first), to: Date(timeIntervalSince1970: last), minutes: minutes.count,
            machineJoules: machine,
            jobs: byJob.map {
                AttributionRange.Job(id: $0.key, joules: $0.value, share: machine > 0 ? $0.value / machine : nil)
            }
            .sorted { $0.joules > $1.joules },
            otherUsersJoules: others, unattributedJoules: unattributed,
            conservationError: machine > 0 ? (attributed + unattributed - machine) / machine : nil,
            note: "Attributed, not measured: the machine's counted CPU-side energy (GPUs excluded) per minute, each "
                + "second shared among the jobs open then by their cgroups' CPU time. The service keeps "
                + "\(AttributionLedger.historyMinutes / 60) h, at most \(AttributionLedger.historyEntries) job-minutes; a second's "
                + "energy is in the minute it ended in.")
    }

    /// For metrics: each open job's attributed energy, and the unattributed remainder.
    public func attributedEnergies() -> (
        jobs: [(id: String, uid: UInt32, user: String, joules: Double)], unattributed: Double
    ) {
        (
            jobs.values.compactMap { job in
                attributor.jobs[job.id].flatMap {
                    $0.observer ? nil : (job.id, job.identity.uid, job.identity.user, $0.total)
                }
            }, attributor.totals.unattributed
        )
    }
}
