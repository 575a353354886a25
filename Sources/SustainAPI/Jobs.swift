import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `POST /v1/jobs`: what a client says when it starts a job.
public struct JobStart: Codable, Sendable, Equatable {
    public var command: [String]
    /// Every word's bytes in base64, when some word is not UTF-8.
    public var commandBase64: [String]?
    /// How many words the command had, when `command` holds only the first.
    public var commandWords: Int?
    /// The process whose tree is the job (the wrapper's own pid); it must be the caller's.
    public var pid: Int32?
    public var labels: [String: String]?
    /// How this job's energy becomes carbon and cost, when the user chose (flags); else the service's settings.
    public var carbon: CarbonRequest?
    /// Count only from the job's first `begin` of this phase (like `perf stat --delay`); the whole job when it never
    /// comes. The report says which.
    public var startAtMark: String?
    /// The job's cgroup v2, relative to the hierarchy's root (a SLURM job's, a container's); admins, or a user
    /// whose processes are all that is in it. Else the cgroup of `pid`.
    public var cgroup: String?
    /// `sustain-measure attach`: the job observes its cgroup (a running server's): its report is told the cgroup's
    /// whole attributed share, and takes none of it from the jobs and watches in it (nor from the totals).
    public var observe: Bool?
    /// The user the job belongs to, when root or an admin registers it for them (a SLURM prolog); else the caller.
    public var uid: UInt32?
    /// Power limits for the job's duration (root, or a member of `[control] groups`): set before the job's window
    /// opens, put back when it ends, however it ends.
    public var powerLimits: [PowerLimitRequest]?
    /// The job's power limit tuned over its steps (the same people).
    public var powerTuning: PowerTuningRequest?

    public init(
        command: [String], commandBase64: [String]? = nil, commandWords: Int? = nil, pid: Int32? = nil,
        labels: [String: String]? = nil, carbon: CarbonRequest? = nil, startAtMark: String? = nil,
        cgroup: String? = nil, uid: UInt32? = nil, powerLimits: [PowerLimitRequest]? = nil,
        powerTuning: PowerTuningRequest? = nil, observe: Bool? = nil
    ) {
        self.observe = observe
        self.command = command
        self.commandBase64 = commandBase64
        self.commandWords = commandWords
        self.pid = pid
        self.labels = labels
        self.carbon = carbon
        self.startAtMark = startAtMark
        self.cgroup = cgroup
        self.uid = uid
        self.powerLimits = powerLimits
        self.powerTuning = powerTuning
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case command
        case commandBase64 = "command_base64"
        case commandWords = "command_words"
        case pid, labels, carbon
        case startAtMark = "start_at_mark"
        case cgroup, uid
        case powerLimits = "power_limits"
        case powerTuning = "power_tuning"
        case observe
    }

    /// The fields the service accepts; any other is refused (a misspelt field is an error, not ignored).
    public static let fields = Set(CodingKeys.allCases.map(\.rawValue))
}

/// A power limit a job asks for: every CPU package's long-term RAPL limit (`cpu`) or every GPU's power limit
/// (`gpu`, the job's GPUs when it names them with `gpus`), in watts.
public struct PowerLimitRequest: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable { case cpu, gpu }
    public var device: Kind
    public var watts: Double
    /// GPU indices (NVML's), when not every GPU.
    public var gpus: [Int]?

    public init(device: Kind, watts: Double, gpus: [Int]? = nil) {
        self.device = device
        self.watts = watts
        self.gpus = gpus
    }
}

/// `--tune-power`: the job's power limit tuned over its own steps (each `end NAME` or `event NAME` of `step_mark`),
/// chosen by `objective` and held for the rest of the job.
public struct PowerTuningRequest: Codable, Sendable, Equatable {
    public var device: PowerLimitRequest.Kind
    public var stepMark: String
    /// `energy`, `time`, `cost[:ETA]` or `slowdown:F`.
    public var objective: String
    /// The candidates' spacing, from the maximum down (default 25 W).
    public var stepWatts: Double?

    public static let defaultStep = 25.0
    public static let defaultObjective = "cost"

    public init(device: PowerLimitRequest.Kind, stepMark: String, objective: String, stepWatts: Double? = nil) {
        self.device = device
        self.stepMark = stepMark
        self.objective = objective
        self.stepWatts = stepWatts
    }

    enum CodingKeys: String, CodingKey {
        case device
        case stepMark = "step_mark"
        case objective
        case stepWatts = "step_watts"
    }

