import Impact

extension Configuration {
    /// Reads a configuration from TOML text. Every key, its type, unit and default:
    ///
    /// ```toml
    /// [impact]
    /// region = "FR"              # string: country, eGRID subregion or cloud region; default: world average
    /// intensity = 56.0           # number, gCO2e/kWh: overrides region; default: none
    /// intensity_basis = "lifecycle"  # "lifecycle" | "direct"; default "lifecycle"
    /// pue = 1.0                  # number >= 1; default 1.0
    /// price = 0.25               # number, currency per kWh; default: none
    /// currency = "EUR"           # ISO 4217, required with price; default: none
    /// intensity_series = "/var/cache/sustain-intensity/uk-carbon-intensity-GB.json"  # path; default: none
    ///
    /// [estimate]
    /// cpu_tdp = 85.0             # number, W; default: table by CPU model, else 4 W per logical CPU
    /// ```
    ///
    /// Unknown tables and keys are rejected (a misspelt key would otherwise be silently ignored), and every value
    /// is validated here, so a bad file fails at start with the key named.
    public init(toml text: String, path: String, dataset: GridDataset = .bundled) throws(ConfigurationError) {
        self.init()
        self.path = path
        let table: ConfigTable
        do {
            table = try ConfigTable(toml: text)
        } catch {
            throw ConfigurationError(path: path, key: nil, reason: "not valid TOML at \(error)")
        }
        let reader = Reader(path: path)
        for key in table.keys where !["impact", "estimate", "daemon", "control", "watch"].contains(key) {
            throw ConfigurationError(
                path: path, key: key,
                reason: "unknown table or key (known: [impact], [estimate], [daemon], [control], [[watch]])")
        }
        if let watch = table["watch"] { self.watches = try Self.watches(watch, path: path) }
        if let control = try reader.table(table, "control") {
            try reader.onlyKnown(
                control, "control", ["groups", "cpu_power_limit_min_watts", "gpu_power_limit_min_watts"])
            if let groups = try reader.strings(control, "control.groups") {
                if let bad = groups.first(where: { $0.isEmpty || $0.utf8.count > 64 }) {
                    throw ConfigurationError(
                        path: path, key: "control.groups", reason: "\"\(bad)\" is not a group name (1 to 64 bytes)")
                }
                self.control.groups = groups
            }
            for (key, kind) in [("cpu_power_limit_min_watts", "CPU"), ("gpu_power_limit_min_watts", "GPU")] {
                guard let watts = try reader.number(control, "control.\(key)") else { continue }
                guard watts > 0, watts < 100_000 else {
                    throw ConfigurationError(
                        path: path, key: "control.\(key)", reason: "must be a positive number of watts (\(kind))")
                }
                if key.hasPrefix("cpu") {
                    self.control.cpuPowerLimitMinWatts = watts
                } else {
                    self.control.gpuPowerLimitMinWatts = watts
                }
            }
        }
        if let daemon = try reader.table(table, "daemon") {
            try reader.onlyKnown(
                daemon, "daemon",
                [
                    "socket", "socket_mode", "group", "admin_group", "interval", "database", "metrics_address",
                    "checkpoint_interval", "retention_days", "sources", "max_open_jobs_per_user",
                    "max_job_age_without_pid", "per_job_metrics", "attribution_idle", "cgroup_root",
                    "finished_job_metrics_seconds", "host", "watch_report_seconds", "watch_scrape_seconds",
                ])
            if let socket = try reader.string(daemon, "daemon.socket") {
                guard socket.hasPrefix("/") else {
                    throw ConfigurationError(path: path, key: "daemon.socket", reason: "must be an absolute path")
                }
                self.daemon.socket = socket
            }
            if let mode = try reader.string(daemon, "daemon.socket_mode") {
                guard let value = UInt32(mode, radix: 8), value <= 0o777 else {
                    throw ConfigurationError(
                        path: path, key: "daemon.socket_mode", reason: "must be an octal mode such as \"0660\"")
                }
                self.daemon.socketMode = value
            }
            if let group = try reader.string(daemon, "daemon.group") { self.daemon.group = group }
            self.daemon.adminGroup = try reader.string(daemon, "daemon.admin_group")
            if let interval = try reader.number(daemon, "daemon.interval") {
                guard interval >= 0.001, interval <= 60 else {
                    throw ConfigurationError(
                        path: path, key: "daemon.interval", reason: "must be from 0.001 to 60 seconds")
                }
                self.daemon.interval = interval
            }
            if let database = try reader.string(daemon, "daemon.database") {
                guard database.hasPrefix("/") else {
                    throw ConfigurationError(path: path, key: "daemon.database", reason: "must be an absolute path")
                }
                self.daemon.database = database
            }
            if let address = try reader.string(daemon, "daemon.metrics_address") {
                guard address.split(separator: ":").count == 2, Int(address.split(separator: ":")[1]) != nil else {
                    throw ConfigurationError(path: path, key: "daemon.metrics_address", reason: "must be host:port")
                }
                self.daemon.metricsAddress = address
            }
            if let seconds = try reader.number(daemon, "daemon.checkpoint_interval") {
                guard seconds >= 1, seconds <= 10 else {
                    throw ConfigurationError(
                        path: path, key: "daemon.checkpoint_interval", reason: "must be from 1 to 10 seconds")
                }
                self.daemon.checkpointInterval = seconds
            }
            if let days = try reader.number(daemon, "daemon.retention_days") {
                guard days >= 0, days == days.rounded(), days <= 36_500 else {
                    throw ConfigurationError(
                        path: path, key: "daemon.retention_days",
                        reason: "must be a whole number of days from 0 (keep every job) to 36500")
                }
                self.daemon.retentionDays = Int(days)
            }
            if let count = try reader.number(daemon, "daemon.max_open_jobs_per_user") {
                guard count >= 1, count <= 100_000, count == count.rounded() else {
                    throw ConfigurationError(
                        path: path, key: "daemon.max_open_jobs_per_user",
                        reason: "must be a whole number from 1 to 100000")
                }
                self.daemon.maxOpenJobsPerUser = Int(count)
            }
            if let seconds = try reader.number(daemon, "daemon.max_job_age_without_pid") {
                guard seconds >= 1, seconds <= 31_536_000 else {
                    throw ConfigurationError(
                        path: path, key: "daemon.max_job_age_without_pid",
                        reason: "must be from 1 to 31536000 seconds (one year)")
                }
                self.daemon.maxJobAgeWithoutPID = seconds
            }
            if let value = daemon["per_job_metrics"] {
                guard case .boolean(let flag) = value else {
                    throw ConfigurationError(path: path, key: "daemon.per_job_metrics", reason: "must be true or false")
                }
                self.daemon.perJobMetrics = flag
            }
            if let idle = try reader.string(daemon, "daemon.attribution_idle") {
                guard ["unattributed", "cpuset"].contains(idle) else {
                    throw ConfigurationError(
                        path: path, key: "daemon.attribution_idle", reason: "must be \"unattributed\" or \"cpuset\"")
                }
                self.daemon.attributionIdle = idle
            }
            if let root = try reader.string(daemon, "daemon.cgroup_root") {
                guard root.hasPrefix("/") else {
                    throw ConfigurationError(path: path, key: "daemon.cgroup_root", reason: "must be an absolute path")
                }
                self.daemon.cgroupRoot = root
            }
            if let seconds = try reader.number(daemon, "daemon.finished_job_metrics_seconds") {
                guard seconds >= 0, seconds <= 86_400 else {
                    throw ConfigurationError(
                        path: path, key: "daemon.finished_job_metrics_seconds",
                        reason: "must be from 0 to 86400 seconds")
                }
                self.daemon.finishedJobMetricsSeconds = seconds
            }
            if let seconds = try reader.number(daemon, "daemon.watch_report_seconds") {
                guard seconds >= 10, seconds <= 7 * 86_400 else {
                    throw ConfigurationError(
                        path: path, key: "daemon.watch_report_seconds", reason: "must be from 10 s to 7 days")
                }
                self.daemon.watchReportSeconds = seconds
            }
            if let seconds = try reader.number(daemon, "daemon.watch_scrape_seconds") {
                guard seconds >= 0.5, seconds <= 60 else {
                    throw ConfigurationError(
                        path: path, key: "daemon.watch_scrape_seconds", reason: "must be from 0.5 to 60 seconds")
                }
                self.daemon.watchScrapeSeconds = seconds
            }
            if let host = try reader.string(daemon, "daemon.host") {
                guard !host.isEmpty, host.utf8.count <= 255, !host.unicodeScalars.contains(where: { $0.value < 0x21 })
                else {
                    throw ConfigurationError(
                        path: path, key: "daemon.host", reason: "must be a name of 1 to 255 bytes without blanks")
                }
                self.daemon.host = host
            }
            if let sources = try reader.strings(daemon, "daemon.sources") {
                let known = Configuration.Daemon.allSources
                if let unknown = sources.first(where: { !known.contains($0) }) {
                    throw ConfigurationError(
                        path: path, key: "daemon.sources",
                        reason: "unknown source \"\(unknown)\" (known: \(known.joined(separator: ", ")))")
                }
                self.daemon.sources = sources
            }
        }
        if let impact = try reader.table(table, "impact") {
            try reader.onlyKnown(
                impact, "impact",
                [
                    "region", "intensity", "intensity_basis", "pue", "price", "currency", "intensity_series",
                    "embodied_kg_co2e", "lifetime_years", "wue_l_per_kwh",
                ])
            self.impact.embodiedKgCO2e = try reader.number(impact, "impact.embodied_kg_co2e")
            self.impact.lifetimeYears = try reader.number(impact, "impact.lifetime_years")
            self.impact.wueLitresPerKilowattHour = try reader.number(impact, "impact.wue_l_per_kwh")
            if let kilograms = self.impact.embodiedKgCO2e, !(kilograms >= 0 && kilograms < 1_000_000) {
                throw ConfigurationError(
                    path: path, key: "impact.embodied_kg_co2e", reason: "must be from 0 to 1000000 kg CO2e")
            }
            if let years = self.impact.lifetimeYears, !(years > 0 && years <= 50) {
                throw ConfigurationError(path: path, key: "impact.lifetime_years", reason: "must be from 0 to 50 years")
            }
            if (self.impact.embodiedKgCO2e == nil) != (self.impact.lifetimeYears == nil) {
                throw ConfigurationError(
                    path: path, key: "impact.embodied_kg_co2e",
                    reason:
                        "embodied_kg_co2e and lifetime_years go together (the emissions and the life they spread over)")
            }
            if let wue = self.impact.wueLitresPerKilowattHour, !(wue >= 0 && wue <= 20) {
                throw ConfigurationError(path: path, key: "impact.wue_l_per_kwh", reason: "must be from 0 to 20 L/kWh")
            }
            self.impact.region = try reader.string(impact, "impact.region")
            if let region = self.impact.region {
                do {
                    _ = try dataset.resolve(region)
                } catch {
                    throw ConfigurationError(path: path, key: "impact.region", reason: error.description)
                }
            }
            self.impact.intensity = try reader.number(impact, "impact.intensity")
            if let basis = try reader.string(impact, "impact.intensity_basis") {
                guard let value = IntensityBasis(rawValue: basis) else {
                    throw ConfigurationError(
                        path: path, key: "impact.intensity_basis",
                        reason: "must be \"lifecycle\", \"direct\" or \"marginal\"")
                }
                self.impact.intensityBasis = value
            }
            self.impact.pue = try reader.number(impact, "impact.pue")
            self.impact.price = try reader.number(impact, "impact.price")
            self.impact.currency = try reader.string(impact, "impact.currency")
            self.impact.intensitySeries = try reader.string(impact, "impact.intensity_series")
            if let series = self.impact.intensitySeries, !series.hasPrefix("/") {
                throw ConfigurationError(path: path, key: "impact.intensity_series", reason: "must be an absolute path")
            }
            do {
                _ = try settings(dataset: dataset)
            } catch {
                throw ConfigurationError(path: path, key: error.field.map { "impact.\($0)" }, reason: error.reason)
            }
        }
        if let estimate = try reader.table(table, "estimate") {
            try reader.onlyKnown(estimate, "estimate", ["cpu_tdp"])
            self.estimate.cpuTDP = try reader.number(estimate, "estimate.cpu_tdp")
            if let tdp = self.estimate.cpuTDP, !(tdp > 0 && tdp < 10_000) {
                throw ConfigurationError(
                    path: path, key: "estimate.cpu_tdp", reason: "must be a positive number of watts")
            }
        }
    }

