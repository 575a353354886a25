#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The report of one measured job, schema `sustain.report.v1` (documented in the README). JSON keys are the
/// field names in snake case, spelled out in `CodingKeys` (Foundation's key strategies cost a millisecond per
/// report at start-up); a nil field is written as `null` (`@Nullable`), never left out and never 0.
public struct Report: Codable, Sendable, Equatable {
    enum CodingKeys: String, CodingKey {
        case schema, id, command
        case commandBase64 = "command_base64"
        case commandWords = "command_words"
        case exitCode = "exit_code"
        case signal, interrupted
        case signalsReceived = "signals_received"
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case durationSeconds = "duration_seconds"
        case host, energy, power
        case carbon, usage, sampling, temperatures, gpus, sources, warnings, tool, owner, labels
        case measuredBy = "measured_by"
        case gaps
        case overlappingJobs = "overlapping_jobs"
        case countedIn = "counted_in"
        case phases, events
        case phaseTotals = "phase_totals"
        case unphasedJoules = "unphased_joules"
        case timeline, metrics, attribution, nodes
        case missingNodes = "missing_nodes"
        case powerControl = "power_control"
        case powerTuning = "power_tuning"
        case container, watched, units
    }

    public static let schemaVersion = "sustain.report.v1"

    public var schema: String
    public var id: String
    public var command: [String]
    /// Every word of the command in base64, when some word is not UTF-8 (`command` then shows U+FFFD); null
    /// otherwise (`RecordedCommand`).
    @Nullable public var commandBase64: [String]? = nil
    /// How many words the command had, when `command` holds only the first ones; null when it holds them all.
    @Nullable public var commandWords: Int? = nil
    /// The child's exit code; nil when it was killed by a signal.
    @Nullable public var exitCode: Int32?
    /// The signal that killed the child; nil when it exited.
    @Nullable public var signal: Int32?
    /// True when the wrapper received SIGINT, SIGTERM, SIGHUP or SIGQUIT while the job ran.
    public var interrupted: Bool
    /// The signals the wrapper received, by name, in order.
    public var signalsReceived: [String]
    public var startedAt: Date
    public var endedAt: Date
    public var durationSeconds: Double
    public var host: Host
    public var energy: Energy
    public var power: Power
    public var carbon: Carbon
    /// What the command's process tree used, as the kernel accounts it; null when unknown.
    @Nullable public var usage: Usage?
    public var sampling: Sampling
    public var temperatures: [Temperature]
    /// NVIDIA GPUs seen through NVML, counted or not.
    public var gpus: [GPU]
    public var sources: [Source]
    public var warnings: [String]
    public var tool: Tool
    /// Who ran the job, when the daemon measured it; null for the wrapper alone.
    @Nullable public var owner: Owner?
    /// Labels the job was started with (a SLURM job id, …).
    public var labels: [String: String] = [:]
    /// "sustain-measure" (the wrapper sampled) or "sustain-measured" (the service sampled).
    public var measuredBy: String = "sustain-measure"
    /// Times the daemon was not sampling while the job ran (it crashed or was restarted), and what was recovered;
    /// null when the wrapper measured the job alone.
    @Nullable public var gaps: [Gap]? = nil
    /// Other jobs the service measured on this machine while this one ran (their windows overlapped); null for
    /// the wrapper alone. The measured energy is the machine's during the window, shared with them.
    @Nullable public var overlappingJobs: Int? = nil
    /// Service only: another registration of the same SLURM job on this node (by the same user) whose report
    /// already counts the node's energy during this one: a rank's `srun sustain-measure` inside a job the prolog
    /// registered. Sum a SLURM job's energy over the reports where this is null.
    @Nullable public var countedIn: String? = nil
    /// The phases the job marked, in the order they ended (`Report.Phase`); empty when it marked none.
    public var phases: [Phase] = []
    /// The instants the job marked.
    public var events: [Event] = []
    /// Every phase name's totals.
    public var phaseTotals: [PhaseTotal] = []
    /// Counted energy outside every top-level phase; null when no phase was marked. The top-level phases plus this
    /// are the job's total.
    @Nullable public var unphasedJoules: Double? = nil
    /// Power over the job in bounded buckets; null when no counted domain was sampled.
    @Nullable public var timeline: Timeline? = nil
    /// Quality metrics of the run (`--metric NAME=VALUE`, or `metric NAME=VALUE` from the job); null when none.
    @Nullable public var metrics: [String: Double]? = nil
    /// The power limits set for the job (`--cpu-power-limit`): what each was, what it was set to, when, and when
    /// it was put back; nil when none was set.
    @Nullable public var powerControl: [PowerControl]? = nil
    /// `--tune-power`: the candidates profiled over the job's own steps, the choice, and what it is predicted to save.
    @Nullable public var powerTuning: PowerTuning? = nil
    /// The container or Kubernetes pod the job ran in, from its cgroup path alone: `container_runtime`,
    /// `container_id`, `pod_uid`, `qos_class`, `cgroup_driver` (each when known); null outside one.
    @Nullable public var container: [String: String]? = nil
    /// A watched server's report (a `[[watch]]` period, `attach`): which server, and over what; null for a job.
    @Nullable public var watched: Watched? = nil
    /// The server's unit of work over the window and its cost per unit (J, g CO2e, SCI); null for a job.
    @Nullable public var units: Units? = nil
    /// A merged multi-node report (`report merge`): each node's part; null for one node's report.
    @Nullable public var nodes: [Node]? = nil
    /// With `--nodes`: the nodes of the job that sent no report (the total is then incomplete); null otherwise.
    @Nullable public var missingNodes: [String]? = nil