    /// The objective, or why it is not one.
    public func parsedObjective() throws(PowerLimitError) -> PowerTuner.Objective {
        guard let objective = PowerTuner.Objective(objective) else {
            throw PowerLimitError(
                "--objective must be energy, time, cost, cost:ETA (0 to 1) or slowdown:F (F ≥ 1), got \(objective)")
        }
        return objective
    }
}

/// The carbon and cost options a user gave for one job; the service computes the job's one carbon figure with
/// them (over its own configuration), and stores that figure.
public struct CarbonRequest: Codable, Sendable, Equatable {
    public var region: String?
    /// gCO2e/kWh.
    public var intensity: Double?
    /// "lifecycle" | "direct".
    public var intensityBasis: String?
    public var pue: Double?
    /// Per kWh, in `currency`.
    public var price: Double?
    public var currency: String?
    /// The grid's intensity over time the user gave (`--intensity-series` or their configuration): the service
    /// charges the job's energy at it, instead of its own configured series.
    public var series: SeriesRequest?

    public init(
        region: String? = nil, intensity: Double? = nil, intensityBasis: String? = nil, pue: Double? = nil,
        price: Double? = nil, currency: String? = nil, series: SeriesRequest? = nil
    ) {
        self.region = region
        self.intensity = intensity
        self.intensityBasis = intensityBasis
        self.pue = pue
        self.price = price
        self.currency = currency
        self.series = series
    }

    public var isEmpty: Bool {
        region == nil && intensity == nil && intensityBasis == nil && pue == nil && price == nil && currency == nil
            && series == nil
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case region, intensity
        case intensityBasis = "intensity_basis"
        case pue, price, currency, series
    }

    public static let fields = Set(CodingKeys.allCases.map(\.rawValue))
}

/// A grid intensity series sent with a job: its periods from the job's start on (the wrapper keeps no more), at
/// most `maximumPoints` of them, each `[start, end, g/kWh, forecast]` (seconds since 1970; forecast 1 or 0).
public struct SeriesRequest: Codable, Sendable, Equatable {
    public var provider: String
    public var zone: String
    /// "lifecycle" | "direct" | "marginal".
    public var basis: String
    public var attribution: String
    public var fetchedAt: Double?
    public var points: [[Double]]
    /// Periods left out after the first `maximumPoints`.
    public var truncated: Int?

    /// The most periods sent (about 450 KB of JSON; a request is at most 1 MiB).
    public static let maximumPoints = 10_000

    public init(
        provider: String, zone: String, basis: String, attribution: String, fetchedAt: Double?, points: [[Double]],
        truncated: Int?
    ) {
        self.provider = provider
        self.zone = zone
        self.basis = basis
        self.attribution = attribution
        self.fetchedAt = fetchedAt
        self.points = points
        self.truncated = truncated
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case provider, zone, basis, attribution
        case fetchedAt = "fetched_at"
        case points, truncated
    }
}

/// `POST /v1/jobs/{id}/marks`: phase marks of a running job, one line each (`begin NAME`, `end NAME units=N
/// unit=WORD`, `event NAME`), as the job wrote them to `SUSTAIN_MARKS`. Only its owner (or an admin) may mark it.
/// `at`, when given, holds each mark's instant (CLOCK_MONOTONIC nanoseconds, when the wrapper read it): the
/// service places a mark relayed late at that instant between its readings, never later than it arrived.
public struct JobMarks: Codable, Sendable, Equatable {
    public var marks: [String]
    public var at: [UInt64]?
    public init(marks: [String], at: [UInt64]? = nil) {
        self.marks = marks
        self.at = at
    }
    enum CodingKeys: String, CodingKey, CaseIterable { case marks, at }
    public static let fields = Set(CodingKeys.allCases.map(\.rawValue))
    /// The most marks in one request.
    public static let maximumPerRequest = 1000
}

/// The answer to `JobMarks`: how many were taken (malformed ones are counted in the report's warnings).
public struct MarksAccepted: Codable, Sendable, Equatable {
    public var accepted: Int
    public init(accepted: Int) { self.accepted = accepted }
}

/// `POST /v1/jobs/{id}/stop`: what a client says when its job ends.
public struct JobStop: Codable, Sendable, Equatable {
    public var exitCode: Int32?
    public var signal: Int32?
    public var signalsReceived: [String]?
    public var interrupted: Bool?
    /// When the command ended (CLOCK_MONOTONIC nanoseconds, taken by the wrapper as it reaped the child): the
    /// job's window ends there however late this request arrives (after a flood of marks, say).
    public var endedAtMonotonic: UInt64?
    /// Marks the wrapper could not relay (its queue was full, or the last ones missed the deadline at the end).
    public var marksShed: Int?
    /// `sustain-measure attach`: the units of work the server served in the window, as the client counted them.
    public var units: UnitsServed?

