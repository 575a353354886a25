import Foundation
import Impact
import IntensityData
import LinuxSupport
import Logging
import Meter
import PowerControl
import Reports
import SustainAPI
import SustainConfiguration
import SustainCore

/// Why a job request was refused, with the HTTP status it maps to.
public enum JobError: Error, Equatable, Sendable, CustomStringConvertible {
    case notFound(String)
    case forbidden(String)
    case notYourProcess(Int32)
    case alreadyStopped(String)
    case invalid(String)
    case unavailable(String)
    /// The caller has too many open jobs (429).
    case tooMany(String)
    /// The caller may not do this (a power limit without being in `[control] groups`): 403 with the reason.
    case notAllowed(String)

    public var description: String {
        switch self {
        case .notFound(let id): "no job \(id)"
        case .forbidden(let id): "job \(id) belongs to another user"
        case .notYourProcess(let pid):
            "process \(pid) belongs to another user: register the job with your own pid (the wrapper does), or none"
        case .alreadyStopped(let id): "job \(id) has already been stopped"
        case .invalid(let reason): reason
        case .unavailable(let reason): reason
        case .tooMany(let reason): reason
        case .notAllowed(let reason): reason
        }
    }
}

extension JobStart {
    /// The command as the report records it.
    var recorded: RecordedCommand {
        RecordedCommand(text: command, base64: commandBase64, truncatedFrom: commandWords)
    }
}

/// Limits on what one user can hold open in the daemon.
public struct JobLimits: Sendable, Equatable {
    /// Open jobs one user (not root or an admin) may have at once.
    public var maxOpenJobsPerUser: Int
    /// A job registered without a process is closed as incomplete after this long, in seconds.
    public var maxAgeWithoutPID: Double

    public init(maxOpenJobsPerUser: Int = 256, maxAgeWithoutPID: Double = 1_209_600) {
        self.maxOpenJobsPerUser = maxOpenJobsPerUser
        self.maxAgeWithoutPID = maxAgeWithoutPID
    }
}

