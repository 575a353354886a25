/// The names of the service's Prometheus metrics, for the exporter that writes them, `report cluster` that
/// queries them, and the test that holds the shipped recording rules (`prometheus/sustain-rules.yml`) and
/// Grafana dashboard (`grafana/sustain-dashboard.json`) to them: a renamed metric fails that test.
public enum MetricName {
    /// Counter: energy measured on a domain since the service started, J (labels domain, name, kind, source,
    /// counted).
    public static let energy = "sustain_energy_joules_total"
    /// Gauge: a domain's latest power, W.
    public static let power = "sustain_power_watts"
    public static let samples = "sustain_samples_total"
    public static let samplingSeconds = "sustain_sampling_seconds_total"
    public static let processCPUSeconds = "sustain_process_cpu_seconds_total"
    /// Counter: a job's counted energy by domain kind, J (labels job, user, host, slurm_job_id, domain_kind).
    public static let jobEnergy = "sustain_job_energy_joules_total"
    /// Counter: a job's emissions at its carbon settings, g CO2e.
    public static let jobCarbon = "sustain_job_carbon_grams_total"
    /// Counter: a running job's attributed share of the machine's CPU-side energy, J.
    public static let jobAttributedEnergy = "sustain_job_attributed_energy_joules_total"
    /// Counter: the CPU-side energy attributed to no job, J.
    public static let unattributedEnergy = "sustain_unattributed_energy_joules_total"
    /// Counter: a watched server's energy (attributed CPU-side share + its GPUs) since the service started
    /// watching it, J (label watch).
    public static let watchEnergy = "sustain_watch_energy_joules_total"
    /// Counter: a watched server's emissions at the grid's intensity as it went, g CO2e (label watch).
    public static let watchCarbon = "sustain_watch_carbon_grams_total"
    /// Counter: a watched server's units of work since the service started watching it (labels watch, unit):
    /// `rate(sustain_watch_energy_joules_total[5m]) / rate(sustain_watch_units_total[5m])` is J per unit.
    public static let watchUnits = "sustain_watch_units_total"
    /// Gauge: 1 while a watched server is found (its cgroup exists), 0 while not (label watch).
    public static let watchUp = "sustain_watch_up"
    /// Gauge: 1 while a watched server's units endpoint answers, 0 while not (label watch).
    public static let watchUnitsUp = "sustain_watch_units_up"
    /// Gauge, always 1: the container or pod a job runs in, from its cgroup path (labels job, user,
    /// container_runtime, container_id, pod_uid, qos_class, cgroup_driver, each when known): join on `job`.
    public static let jobContainer = "sustain_job_container_info"
    /// Gauge, always 1: the container or pod a watched server runs in (labels watch and the same).
    public static let watchContainer = "sustain_watch_container_info"
    public static let openJobs = "sustain_open_jobs"
    public static let storeUp = "sustain_store_up"
    public static let storePendingJobs = "sustain_store_pending_jobs"

    /// Every metric the service exports.
    public static let all = [
        energy, power, samples, samplingSeconds, processCPUSeconds, jobEnergy, jobCarbon, jobAttributedEnergy,
        unattributedEnergy, watchEnergy, watchCarbon, watchUnits, watchUp, watchUnitsUp, jobContainer, watchContainer,
        openJobs, storeUp, storePendingJobs,
    ]
}