    public init(
        exitCode: Int32? = nil, signal: Int32? = nil, signalsReceived: [String]? = nil, interrupted: Bool? = nil,
        endedAtMonotonic: UInt64? = nil, marksShed: Int? = nil, units: UnitsServed? = nil
    ) {
        self.exitCode = exitCode
        self.signal = signal
        self.signalsReceived = signalsReceived
        self.interrupted = interrupted
        self.endedAtMonotonic = endedAtMonotonic
        self.marksShed = marksShed
        self.units = units
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case exitCode = "exit_code"
        case signal
        case signalsReceived = "signals_received"
        case interrupted
        case endedAtMonotonic = "ended_at_monotonic_ns"
        case marksShed = "marks_shed"
        case units
    }

    public static let fields = Set(CodingKeys.allCases.map(\.rawValue))
}

/// The units of work a server served over a window, as `sustain-measure attach` counted them from the server's own
/// counter: the service charges them the window's energy (J per unit, g per unit, SCI).
public struct UnitsServed: Codable, Sendable, Equatable {
    /// Nil when they could not be counted (`missing` says why).
    public var count: Double?
    public var unit: String
    /// Where they came from (`scrape URL METRIC`).
    public var source: String
    public var missing: [String]

    public init(count: Double?, unit: String, source: String, missing: [String] = []) {
        self.count = count
        self.unit = unit
        self.source = source
        self.missing = missing
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case count, unit, source, missing }
    public static let fields = Set(CodingKeys.allCases.map(\.rawValue))
}

/// A running job, as `POST /v1/jobs` and `GET /v1/jobs/{id}` show it.
public struct RunningJob: Codable, Sendable, Equatable {
    public var id: String
    public var state: String
    public var uid: UInt32
    public var user: String
    public var command: [String]
    public var pid: Int32?
    public var labels: [String: String]
    public var startedAt: Date
    /// Counted energy so far.
    public var joules: Double?

    public init(
        id: String, state: String, uid: UInt32, user: String, command: [String], pid: Int32?,
        labels: [String: String], startedAt: Date, joules: Double?
    ) {
        self.id = id
        self.state = state
        self.uid = uid
        self.user = user
        self.command = command
        self.pid = pid
        self.labels = labels
        self.startedAt = startedAt
        self.joules = joules
    }

    enum CodingKeys: String, CodingKey {
        case id, state, uid, user, command, pid, labels
        case startedAt = "started_at"
        case joules
    }
}

/// A job in a listing, running or finished (the full report is at `/v1/jobs/{id}`); `report export --format json`
/// writes these out as they are.
public struct JobSummary: Codable, Sendable, Equatable {
    public var id: String
    public var uid: Int64
    public var user: String
    public var command: [String]
    public var startedAt: Date
    /// Nil while the job runs.
    public var endedAt: Date?
    public var exitCode: Int64?
    public var joules: Double?
    public var kgCo2e: Double?
    public var labels: [String: String]
    /// "running" | "finished" | "incomplete".
    public var state: String

    public init(
        id: String, uid: Int64, user: String, command: [String], startedAt: Date, endedAt: Date?, exitCode: Int64?,
        joules: Double?, kgCo2e: Double?, labels: [String: String], state: String
    ) {
        self.id = id
        self.uid = uid
        self.user = user
        self.command = command
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.exitCode = exitCode
        self.joules = joules
        self.kgCo2e = kgCo2e
        self.labels = labels
        self.state = state
    }

    enum CodingKeys: String, CodingKey {
        case id, uid, user, command
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case exitCode = "exit_code"
        case joules
        case kgCo2e = "kg_co2e"
        case labels, state
    }
}

extension JobSummary {
    /// A running job as a listing row: no end, exit code or carbon yet.
    public init(_ job: RunningJob) {
        self.init(
            id: job.id, uid: Int64(job.uid), user: job.user, command: job.command, startedAt: job.startedAt,
            endedAt: nil, exitCode: nil, joules: job.joules, kgCo2e: nil, labels: job.labels, state: job.state)
    }
}

/// `GET /v1/jobs`.
public struct JobList: Codable, Sendable, Equatable {
    public var running: [RunningJob]
    public var finished: [JobSummary]

