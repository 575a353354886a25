import LinuxSupport
import Meter
import Prometheus
import Reports
import SustainAPI

/// Prometheus metrics in base units, from the same running totals as the JSON snapshot: per-domain energy
/// counters and power gauges, open jobs' energy and carbon, and the sampler's own cost.
public actor MetricsExporter {
    private let sampler: Sampler
    private let registry: JobRegistry
    /// This node's name in the per-job counters' `host` label (`[daemon] host`).
    private let host: String
    /// How long a finished job's counters stay (`[daemon] finished_job_metrics_seconds`).
    private var finishedRetention: Double

    public init(
        sampler: Sampler, registry: JobRegistry,
        host: String = Report.Host.current().hostname, finishedRetention: Double = 600
    ) {
        self.sampler = sampler
        self.registry = registry
        self.host = host
        self.finishedRetention = finishedRetention
    }

    /// A reloaded configuration's retention of finished jobs' counters.
    public func update(finishedRetention: Double) { self.finishedRetention = finishedRetention }

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
                name: MetricName.energy, labels: labels,
                help: "Energy measured on a domain since the daemon started, in joules"
            ).increment(by: total.joules)
            prometheus.makeGauge(
                name: MetricName.power, labels: labels, help: "Latest power of a domain, in watts"
            ).set(total.watts)
        }
        if let checkpoint = sampler.latestCheckpoint {
            prometheus.makeCounter(name: MetricName.samples, help: "Samples taken by the daemon").increment(
                by: Int64(checkpoint.samples))
        }
        prometheus.makeCounter(
            name: MetricName.samplingSeconds,
            help: "Time the daemon spent taking samples (reading every source), in seconds"
        ).increment(by: sampler.samplingSeconds)
        prometheus.makeCounter(
            name: MetricName.processCPUSeconds, help: "CPU time (user + system) of the daemon, in seconds"
        ).increment(by: ResourceUsage.ofThisProcess().cpuSeconds)
        // Per-job counters across nodes: sum by (slurm_job_id) in PromQL totals a multi-node job. One series per
        // job and domain kind (a handful), for open jobs and those finished within the retention (at most 10,000),
        // written by `JobSeriesText` (linear; the registry is quadratic in label sets).
        func shown(_ uid: UInt32) -> Bool {
            switch visible {
            case .all: true
            case .none: false
            case .ofUser(let owner): uid == owner
            }
        }
        let counters = await registry.jobCounters(retention: finishedRetention).filter { shown($0.uid) }
        var jobSeries = JobSeriesText()
        if !counters.isEmpty {
            jobSeries.family(
                MetricName.jobEnergy, type: "counter",
                help: "Counted energy of a job by domain kind, in joules; kept a while after the job ends")
            for counter in counters {
                let labels = [
                    ("job", counter.id), ("user", counter.user), ("host", host), ("slurm_job_id", counter.slurmJobID),
                ]
                for (kind, joules) in counter.joules.sorted(by: { $0.key < $1.key }) {
                    jobSeries.sample(
                        MetricName.jobEnergy, labels: labels + [("domain_kind", kind)], value: joules)
                }
            }
        }
        if counters.contains(where: { $0.grams != nil }) {
            jobSeries.family(
                MetricName.jobCarbon, type: "counter",
                help: "Emissions of a job at its carbon settings, in grams CO2e; kept a while after it ends")
            for counter in counters {
                guard let grams = counter.grams else { continue }
                let labels = [
                    ("job", counter.id), ("user", counter.user), ("host", host), ("slurm_job_id", counter.slurmJobID),
                ]
                jobSeries.sample(MetricName.jobCarbon, labels: labels, value: grams)
            }
        }
        jobSeries.containers(
            MetricName.jobContainer, help: "The container or pod a job runs in, from its cgroup path",
            counters.compactMap { counter in
                counter.container.map { ([("job", counter.id), ("user", counter.user)], $0) }
            })
        let attributed = await registry.attributedEnergies()
        let attributedJobs = attributed.jobs.filter { shown($0.uid) }
        if !attributedJobs.isEmpty {
            jobSeries.family(
                MetricName.jobAttributedEnergy, type: "counter",
                help: "A running job's attributed share of the machine's CPU-side energy (cgroup CPU time), in joules")
            for job in attributedJobs {
                jobSeries.sample(
                    MetricName.jobAttributedEnergy, labels: [("job", job.id), ("user", job.user)],
                    value: job.joules)
            }
        }
        prometheus.makeCounter(
            name: MetricName.unattributedEnergy,
            help: "The machine's CPU-side energy attributed to no job since the service started, in joules"
        ).increment(by: attributed.unattributed)
        jobSeries.watches(await registry.watchCounters())
        prometheus.makeGauge(name: MetricName.openJobs, help: "Jobs currently open").set(
            Double(await registry.openJobs))
        let store = await registry.storeHealth
        prometheus.makeGauge(
            name: MetricName.storeUp, help: "1 while the job database takes writes, 0 while it fails"
        ).set(store.failure == nil ? 1.0 : 0.0)
        prometheus.makeGauge(
            name: MetricName.storePendingJobs, help: "Finished jobs kept in memory until the database takes them"
        ).set(Double(store.pendingJobs))
        var buffer: [UInt8] = []
        prometheus.emit(into: &buffer)
        buffer += jobSeries.bytes
        return String(decoding: buffer, as: UTF8.self)
    }
}
