import Impact

/// sustain's configuration: a plain struct whose defaults are the documented ones. Precedence: these defaults <
/// the file (`Configuration+TOML.swift`) < command-line flags.
public struct Configuration: Sendable, Equatable {
    /// `[impact]`: how energy becomes carbon and cost.
    public struct Impact: Sendable, Equatable {
        /// `region` (string): ISO 3166 country, eGRID subregion or cloud region. Default: none (world average).
        public var region: String?
        /// `intensity` (number, gCO2e/kWh): overrides `region`. Default: none.
        public var intensity: Double?
        /// `intensity_basis` (string, "lifecycle" | "direct"): what `intensity` counts. Default "lifecycle".
        public var intensityBasis: IntensityBasis = .lifecycle
        /// `pue` (number ≥ 1): power usage effectiveness. Default 1.0 (the machine measured directly).
        public var pue: Double?
        /// `price` (number, currency per kWh): electricity price. Default: none (cost omitted).
        public var price: Double?
        /// `currency` (string, ISO 4217): currency of `price`. Default: none.
        public var currency: String?
        /// `intensity_series` (path): a grid intensity series over time (CSV, JSON, or a cache file written by
        /// `sustain-measure intensity fetch`); where it covers a job, its carbon follows the grid hour by hour.
        /// A missing or stale file never stops a job: the report says which figure was used. Default: none.
        public var intensitySeries: String?
        /// `embodied_kg_co2e` (number, kg) and `lifetime_years` (number, years; together): the machine's embodied
        /// emissions and its expected life, from its vendor's product carbon footprint: a watched service's SCI
        /// counts its time-share of them. Default: none (the SCI is then operational only, and says so).
        public var embodiedKgCO2e: Double?
        public var lifetimeYears: Double?
        /// `wue_l_per_kwh` (number, litres per kWh): the data centre's water usage effectiveness; reports then give
        /// the water drawn. Default: none.
        public var wueLitresPerKilowattHour: Double?

        public init() {}
    }

    /// `[estimate]`: the estimate used when nothing can be measured.
    public struct Estimate: Sendable, Equatable {
        /// `cpu_tdp` (number, W): CPU package power. Default: the bundled table by CPU model, else 4 W per
        /// logical CPU.
        public var cpuTDP: Double?

        public init() {}
    }

    /// `[daemon]`: the sustain-measured service.
    public struct Daemon: Sendable, Equatable {
        /// `socket` (path): the API's Unix socket. Default `/run/sustain/sustain.sock`.
        public var socket = "/run/sustain/sustain.sock"
        /// `socket_mode` (string, octal): the socket's permissions. Default "0660".
        public var socketMode: UInt32 = 0o660
        /// `group` (string): the socket's group; its members may use the API. Default "sustain".
        public var group = "sustain"
        /// `admin_group` (string): members see and stop every job. Default: none (root only).
        public var adminGroup: String?
        /// `interval` (number, seconds): sampling interval. Default 0.1.
        public var interval = 0.1
        /// `database` (path): the per-job carbon log. Default `/var/lib/sustain/jobs.sqlite`.
        public var database = "/var/lib/sustain/jobs.sqlite"
        /// `metrics_address` (string, host:port): also serve /metrics over TCP. Default: off.
        public var metricsAddress: String?
        /// `checkpoint_interval` (number, seconds, 1 to 10): how often open jobs' energy is saved. Default 5.
        public var checkpointInterval = 5.0
        /// `retention_days` (integer, days): finished jobs older than this are deleted; 0 keeps them. Default 0.
        public var retentionDays = 0
        /// `sources` (array of "powercap", "hwmon", "nvml"): the sources to read. Default: all three.
        public var sources = Daemon.allSources
        /// `max_open_jobs_per_user` (integer, 1 to 100000): open jobs one user (not root or an admin) may have at
        /// once; more are refused with 429. Default 256.
        public var maxOpenJobsPerUser = 256
        /// `max_job_age_without_pid` (number, seconds, 1 to 31536000): a job registered without a process is
        /// closed as incomplete after this long (nothing else would end it). Default 1209600 (14 days).
        public var maxJobAgeWithoutPID = 1_209_600.0
        /// `per_job_metrics` (boolean): per-job series (job id, user) on the TCP /metrics. Default false: only
        /// aggregates there, since any local user can connect to a TCP port. On the socket, root and admins always
        /// see every job's series; a user sees their own.
        public var perJobMetrics = false
        /// `attribution_idle` ("unattributed" or "cpuset"): on a shared machine, whether the static (idle) part of
        /// each interval's energy stays unattributed, or is split by each job's allocated CPUs
        /// (`cpuset.cpus.effective`). Default "unattributed".
        public var attributionIdle = "unattributed"
        /// `cgroup_root` (path): where the cgroup v2 hierarchy is; default: found in /proc/mounts.
        public var cgroupRoot: String?
        /// `finished_job_metrics_seconds` (number, 0 to 86400): how long a finished job's counters stay on /metrics,
        /// so that Prometheus scrapes their final values. Default 600.
        public var finishedJobMetricsSeconds = 600.0
        /// `watch_report_seconds` (number, 10 s to 7 days): how often each `[[watch]]` gets a report in the
        /// database (its energy, carbon, units and SCI over the period). Default 3600.
        public var watchReportSeconds = 3600.0
        /// `watch_scrape_seconds` (number, 0.5 to 60): how often each watched server's units endpoint is scraped
        /// and where it is looked up again. Default 5.
        public var watchScrapeSeconds = 5.0
        /// `host` (string): this node's name in the `host` label of per-job metrics. Default: the hostname.
        public var host: String?