    public init(running: [RunningJob], finished: [JobSummary]) {
        self.running = running
        self.finished = finished
    }
}

/// `GET /v1/health`.
public struct Health: Codable, Sendable, Equatable {
    /// "ok", or "degraded" while the store fails (answered with 503).
    public var status: String
    public var openJobs: Int
    public var intervalSeconds: Double
    /// "ok", or "failing: REASON".
    public var store: String
    /// Finished jobs kept in memory until the store takes them.
    public var pendingJobs: Int

    public init(status: String, openJobs: Int, intervalSeconds: Double, store: String, pendingJobs: Int) {
        self.status = status
        self.openJobs = openJobs
        self.intervalSeconds = intervalSeconds
        self.store = store
        self.pendingJobs = pendingJobs
    }

    enum CodingKeys: String, CodingKey {
        case status
        case openJobs = "open_jobs"
        case intervalSeconds = "interval_seconds"
        case store
        case pendingJobs = "pending_jobs"
    }
}

/// Every error answer: `{"error": "..."}`.
public struct APIErrorBody: Codable, Sendable, Equatable {
    public var error: String
    public init(error: String) { self.error = error }
}

/// `GET /v1/snapshot`: power and energy per domain now, from the service's running totals.
public struct Snapshot: Codable, Sendable, Equatable {
    public struct Domain: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var kind: String
        public var source: String
        public var counted: Bool
        public var watts: Double
        public var joulesSinceStart: Double

        public init(
            id: String, name: String, kind: String, source: String, counted: Bool, watts: Double,
            joulesSinceStart: Double
        ) {
            self.id = id
            self.name = name
            self.kind = kind
            self.source = source
            self.counted = counted
            self.watts = watts
            self.joulesSinceStart = joulesSinceStart
        }

        enum CodingKeys: String, CodingKey {
            case id, name, kind, source, counted, watts
            case joulesSinceStart = "joules_since_start"
        }
    }

    public var domains: [Domain]
    public var countedWatts: Double

    public init(domains: [Domain]) {
        self.domains = domains
        countedWatts = domains.filter(\.counted).reduce(0) { $0 + $1.watts }
    }

    enum CodingKeys: String, CodingKey {
        case domains
        case countedWatts = "counted_watts"
    }
}

/// `GET /v1/attribution`: how the machine's counted CPU-side energy since the service started was shared among
/// jobs by their cgroups' CPU time, and what was left: `Σ open + finished + unattributed = machine`.
public struct AttributionView: Codable, Sendable, Equatable {
    public struct Job: Codable, Sendable, Equatable {
        public var id: String
        public var user: String
        public var cgroup: String
        public var joules: Double
        /// Of the machine's energy during the job.
        public var share: Double?

        public init(id: String, user: String, cgroup: String, joules: Double, share: Double?) {
            self.id = id
            self.user = user
            self.cgroup = cgroup
            self.joules = joules
            self.share = share
        }
    }

    /// A watched server (`[[watch]]`): its attributed CPU-side energy since the service started watching it.
    public struct Watch: Codable, Sendable, Equatable {
        public var name: String
        /// Its cgroup now; nil while it cannot be found (`missing` says why).
        public var cgroup: String?
        public var joules: Double
        public var missing: String?

        public init(name: String, cgroup: String?, joules: Double, missing: String?) {
            self.name = name
            self.cgroup = cgroup
            self.joules = joules
            self.missing = missing
        }
    }

    public var method: String
    public var available: Bool
    public var reason: String?
    public var idlePolicy: String
    public var sinceSeconds: Double?
    public var machineJoules: Double
    public var openJobs: [Job]
    /// Watched servers (visible to root and admins); nil from a service without watches.
    public var watches: [Watch]?
    /// Finished jobs' attributed energy (and that of watches no longer configured).
    public var finishedJobsJoules: Double
    public var unattributedJoules: Double
    /// (Σ attributed + unattributed − machine) ÷ machine.
    public var conservationError: Double?
    /// Each domain's idle baseline (the lowest power seen over a second), in watts.
    public var baselineWatts: [String: Double]

