import LinuxSupport
import Meter
import Prometheus

/// Prometheus metrics in base units, from the same running totals as the JSON snapshot: per-domain energy
/// counters and power gauges, open jobs' energy and carbon, and the sampler's own cost.
public actor MetricsExporter {
    private let sampler: Sampler
    private let registry: JobRegistry
    private var gramsPerJoule: Double

    public init(sampler: Sampler, registry: JobRegistry, intensityGramsPerKilowattHour: Double) {
        self.sampler = sampler
        self.registry = registry
        gramsPerJoule = intensityGramsPerKilowattHour / 3_600_000
    }

    /// A reloaded configuration's grid intensity.
    public func update(intensityGramsPerKilowattHour: Double) {
        gramsPerJoule = intensityGramsPerKilowattHour / 3_600_000
    }

    /// Which running jobs get series of their own (their ids and user names are visible to whoever reads them).
    public enum JobSeries: Sendable, Equatable {
        case all
        case none
        case ofUser(UInt32)
    }

    /// The exposition text, built fresh from one snapshot, with per-job series for `jobs`.
    public func exposition(jobs visible: JobSeries = .all) async -> String {
        let prometheus = PrometheusCollectorRegistry()
        for total in sampler.domainTotals() {
            let channel = total.channel
            let labels = [
                ("domain", channel.id.rawValue), ("name", channel.name), ("kind", channel.kind.rawValue),
                ("source", channel.source.rawValue), ("counted", total.counted ? "true" : "false"),
            ]
            prometheus.makeCounter(
                name: "sustain_energy_joules_total", labels: labels,
                help: "Energy measured on a domain since the daemon started, in joules"
            ).increment(by: total.joules)
            prometheus.makeGauge(
                name: "sustain_power_watts", labels: labels, help: "Latest power of a domain, in watts"
            ).set(total.watts)
        }
        if let checkpoint = sampler.latestCheckpoint {
            prometheus.makeCounter(name: "sustain_samples_total", help: "Samples taken by the daemon").increment(
                by: Int64(checkpoint.samples))
        }
        prometheus.makeCounter(
            name: "sustain_sampling_seconds_total",
            help: "Time the daemon spent taking samples (reading every source), in seconds"
        ).increment(by: sampler.samplingSeconds)
        prometheus.makeCounter(
            name: "sustain_process_cpu_seconds_total", help: "CPU time (user + system) of the daemon, in seconds"
        ).increment(by: ResourceUsage.ofThisProcess().cpuSeconds)
        for job in await registry.openJobEnergies() {
            switch visible {
            case .all: break
            case .none: continue
            case .ofUser(let uid): if job.uid != uid { continue }
            }
            let labels = [("job", job.id), ("user", job.user)]
            prometheus.makeGauge(
                name: "sustain_job_energy_joules", labels: labels, help: "Counted energy of a running job, in joules"
            ).set(job.joules)
            prometheus.makeGauge(
                name: "sustain_job_carbon_grams", labels: labels,
                help: "Emissions of a running job at the configured intensity and PUE 1, in grams CO2e"
            ).set(job.joules * gramsPerJoule)
        }
        let attributed = await registry.attributedEnergies()
        for job in attributed.jobs {
            switch visible {
            case .all: break
            case .none: continue
            case .ofUser(let uid): if job.uid != uid { continue }
            }
            prometheus.makeCounter(
                name: "sustain_job_attributed_energy_joules_total", labels: [("job", job.id), ("user", job.user)],
                help: "A running job's attributed share of the machine's CPU-side energy (cgroup CPU time), in joules"
            ).increment(by: job.joules)
        }
        prometheus.makeCounter(
            name: "sustain_unattributed_energy_joules_total",
            help: "The machine's CPU-side energy attributed to no job since the service started, in joules"
        ).increment(by: attributed.unattributed)
        prometheus.makeGauge(name: "sustain_open_jobs", help: "Jobs currently open").set(
            Double(await registry.openJobs))
        let store = await registry.storeHealth
        prometheus.makeGauge(
            name: "sustain_store_up", help: "1 while the job database takes writes, 0 while it fails"
        ).set(store.failure == nil ? 1.0 : 0.0)
        prometheus.makeGauge(
            name: "sustain_store_pending_jobs", help: "Finished jobs kept in memory until the database takes them"
        ).set(Double(store.pendingJobs))
        var buffer: [UInt8] = []
        prometheus.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