/// Open jobs: each remembers the sampler's running totals at its start; its energy is the difference at its end.
/// Every open job's start is persisted, and the sampler's totals every checkpoint interval, so a restarted daemon
/// carries the jobs over (`recover`).
public actor JobRegistry {
    struct Job {
        var id: String
        var identity: Identity
        var start: JobStart
        var startedAt: Date
        var checkpoint: SamplerCheckpoint
        /// The job's process, when the client named a live one; the job is closed as incomplete when it ends.
        var process: ProcessIdentity?
        var gaps: [Report.Gap] = []
        /// The job's process tree and CUDA_VISIBLE_DEVICES, for the GPUs it is charged.
        var attribution: JobAttribution?
        /// Other jobs open at some time during this one.
        var overlapping = 0
        /// The job's phases, from its first mark on (in memory: a restart of the daemon loses them, and says so).
        var phases: PhaseLog?
        /// Why the machine's energy is not attributed to this job, when it is not.
        var attributionNote: String?
        /// The container or pod the job's cgroup says it runs in.
        var container: ContainerIdentity?
        /// `power_tuning`: the tuner fed by the job's step marks, and the devices' limit when it started.
        var tuning: PowerTuningSession?
        var tuningOriginal: Double?
        /// The first open registration of the same SLURM job by the same user, which counts the node's energy
        /// during this one (a rank's wrapper inside a job the prolog registered).
        var countedIn: String?
    }

    var jobs: [String: Job] = [:]
    /// Finished jobs the store could not take yet (a full or read-only disk): kept and retried every checkpoint.
    var pending: [JobRecord] = []
    /// Why the store last failed; nil while it works.
    var storeFailure: String?
    var limits: JobLimits
    let sampler: Sampler
    let sources: [SourceSummary]
    let store: JobStore
    var carbon: CarbonSettings
    /// The service's configuration, over which a job's own carbon options are resolved.
    var configuration: Configuration
    let bootID: String?
    let logger: Logger
    /// Shares the machine's energy among the open jobs by their cgroups' CPU time.
    let attributor: Attributor
    /// Power limits jobs set (`power_limits`): nil where the service controls nothing (its tests).
    let power: PowerController?
    /// Tuning sweeps kept for recurring jobs (`--label job=NAME`).
    let profiles: PowerProfileStore?
    /// The configured intensity series as last read: parsed again only when the file's bytes change.
    var intensitySeries: SeriesFile.Cached?
    /// Finished jobs' final counters, kept `[daemon] finished_job_metrics_seconds` for Prometheus's last scrape.
    var finishedCounters: [JobCounter] = []
    /// The deployed models' servers watched (`[[watch]]`), by name.
    var watches: [String: WatchState] = [:]
    /// Whether the periods a stopped service saved have been written (once, at the first configuration), and
    /// whether the watches' last periods have been written at shutdown (nothing is saved after that).
    var watchPeriodsRecovered = false
    var watchesClosed = false
    /// How far back the machine's power timeline reaches (1 s buckets): a job's report carries the timeline of
    /// its window when the ring still holds its start (6 h: about 2 MB for 8 energy channels).
    public static let timelineSeconds = 6 * 3600
    /// The most jobs open at once.
    public static let maximumOpenJobs = 100_000

    public init(
        sampler: Sampler, sources: [SourceSummary], store: JobStore, carbon: CarbonSettings,
        configuration: Configuration = Configuration(),
        limits: JobLimits = JobLimits(), bootID: String? = ProcessIdentity.bootID(), power: PowerController? = nil,
        profiles: PowerProfileStore? = nil, logger: Logger
    ) {
        self.limits = limits
        self.power = power
        self.profiles = profiles
        self.sampler = sampler
        self.sources = sources
        self.store = store
        self.carbon = carbon
        self.configuration = configuration
        self.bootID = bootID
        self.logger = logger
        attributor = Attributor(
            sampler: sampler, mount: configuration.daemon.cgroupRoot ?? CgroupV2.mountPoint(),
            policy: CPUTimeAttribution.IdlePolicy(rawValue: configuration.daemon.attributionIdle) ?? .unattributed)
    }

    /// Attributes the machine's energy since the last step to the open jobs (every second, from a service).
    public func attribute() {
        if let now = sampler.latestCheckpoint { attributor.step(to: now) }
    }

    public var openJobs: Int { jobs.count }

    /// The open registration that already counts a SLURM job's node energy for `identity`: the earliest open job
    /// with the same `slurm_job_id` label and owner that is not itself counted in another. Only the same user's:
    /// nobody can fold another user's job into theirs, or theirs into another's.
    func slurmPrimary(of request: JobStart, for identity: Identity) -> Job? {
        guard let slurm = request.labels?["slurm_job_id"], !slurm.isEmpty else { return nil }
        return jobs.values.filter {
            $0.countedIn == nil && $0.identity.uid == identity.uid && $0.start.labels?["slurm_job_id"] == slurm
        }.min { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }
    }

    /// The series a job's carbon follows: the one its wrapper sent (the user's, checked at the job's start), else
    /// the configured `[impact] intensity_series`, read when a job ends (the fetch timer replaces it). A missing or
    /// unreadable file is said, never fatal.
    func intensitySeries(for job: Job) -> (series: IntensitySeries?, warning: String?) {
        if let request = job.start.carbon?.series {
            do {
                return (try IntensitySeries(request), nil)
            } catch {
                return (nil, "The job's intensity series could not be used (\(error)): the yearly figure was used.")
            }
        }
        return configuredSeries()
    }

    /// The configured `[impact] intensity_series`, read when a job ends or a watch's period does (the fetch timer
    /// replaces it), parsed again only when its bytes change. A missing or unreadable file is said, never fatal.
    func configuredSeries() -> (series: IntensitySeries?, warning: String?) {
        guard let path = configuration.impact.intensitySeries else { return (nil, nil) }
        do {
            let cached = try SeriesFile.load(path, reusing: intensitySeries, trusted: true)
            intensitySeries = cached
            return (cached.loaded.series, nil)
        } catch {
            // The reason may quote the file, which the job's owner may not be allowed to read: it goes to the
            // service's log, and the report says only where to look.
            logger.warning(
                "configured intensity series not used", metadata: ["path": "\(path)", "error": "\(error)"])
            return (
                nil,
                "The configured intensity series could not be used (the service's log says why): the yearly figure "
                    + "was used. The sustain-intensity-fetch timer writes it."
            )
        }
    }

    /// Carbon settings for jobs that end from now on (a reloaded configuration).
    public func update(carbon: CarbonSettings, configuration: Configuration? = nil) {
        self.carbon = carbon
        if let configuration { self.configuration = configuration }
    }

    /// The carbon settings of a job: its own options (the user's flags) over the service's configuration, else
    /// the service's settings. The service computes the job's one carbon figure with them and stores it.
    func carbonSettings(for request: CarbonRequest?) throws(ImpactError) -> CarbonSettings {
        guard let request, !request.isEmpty else { return carbon }
        var basis: IntensityBasis?
        if let text = request.intensityBasis {
            guard let value = IntensityBasis(rawValue: text.lowercased()) else {
                throw .invalidText(field: "intensity_basis", value: text, expected: "lifecycle or direct")
            }
            basis = value
        }
        return try configuration.carbonSettings(
            region: request.region, intensity: request.intensity, intensityBasis: basis, pue: request.pue,
            price: request.price, currency: request.currency)
    }

    /// Limits for jobs that start from now on (a reloaded configuration).
    public func update(limits: JobLimits) { self.limits = limits }

    /// Opens a job for `identity`.
    public func start(_ request: JobStart, by caller: Identity) throws(JobError) -> RunningJob {
        var request = request
        var identity = caller
        if let uid = request.uid, uid != caller.uid {
            // A SLURM prolog (root) registers the job for the user who submitted it.
            guard caller.isAdmin else { throw .invalid("uid: only root or an admin may register a job for a user") }
            identity = Identity(
                uid: uid, gid: caller.gid, pid: caller.pid, user: Identity.userName(uid) ?? "uid \(uid)",
                isAdmin: false)
        }
        guard !request.command.isEmpty else { throw .invalid("command must be a non-empty array of strings") }
        do {
            _ = try carbonSettings(for: request.carbon)
            if let series = request.carbon?.series { _ = try IntensitySeries(series) }
        } catch {
            throw .invalid("carbon: \(error)")
        }
        if let base64 = request.commandBase64, base64.count != request.command.count {
            throw .invalid("command_base64 must have one entry per word of command")
        }
        // Any command the kernel accepts is measured; what is stored of it is bounded, and the report says so.
        let recorded = RecordedCommand(
            text: request.command, base64: request.commandBase64, truncatedFrom: request.commandWords
        ).truncated()
        request.command = recorded.text
        request.commandBase64 = recorded.base64
        request.commandWords = recorded.truncatedFrom
        if let labels = request.labels,
            labels.count > 64 || labels.contains(where: { $0.key.count > 128 || $0.value.count > 1024 })
        {
            throw .invalid("at most 64 labels, keys up to 128 and values up to 1024 characters")
        }
        if let name = request.startAtMark {
            do throws(MarkError) {
                _ = try Mark.name(name)
            } catch {
                throw .invalid("start_at_mark: \(error)")
            }
        }
        var process: ProcessIdentity?
        if let claimed = request.pid {
            let pid = Self.resolve(claimed, peer: identity.pid)
            // The job's process decides its liveness and its GPUs: it must exist, and be the caller's own.
            guard let found = ProcessIdentity.of(pid), let owner = ProcessIdentity.owner(of: pid) else {
                throw .invalid("no process \(pid): register the job with your own pid (the wrapper does), or none")
            }
            guard owner == identity.uid || caller.isAdmin else { throw .notYourProcess(pid) }
            process = found
        }
        if let cgroup = request.cgroup {
            guard CgroupV2.isPlausible(cgroup) else {
                throw .invalid("cgroup: an absolute path under the cgroup v2 root, without '..' or control characters")
            }
            guard caller.isAdmin || ownsWholly(cgroup, uid: identity.uid) else {
                throw .invalid(
                    "cgroup: only root or an admin may name a job's cgroup, unless every process in it is yours and "
                        + "it has no child cgroups (a running server of yours: sustain-measure attach)")
            }
        }
        guard jobs.count < Self.maximumOpenJobs else { throw .unavailable("too many open jobs") }
        if !caller.isAdmin {
            let own = jobs.values.count { $0.identity.uid == identity.uid }
            guard own < limits.maxOpenJobsPerUser else {
                throw .tooMany(
                    "you have \(own) open jobs, the most one user may have ([daemon] max_open_jobs_per_user): "
                        + "stop some first")
            }
        }
        let id = Report.newID()
        // Power limits before the first reading: the job's window is the job as capped.
        try applyPowerLimits(request.powerLimits ?? [], for: id, caller: caller, owner: identity)
        let tuning: (session: PowerTuningSession, original: Double?)?
        do throws(JobError) {
            tuning = try tuningSession(
                request.powerTuning, caller: caller, limits: request.powerLimits ?? [], job: request.labels?["job"])
            try applyInitialTuning(tuning?.session, for: id, caller: caller)
        } catch {
            _ = power?.release(id)
            _ = power?.release(Self.tunerHolder(id))
            throw error
        }
        // A fresh reading of every channel: the job's start is exact to the reading, and is its started_at.
        guard let checkpoint = sampler.checkpointNow() else {
            _ = power?.release(id)
            _ = power?.release(Self.tunerHolder(id))
            throw .unavailable("the sampler has not taken a sample yet")
        }
        var job = Job(
            id: id, identity: identity, start: request, startedAt: wallClock(of: checkpoint.instant),
            checkpoint: checkpoint,
            process: process)
        job.countedIn = slurmPrimary(of: request, for: identity)?.id
        job.tuning = tuning?.session
        job.tuningOriginal = tuning?.original
        watch(&job)
        attach(&job, at: checkpoint)
        job.overlapping = jobs.count
        for other in jobs.keys { jobs[other]?.overlapping += 1 }
        jobs[id] = job
        persist(job)
        logger.info("job started", metadata: ["id": "\(id)", "uid": "\(identity.uid)", "pid": "\(request.pid ?? 0)"])
        return running(job)
    }

    /// Closes a job and returns its report, which is also logged to the store.
    public func stop(_ id: String, _ request: JobStop, by identity: Identity) throws(JobError) -> Report {
        guard let job = jobs[id] else {
            if pending.contains(where: { $0.id == id }) || (try? store.job(id: id)) != nil { throw .alreadyStopped(id) }
            throw .notFound(id)
        }
        guard job.identity.uid == identity.uid || identity.isAdmin else { throw .forbidden(id) }
        if let units = request.units { try Self.check(units) }
        jobs[id] = nil
        // The window ends when the command ended, when the wrapper says when (a stop delayed by a flood of marks
        // does not stretch it); never before the job's last mark or start, never after now.
        let end = request.endedAtMonotonic.flatMap { nanoseconds -> SamplerCheckpoint? in
            let floor = max(job.checkpoint.instant, job.phases?.lastInstant ?? job.checkpoint.instant)
            return sampler.checkpoint(
                resolving: max(floor, MonotonicInstant(nanoseconds: nanoseconds)), promptness: Sampler.stopPromptness)?
                .checkpoint
        }
        let shed = request.marksShed.flatMap { $0 > 0 ? $0 : nil }
        return finish(
            job, request, state: "finished", end: end,
            warnings: shed.map {
                [
                    "\($0) phase mark(s) were shed by the wrapper: they came faster than it could relay them to the "
                        + "service (the job's window and total are unaffected; its phases miss those marks)."
                ]
            } ?? [])
    }

    /// Takes a running job's phase marks, each at its instant (`at`: when the wrapper read it; else now). Only the
    /// owner or an admin may mark it.
    public func mark(_ id: String, _ lines: [String], at instants: [UInt64]? = nil, by identity: Identity)
        throws(JobError) -> Int
    {
        guard var job = jobs[id] else {
            if pending.contains(where: { $0.id == id }) || (try? store.job(id: id)) != nil { throw .alreadyStopped(id) }
            throw .notFound(id)
        }
        guard job.identity.uid == identity.uid || identity.isAdmin else { throw .forbidden(id) }
        guard lines.count <= JobMarks.maximumPerRequest else {
            throw .invalid("at most \(JobMarks.maximumPerRequest) marks in one request")
        }
        let log = job.phases ?? PhaseLog(sampler: sampler, first: job.checkpoint)
        if job.phases == nil {
            job.phases = log
            jobs[id] = job
        }
        if let instants {
            guard instants.count == lines.count else {
                throw .invalid("at must give one instant per mark (\(lines.count) marks, \(instants.count) instants)")
            }
            for (line, instant) in zip(lines, instants) {
                let placed = log.record(Array(line.utf8), at: MonotonicInstant(nanoseconds: instant))
                if let placed, job.tuning != nil { tune(job, placed.mark, at: placed.at) }
            }
        } else {
            for line in lines {
                let placed = log.record(Array(line.utf8))
                if let placed, job.tuning != nil { tune(job, placed.mark, at: placed.at) }
            }
        }
        return lines.count
    }

    /// A running job, if `identity` may see it.
    public func running(_ id: String, by identity: Identity) throws(JobError) -> RunningJob? {
        guard let job = jobs[id] else { return nil }
        guard job.identity.uid == identity.uid || identity.isAdmin else { throw .forbidden(id) }
        return running(job)
    }

    /// Running jobs that `identity` may see.
    public func runningJobs(by identity: Identity) -> [RunningJob] {
        jobs.values.filter { $0.identity.uid == identity.uid || identity.isAdmin }.sorted {
            $0.startedAt < $1.startedAt
        }
        .map(running)
    }

    /// The pid a client names, in the daemon's pid namespace. A client in a container (a child pid namespace)
    /// names itself by its container pid; the kernel gives the daemon its host pid (SO_PEERCRED), and the peer's
    /// `NSpid` line ties the two.
    static func resolve(_ claimed: Int32, peer: Int32) -> Int32 {
        guard claimed != peer, peer > 0 else { return claimed }
        let pids = ProcessIdentity.namespacePids(of: peer)
        return pids.count > 1 && pids.last == claimed ? peer : claimed
    }

    /// Watches the job's process tree for GPU use, and reads its CUDA_VISIBLE_DEVICES. A job observing a server's
    /// cgroup (attach) watches the server's first process instead, charged only the GPUs the server ran on.
    func watch(_ job: inout Job) {
        if job.start.observe == true, let cgroup = job.start.cgroup, let mount = attributor.mount,
            let first = CgroupV2.firstProcess(mount: mount, path: cgroup)
        {
            job.attribution = JobAttribution(root: first, visibleDevices: nil, processesOnly: true)
            sampler.watch(jobRoot: first)
            return
        }
        guard let process = job.process else { return }
        job.attribution = JobAttribution(
            root: process.pid,
            visibleDevices: ProcessIdentity.environmentVariable("CUDA_VISIBLE_DEVICES", of: process.pid),
            processesOnly: job.start.observe == true)
        sampler.watch(jobRoot: process.pid)
    }

    func persist(_ job: Job) {
        guard storeFileIsCurrent() else { return }
        persistOpen(job)
    }

    /// Writes an open job's start to the store as it is now.
    func persistOpen(_ job: Job) {
        do {
            try store.saveOpen(try OpenJobRecord(job))
            storeWorked()
        } catch {
            storeFailed(error, doing: "persist open job \(job.id)")
            logger.error(
                "cannot persist open job: it is measured, but a daemon crash would lose it",
                metadata: ["id": "\(job.id)", "error": "\(error)"])
        }
    }

    private func running(_ job: Job) -> RunningJob {
        let energy = sampler.checkpoint().map {
            sampler.measurement(from: job.checkpoint, to: $0, job: job.attribution).countedEnergy?.value
        }
        return RunningJob(
            id: job.id, state: "running", uid: job.identity.uid, user: job.identity.user, command: job.start.command,
            pid: job.start.pid, labels: job.start.labels ?? [:], startedAt: job.startedAt, joules: energy ?? nil)
    }

    func finish(
        _ job: Job, _ request: JobStop, state: String, end: SamplerCheckpoint? = nil, endedAt: Date? = nil,
        warnings: [String] = []
    ) -> Report {
        // A fresh reading at the stop, unless the end is given (a restart's last checkpoint): ended_at is its instant.
        let end = end ?? sampler.checkpointNow() ?? job.checkpoint
        attributor.step(to: end)
        let ledger = attributor.remove(job: job.id)
        let control = releasePowerLimits(of: job)
        let profileNote = saveTuningProfile(of: job)
        // ended_at is started_at plus the monotonic time between the two readings: two separate wall-clock
        // conversions would each carry the scheduling delay between reading the clocks (seen 36 ms under load).
        let endedAt = endedAt ?? job.startedAt.addingTimeInterval(job.checkpoint.instant.seconds(to: end.instant))
        // --start-at-mark: the window starts at the job's first `begin NAME`, when it came.
        let markName = job.start.startAtMark
        let markStart = markName.flatMap { job.phases?.firstBegin(of: $0) }
        var measurement = sampler.measurement(from: markStart ?? job.checkpoint, to: end, job: job.attribution)
        measurement.timeline = sampler.timeline(from: markStart ?? job.checkpoint, to: end)
        if let root = job.attribution?.root { releaseGPUWatch(of: root) }
        let facts = JobFacts(
            id: job.id, command: job.start.recorded, exitCode: request.signal == nil ? request.exitCode : nil,
            signal: request.signal, signalsReceived: request.signalsReceived ?? [],
            interrupted: request.interrupted ?? false, startedAt: job.startedAt, endedAt: endedAt,
            host: Report.Host.current())
        var settings = carbon
        var earlyWarnings: [String] = []
        do {
            settings = try carbonSettings(for: job.start.carbon)
        } catch {
            earlyWarnings.append(
                "The job's carbon options no longer resolve (\(error)): the service's settings were used.")
        }
        let attribution = attributionSection(ledger, note: job.attributionNote, carbon: settings)
        if measurement.timeline == nil, measurement.countedEnergy != nil {
            earlyWarnings.append(
                "No power timeline: the service keeps the machine's power for the last "
                    + "\(Self.timelineSeconds / 3600) h, and this job started before that (or before the service).")
        }
        let (series, seriesWarning) = intensitySeries(for: job)
        var report = Report.assemble(
            FinishedJob(
                facts: facts, measurement: measurement, sources: sources, carbon: settings,
                phases: job.phases?.finish(at: end),
                startMark: markName.map { ($0, markStart.flatMap { job.phases?.offset(of: $0) }) },
                series: series, seriesWarning: seriesWarning, attribution: attribution.section,
                labels: job.start.labels ?? [:], powerControl: control.records,
                powerTuning: job.tuning?.report(originalWatts: job.tuningOriginal),
                container: job.container?.labels,
                lastWarnings: earlyWarnings + control.notes + profileNote + attribution.warnings))
        report.owner = Report.Owner(uid: job.identity.uid, user: job.identity.user, pid: job.start.pid)
        report.measuredBy = "sustain-measured"
        report.gaps = job.gaps
        report.overlappingJobs = job.overlapping
        if let primary = job.countedIn {
            report.countedIn = primary
            report.warnings.append(
                "Another registration of SLURM job \(job.start.labels?["slurm_job_id"] ?? "") on this node (\(primary), "
                    + "by the same user) already counts the node's energy during this one: counted_in names it. Sum "
                    + "a SLURM job's energy over the reports without counted_in; this report keeps its own phases.")
        }
        report.warnings += job.gaps.map(gapWarning) + warnings
        if job.start.observe == true || request.units != nil { attached(request.units, to: &report) }
        if job.overlapping > 0 {
            report.warnings.append(
                "\(job.overlapping) other job(s) ran on this machine during this one: its energy is the machine's "
                    + "during its window (CPU packages, memory and the counted devices), shared with them, not this "
                    + "job's alone; GPUs are charged by which job's processes ran on them.")
        }
        keepCounter(of: job, report: report)  // the report's own carbon, at the intensity over time
        record(&report, identity: job.identity, state: state)
        // A job's marks can have made a lot of short-lived memory (a flood is bounded, not free): give it back.
        if job.phases != nil { releaseFreeMemory() }
        let command = job.start.command.joined(separator: " ")
        logger.info(
            "job \(state)",
            metadata: [
                "id": "\(job.id)", "uid": "\(job.identity.uid)", "user": "\(job.identity.user)",
                "command": "\(command)",
                "exit_code": "\(report.exitCode.map(String.init) ?? "null")",
                "joules": "\(report.energy.joules.map { String($0) } ?? "null")",
                "kg_co2e": "\(report.carbon.kgCo2e.map { String($0) } ?? "null")",
                "labels": "\(report.labels)",
            ])
        return report
    }
}