    public init(
        method: String, available: Bool, reason: String?, idlePolicy: String, sinceSeconds: Double?,
        machineJoules: Double, openJobs: [Job], watches: [Watch]? = nil, finishedJobsJoules: Double,
        unattributedJoules: Double, conservationError: Double?, baselineWatts: [String: Double]
    ) {
        self.method = method
        self.available = available
        self.reason = reason
        self.idlePolicy = idlePolicy
        self.sinceSeconds = sinceSeconds
        self.machineJoules = machineJoules
        self.openJobs = openJobs
        self.watches = watches
        self.finishedJobsJoules = finishedJobsJoules
        self.unattributedJoules = unattributedJoules
        self.conservationError = conservationError
        self.baselineWatts = baselineWatts
    }

    enum CodingKeys: String, CodingKey {
        case method, available, reason
        case idlePolicy = "idle_policy"
        case sinceSeconds = "since_seconds"
        case machineJoules = "machine_joules"
        case openJobs = "open_jobs"
        case watches
        case finishedJobsJoules = "finished_jobs_joules"
        case unattributedJoules = "unattributed_joules"
        case conservationError = "conservation_error"
        case baselineWatts = "baseline_watts"
    }
}

/// `GET /v1/attribution?from=&to=`: the machine's attributed-domain energy over a time range, in whole minutes,
/// shared among the jobs that ran in it, and the remainder. A user sees their own jobs by id; other users' jobs
/// are one sum (`other_users_joules`), so the parts still add up for everyone.
public struct AttributionRange: Codable, Sendable, Equatable {
    public struct Job: Codable, Sendable, Equatable {
        public var id: String
        public var joules: Double
        /// Of the machine's energy over the range.
        public var share: Double?

        public init(id: String, joules: Double, share: Double?) {
            self.id = id
            self.joules = joules
            self.share = share
        }
    }

    /// The range actually covered: `from` and `to` widened to whole minutes, within what the service holds.
    public var from: Date
    public var to: Date
    public var minutes: Int
    public var machineJoules: Double
    public var jobs: [Job]
    public var otherUsersJoules: Double
    public var unattributedJoules: Double
    /// (Σ jobs + other users + unattributed − machine) ÷ machine.
    public var conservationError: Double?
    public var note: String

    public init(
        from: Date, to: Date, minutes: Int, machineJoules: Double, jobs: [Job], otherUsersJoules: Double,
        unattributedJoules: Double, conservationError: Double?, note: String
    ) {
        self.from = from
        self.to = to
        self.minutes = minutes
        self.machineJoules = machineJoules
        self.jobs = jobs
        self.otherUsersJoules = otherUsersJoules
        self.unattributedJoules = unattributedJoules
        self.conservationError = conservationError
        self.note = note
    }

    enum CodingKeys: String, CodingKey {
        case from, to, minutes, jobs, note
        case machineJoules = "machine_joules"
        case otherUsersJoules = "other_users_joules"
        case unattributedJoules = "unattributed_joules"
        case conservationError = "conservation_error"
    }
}

/// `POST /v1/watches/{name}/units`: units of work a watched server's application counted itself
/// (`sustain-measure mark count NAME N`, the Python helper's `count()`).
public struct WatchUnitsCount: Codable, Sendable, Equatable {
    public var count: Double
    public init(count: Double) { self.count = count }
    enum CodingKeys: String, CodingKey, CaseIterable { case count }
    public static let fields = Set(CodingKeys.allCases.map(\.rawValue))
}

/// `GET /v1/watches`: each watched server now.
public struct WatchList: Codable, Sendable, Equatable {
    public struct Watch: Codable, Sendable, Equatable {
        public var name: String
        public var target: String
        /// Its cgroup now; nil while it is not found (`missing` says why).
        public var cgroup: String?
        public var missing: String?
        /// Energy (attributed CPU-side share + its GPUs) and emissions since the service started watching it.
        public var joules: Double
        public var gramsCo2e: Double
        /// Units served since then; nil when none is configured or counted yet.
        public var units: Double?
        public var unit: String
        /// Why the last scrape of its units endpoint failed; nil while it answers.
        public var unitsError: String?

        public init(
            name: String, target: String, cgroup: String?, missing: String?, joules: Double, gramsCo2e: Double,
            units: Double?, unit: String, unitsError: String?
        ) {
            self.name = name
            self.target = target
            self.cgroup = cgroup
            self.missing = missing
            self.joules = joules
            self.gramsCo2e = gramsCo2e
            self.units = units
            self.unit = unit
            self.unitsError = unitsError
        }

        enum CodingKeys: String, CodingKey {
            case name, target, cgroup, missing, joules
            case gramsCo2e = "grams_co2e"
            case units, unit
            case unitsError = "units_error"
        }
    }

    public var watches: [Watch]
    public init(watches: [Watch]) { self.watches = watches }
}