    /// The file's impact settings alone (no flags), validated.
    func settings(dataset: GridDataset) throws(FieldError) -> CarbonSettings? {
        do {
            let pue = try impact.pue.map(PowerUsageEffectiveness.init) ?? .measuredMachine
            var price: ElectricityPrice?
            switch (impact.price, impact.currency) {
            case (nil, nil): price = nil
            case (let amount?, let currency?): price = try ElectricityPrice(perKilowattHour: amount, currency: currency)
            case (_?, nil): throw FieldError(field: "currency", reason: "price needs a currency")
            case (nil, _?): throw FieldError(field: "price", reason: "currency needs a price")
            }
            if let intensity = impact.intensity {
                return try .given(gramsPerKilowattHour: intensity, basis: impact.intensityBasis, pue: pue, price: price)
            }
            if let region = impact.region {
                return .region(try dataset.resolve(region), origin: .configuration, pue: pue, price: price)
            }
            return nil
        } catch let error as FieldError {
            throw error
        } catch let error as ImpactError {
            throw FieldError(error)
        } catch {
            throw FieldError(field: nil, reason: "\(error)")
        }
    }

    struct FieldError: Error {
        var field: String?
        var reason: String

        init(field: String?, reason: String) {
            self.field = field
            self.reason = reason
        }