        public static let allSources = ["powercap", "hwmon", "nvml"]

        public init() {}
    }

    /// `[control]`: who may set power limits through the service, and how low.
    public struct Control: Sendable, Equatable {
        /// `groups` (array of group names): members may set power limits through the service; root always may.
        /// Default: none (root only).
        public var groups: [String] = []
        /// `cpu_power_limit_min_watts` (number, W): the lowest CPU package limit a job may ask for. Default: a
        /// quarter of the package's own maximum (`max_power_uw`, else its limit at start): lower can starve the
        /// machine.
        public var cpuPowerLimitMinWatts: Double?
        /// `gpu_power_limit_min_watts` (number, W): the lowest GPU limit a job may ask for. Default: the GPU's own
        /// minimum (NVML's power management limit constraints).
        public var gpuPowerLimitMinWatts: Double?

        public init() {}
    }

    public var impact = Impact()
    public var estimate = Estimate()
    public var daemon = Daemon()
    public var control = Control()
    /// `[[watch]]`: deployed models' servers measured continuously (#22).
    public var watches: [Watch] = []
    /// The file this came from; nil for the defaults.
    public var path: String?

    public init() {}

    /// Where sustain looks for a configuration file when none is named, first that exists:
    /// `$SUSTAIN_CONFIG`, `$XDG_CONFIG_HOME/sustain/sustain.toml` (`~/.config/…`), `/etc/sustain/sustain.toml`.
    public static func searchPath(environment: [String: String]) -> [String] {
        var paths: [String] = []
        if let explicit = environment["SUSTAIN_CONFIG"], !explicit.isEmpty { paths.append(explicit) }
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            paths.append(xdg + "/sustain/sustain.toml")
        } else if let home = environment["HOME"], !home.isEmpty {
            paths.append(home + "/.config/sustain/sustain.toml")
        }
        paths.append("/etc/sustain/sustain.toml")
        return paths
    }
}

/// Why a configuration file was rejected: the file, the key and the reason.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var key: String?
    public var reason: String

    public init(path: String, key: String?, reason: String) {
        self.path = path
        self.key = key
        self.reason = reason
    }

    public var description: String {
        let key = key.map { ", key \($0.escapingControlCharacters.excerpt(100))" } ?? ""
        return "Configuration \(path)\(key): \(reason.escapingControlCharacters.excerpt(300)). "
            + "Fix the file or name another with --config."
    }
}