    /// One node's part of a merged report.
    public struct Node: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case host, id, joules, domains, region
            case kgCo2e = "kg_co2e"
            case intensityGPerKwh = "intensity_g_per_kwh"
            case startedAt = "started_at"
            case endedAt = "ended_at"
        }
        public var host: String
        /// The node's own report id.
        public var id: String
        @Nullable public var joules: Double?
        /// The node's counted domains' energy, by domain id.
        public var domains: [String: Double]
        @Nullable public var region: String?
        @Nullable public var kgCo2e: Double?
        public var intensityGPerKwh: Double
        public var startedAt: Date
        public var endedAt: Date
    }

    /// Service only, on a shared machine: this job's attributed share of the machine's energy; null when not
    /// attributed (the warnings say why).
    @Nullable public var attribution: Attribution? = nil

    /// What a job is attributed of the machine's energy: a model, not a measurement.
    public struct Attribution: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case method, joules, share, domains
            case idleJoules = "idle_joules"
            case idlePolicy = "idle_policy"
            case machineJoules = "machine_joules"
            case cgroup
            case kgCo2e = "kg_co2e"
            case note
        }
        public var method: String
        public var joules: Double
        @Nullable public var share: Double?
        public var domains: [String: Double]
        public var idleJoules: Double
        public var idlePolicy: String
        public var machineJoules: Double
        public var cgroup: String
        @Nullable public var kgCo2e: Double?
        public var note: String

        public init(
            method: String, joules: Double, share: Double?, domains: [String: Double], idleJoules: Double,
            idlePolicy: String, machineJoules: Double, cgroup: String, kgCo2e: Double?, note: String
        ) {
            self.method = method
            self.joules = joules
            self.share = share
            self.domains = domains
            self.idleJoules = idleJoules
            self.idlePolicy = idlePolicy
            self.machineJoules = machineJoules
            self.cgroup = cgroup
            self.kgCo2e = kgCo2e
            self.note = note
        }
    }

    public struct Host: Codable, Sendable, Equatable {
        public var hostname: String
        public var kernel: String
        public init(hostname: String, kernel: String) {
            self.hostname = hostname
            self.kernel = kernel
        }
    }

    public struct Energy: Codable, Sendable, Equatable {
        /// The counted total; nil when nothing was measured.
        @Nullable public var joules: Double?
        /// "measured" | "estimated" | "none".
        public var method: String
        public var domains: [Domain]
    }

    public struct Domain: Codable, Sendable, Equatable {
        /// "powercap" | "hwmon".
        public var source: String
        /// `intel-rapl:0:2`, `power_meter-acpi-0/power1`.
        public var id: String
        public var name: String
        /// package | core | uncore | dram | psys | platform | gpu | other.
        public var kind: String
        /// Energy measured on this domain; nil when not measured.
        @Nullable public var joules: Double?
        public var counted: Bool
        /// Why it is counted or not.
        public var note: String
        /// "counter" | "power-integration" | "none".
        public var method: String
        public var readable: Bool
        public var path: String
        public var samples: Int
        public var errors: Int
        public var wraps: Int
        public var resets: Int
    }

    public struct Power: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case meanWatts = "mean_watts"
            case peakWatts = "peak_watts"
        }

        @Nullable public var meanWatts: Double?
        @Nullable public var peakWatts: Double?
    }

    /// Emissions, cost and equivalents of the counted energy: kWh at the meter × PUE × grid intensity.
    public struct Carbon: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case kgCo2e = "kg_co2e"
            case intensityGPerKwh = "intensity_g_per_kwh"
            case intensitySource = "intensity_source"
            case intensityBasis = "intensity_basis"
            case region
            case regionCode = "region_code"
            case regionName = "region_name"
            case regionVia = "region_via"
            case resolvedFrom = "resolved_from"
            case pue
            case kwhAtMeter = "kwh_at_meter"
            case kwhFacility = "kwh_facility"
            case cost, equivalents
            case attributedKgCo2e = "attributed_kg_co2e"
            case intensitySeries = "intensity_series"
        }

        /// Nil when nothing was measured.
        @Nullable public var kgCo2e: Double?
        public var intensityGPerKwh: Double
        /// The dataset and year, or "given with --intensity".
        public var intensitySource: String
        /// "lifecycle" | "direct".
        public var intensityBasis: String
        /// The region as given (`aws:eu-west-3`), or `WORLD` for the default; null for a given intensity.
        @Nullable public var region: String?
        /// The dataset row that answered (`FR`), with its name.
        @Nullable public var regionCode: String?
        @Nullable public var regionName: String?
        /// How the region led to that row, when not directly.
        @Nullable public var regionVia: String?
        /// "--intensity" | "--region" | "config" | "default (world average)".
        public var resolvedFrom: String
        public var pue: Double
        @Nullable public var kwhAtMeter: Double?
        @Nullable public var kwhFacility: Double?
        @Nullable public var cost: Cost?
        public var equivalents: [Equivalent]
        /// Service only, on a shared machine: the carbon of the job's attributed energy, beside the measured
        /// figure (`kg_co2e`, the machine's during the job).
        @Nullable public var attributedKgCo2e: Double? = nil
        /// The grid's intensity over time, when a series was given or configured: how much of the energy it
        /// covered and at what intensity. Null when the yearly figure alone was used.
        @Nullable public var intensitySeries: IntensitySeriesUse? = nil
    }

    /// How an intensity series entered `carbon`.
    public struct IntensitySeriesUse: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case provider, zone, basis, attribution
            case fetchedAt = "fetched_at"
            case usedForTotal = "used_for_total"
            case pointsUsed = "points_used"
            case forecastPointsUsed = "forecast_points_used"
            case coverage
            case coveredJoules = "covered_joules"
            case kgCo2eCovered = "kg_co2e_covered"
            case meanGPerKwh = "mean_g_per_kwh"
            case minGPerKwh = "min_g_per_kwh"
            case maxGPerKwh = "max_g_per_kwh"
            case fallbackGPerKwh = "fallback_g_per_kwh"
            case fallbackSource = "fallback_source"
            case slices, note
        }

        public var provider: String
        public var zone: String
        /// "lifecycle" | "direct" | "marginal".
        public var basis: String
        public var attribution: String
        @Nullable public var fetchedAt: Date?
        /// False when the series could not stand in for the yearly figure (a marginal series that covered only
        /// part of the job): `kg_co2e` is then the yearly figure's, and this object the series' own.
        public var usedForTotal: Bool
        public var pointsUsed: Int
        public var forecastPointsUsed: Int
        /// The share of the energy (0–1) drawn while the series had a figure.
        @Nullable public var coverage: Double?
        public var coveredJoules: Double
        /// The covered energy's emissions at the series' intensities, PUE included.
        @Nullable public var kgCo2eCovered: Double?
        /// Energy-weighted over the covered energy.
        @Nullable public var meanGPerKwh: Double?
        @Nullable public var minGPerKwh: Double?
        @Nullable public var maxGPerKwh: Double?
        /// The yearly figure used for the energy the series did not cover.
        public var fallbackGPerKwh: Double
        public var fallbackSource: String
        /// "timeline" (the report's power buckets) or "constant power" (no timeline: the whole job as one slice).
        public var slices: String
        public var note: String
    }

    public struct Cost: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case amount, currency
            case pricePerKwh = "price_per_kwh"
        }

        public var amount: Double
        public var currency: String
        public var pricePerKwh: Double
    }

    public struct Equivalent: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case item, quantity
            case gramsPerItem = "grams_per_item"
            case source
        }

        public var item: String
        public var quantity: Double
        public var gramsPerItem: Double
        public var source: String
    }

    public struct Usage: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case cpuSeconds = "cpu_seconds"
            case userSeconds = "user_seconds"
            case systemSeconds = "system_seconds"
            case maxRssBytes = "max_rss_bytes"
        }

        public var cpuSeconds: Double
        public var userSeconds: Double
        public var systemSeconds: Double
        public var maxRssBytes: UInt64
    }

    public struct Sampling: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case intervalSeconds = "interval_seconds"
            case intervalLimitSeconds = "interval_limit_seconds"
            case samples, wraps
            case resets, errors
            case cpuSeconds = "cpu_seconds"
        }

        public var intervalSeconds: Double
        /// The longest interval that keeps every counter from wrapping unseen; nil when no counter limits it.
        @Nullable public var intervalLimitSeconds: Double?
        public var samples: Int
        public var wraps: Int
        public var resets: Int
        public var errors: Int
        /// CPU time the sampling thread used: what measuring cost.
        public var cpuSeconds: Double
    }

    public struct Temperature: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case id, chip, label
            case minCelsius = "min_celsius"
            case maxCelsius = "max_celsius"
            case meanCelsius = "mean_celsius"
        }

        public var id: String
        public var chip: String
        public var label: String
        @Nullable public var minCelsius: Double?
        @Nullable public var maxCelsius: Double?
        @Nullable public var meanCelsius: Double?
    }

    public struct GPU: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case index, name, uuid
            case driverVersion = "driver_version"
            case domain, method, counted, note
        }

        public var index: Int
        public var name: String
        public var uuid: String
        public var driverVersion: String
        /// The matching `energy.domains[]` id (`nvml:0`).
        public var domain: String
        /// "counter" | "power-integration" (power polled and integrated), as the domains say it.
        public var method: String
        public var counted: Bool
        public var note: String
    }

    /// A time the daemon was down while the job ran.
    public struct Gap: Codable, Sendable, Equatable {
        /// The daemon's last checkpoint before it stopped.
        public var from: Date
        /// The restarted daemon's first sample.
        public var to: Date
        public var seconds: Double
        /// Channels whose energy across the gap came from their counters' deltas (exact).
        public var recovered: [String]
        /// Energy channels with nothing measured across the gap (power readings, or a counter that may have
        /// wrapped more than once): the job's energy is missing their share of the gap.
        public var missing: [String]

        public init(from: Date, to: Date, seconds: Double, recovered: [String], missing: [String]) {
            self.from = from
            self.to = to
            self.seconds = seconds
            self.recovered = recovered
            self.missing = missing
        }
    }

    public struct Owner: Codable, Sendable, Equatable {
        public var uid: UInt32
        public var user: String
        @Nullable public var pid: Int32?

        public init(uid: UInt32, user: String, pid: Int32?) {
            self.uid = uid
            self.user = user
            self.pid = pid
        }
    }

    public struct Source: Codable, Sendable, Equatable {
        public var name: String
        public var channels: Int
        public var readable: Int
        public var diagnostics: [String]
    }

    /// A power limit set for the job (`--cpu-power-limit`, `--gpu-power-limit`): what the device had, what the job
    /// asked for, what was in force (the highest limit asked for wins when jobs share a device), and when it ended.
    public struct PowerControl: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case device, constraint
            case originalWatts = "original_watts"
            case requestedWatts = "requested_watts"
            case appliedWatts = "applied_watts"
            case appliedAt = "applied_at"
            case releasedAt = "released_at"
            case leftAtWatts = "left_at_watts"
            case restoredAt = "restored_at"
            case requestedBy = "requested_by"
            case restoreError = "restore_error"
        }
        public var device: String
        public var constraint: String
        public var originalWatts: Double
        @Nullable public var requestedWatts: Double?
        public var appliedWatts: Double
        public var appliedAt: Date
        /// When the job's hold on the limit ended (its end, its client's death, the service stopping).
        @Nullable public var releasedAt: Date?
        /// The device's limit then: its original, or another job's limit that still holds it.
        @Nullable public var leftAtWatts: Double?
        /// When the device went back to its original value; nil while another job holds it, or when it could not
        /// be put back (`restore_error` says why).
        @Nullable public var restoredAt: Date?
        public var requestedBy: String
        @Nullable public var restoreError: String?

        public init(
            device: String, constraint: String, originalWatts: Double, requestedWatts: Double? = nil,
            appliedWatts: Double, appliedAt: Date, releasedAt: Date? = nil, leftAtWatts: Double? = nil,
            restoredAt: Date?, requestedBy: String, restoreError: String? = nil
        ) {
            self.device = device
            self.constraint = constraint
            self.originalWatts = originalWatts
            self.requestedWatts = requestedWatts
            self.appliedWatts = appliedWatts
            self.appliedAt = appliedAt
            self.releasedAt = releasedAt
            self.leftAtWatts = leftAtWatts
            self.restoredAt = restoredAt
            self.requestedBy = requestedBy
            self.restoreError = restoreError
        }
    }

    /// What the power-limit tuner did: each candidate limit's joules and seconds per step (mean, sample sd, steps),
    /// the limit the objective chose, and the saving and slowdown per step it predicts against the original limit.
    public struct PowerTuning: Codable, Sendable, Equatable {
        public struct Candidate: Codable, Sendable, Equatable {
            enum CodingKeys: String, CodingKey {
                case watts, steps
                case joulesPerStep = "joules_per_step"
                case joulesPerStepSD = "joules_per_step_sd"
                case secondsPerStep = "seconds_per_step"
                case secondsPerStepSD = "seconds_per_step_sd"
            }
            public var watts: Double
            public var steps: Int
            public var joulesPerStep: Double
            public var joulesPerStepSD: Double
            public var secondsPerStep: Double
            public var secondsPerStepSD: Double

            public init(
                watts: Double, steps: Int, joulesPerStep: Double, joulesPerStepSD: Double, secondsPerStep: Double,
                secondsPerStepSD: Double
            ) {
                self.watts = watts
                self.steps = steps
                self.joulesPerStep = joulesPerStep
                self.joulesPerStepSD = joulesPerStepSD
                self.secondsPerStep = secondsPerStep
                self.secondsPerStepSD = secondsPerStepSD
            }
        }

        enum CodingKeys: String, CodingKey {
            case device, devices, objective, state, reason, candidates
            case stepMark = "step_mark"
            case stepsSeen = "steps_seen"
            case originalWatts = "original_watts"
            case choiceWatts = "choice_watts"
            case predictedEnergySaving = "predicted_energy_saving"
            case predictedSlowdown = "predicted_slowdown"
            case profileReused = "profile_reused"
            case profilePath = "profile_path"
        }
        /// "cpu" or "gpu".
        public var device: String
        public var devices: [String]
        public var stepMark: String
        public var objective: String
        /// "chosen" (the choice holds for the rest of the job), "incomplete" (the job ended, or its steps stopped,
        /// before every candidate was profiled: the original limit was kept), "failed" (a limit could not be set).
        public var state: String
        @Nullable public var reason: String?
        public var stepsSeen: Int
        @Nullable public var originalWatts: Double?
        @Nullable public var choiceWatts: Double?
        public var candidates: [Candidate]
        /// 1 − (J/step at the choice) / (J/step at the candidate nearest the original limit).
        @Nullable public var predictedEnergySaving: Double?
        /// (s/step at the choice) / (s/step at the candidate nearest the original limit) − 1.
        @Nullable public var predictedSlowdown: Double?
        /// Whether the candidates come from a saved profile (a recurring job: no sweep), and the profile's file
        /// (reused, or saved by this job's sweep).
        public var profileReused: Bool
        @Nullable public var profilePath: String?

        public init(
            device: String, devices: [String], stepMark: String, objective: String, state: String, reason: String?,
            stepsSeen: Int, originalWatts: Double?, choiceWatts: Double?, candidates: [Candidate],
            predictedEnergySaving: Double?, predictedSlowdown: Double?, profileReused: Bool = false,
            profilePath: String? = nil
        ) {
            self.profileReused = profileReused
            self.profilePath = profilePath
            self.device = device
            self.devices = devices
            self.stepMark = stepMark
            self.objective = objective
            self.state = state
            self.reason = reason
            self.stepsSeen = stepsSeen
            self.originalWatts = originalWatts
            self.choiceWatts = choiceWatts
            self.candidates = candidates
            self.predictedEnergySaving = predictedEnergySaving
            self.predictedSlowdown = predictedSlowdown
        }
    }

    public struct Tool: Codable, Sendable, Equatable {
        public var name: String
        public var version: String
    }
}