        init(_ error: ImpactError) {
            switch error {
            case .invalidValue(let field, _, _), .invalidText(let field, _, _): self.field = field
            case .unknownRegion: field = "region"
            case .malformed: field = nil
            }
            reason = error.description
        }
    }

    /// Typed access to a TOML table that names the key in every error.
    struct Reader {
        var path: String

        func table(_ table: ConfigTable, _ key: String) throws(ConfigurationError) -> ConfigTable? {
            guard let value = table[key] else { return nil }
            guard let inner = value.table else {
                throw ConfigurationError(path: path, key: key, reason: "must be a table ([\(key)])")
            }
            return inner
        }

        func onlyKnown(_ table: ConfigTable, _ name: String, _ known: [String]) throws(ConfigurationError) {
            for key in table.keys where !known.contains(key) {
                throw ConfigurationError(
                    path: path, key: "\(name).\(key)", reason: "unknown key (known: \(known.joined(separator: ", ")))")
            }
        }

        func string(_ table: ConfigTable, _ key: String) throws(ConfigurationError) -> String? {
            guard let value = table[leaf(key)] else { return nil }
            guard let string = value.string else {
                throw ConfigurationError(path: path, key: key, reason: "must be a string")
            }
            return string
        }

        func number(_ table: ConfigTable, _ key: String) throws(ConfigurationError) -> Double? {
            guard let value = table[leaf(key)] else { return nil }
            if let double = value.double, double.isFinite { return double }
            if let int = value.int { return Double(int) }
            throw ConfigurationError(path: path, key: key, reason: "must be a finite number")
        }

        func strings(_ table: ConfigTable, _ key: String) throws(ConfigurationError) -> [String]? {
            guard let value = table[leaf(key)] else { return nil }
            guard let array = value.array, case let strings = array.compactMap(\.string), strings.count == array.count
            else {
                throw ConfigurationError(path: path, key: key, reason: "must be an array of strings")
            }
            return strings
        }

        private func leaf(_ key: String) -> String { String(key.split(separator: ".").last ?? "") }
    }
}
