import LinuxSupport
import SustainCore

extension Configuration {
    /// `[[watch]]`: a deployed model's server the service measures continuously, and its unit of work.
    public struct Watch: Sendable, Equatable {
        /// What the server is: its cgroup (as in `/proc/PID/cgroup`), a systemd unit (resolved to its cgroup), or a
        /// pid file (the process's cgroup).
        public enum Target: Sendable, Equatable {
            case cgroup(String)
            case unit(String)
            case pidFile(String)
        }

        /// `name` (string, 1 to 64 of `[A-Za-z0-9._-]`, unique): the `watch` label of its metrics and reports.
        public var name: String
        /// Exactly one of `cgroup`, `unit` (a systemd unit), `pid_file`.
        public var target: Target
        /// `units_url` (string, `http://host:port/path`): the server's own Prometheus endpoint.
        public var unitsURL: String?
        /// `units_metric` (string): the counter of its unit of work, with optional matchers
        /// (`vllm:generation_tokens_total`, `http_requests_total{code="200"}`).
        public var unitsMetric: UnitsSelector?
        /// `units_name` (string, a word): what one unit is (`token`, `request`). Default "unit". (Not `unit`:
        /// that key names a systemd unit.)
        public var unit: String

        public init(
            name: String, target: Target, unitsURL: String? = nil, unitsMetric: UnitsSelector? = nil,
            unit: String = "unit"
        ) {
            self.name = name
            self.target = target
            self.unitsURL = unitsURL
            self.unitsMetric = unitsMetric
            self.unit = unit
        }
    }

    /// The `[[watch]]` tables, each checked; a bad one is rejected with its index and key.
    static func watches(_ value: ConfigValue, path: String) throws(ConfigurationError) -> [Watch] {
        guard let array = value.array else {
            throw ConfigurationError(path: path, key: "watch", reason: "must be [[watch]] tables")
        }
        let reader = Reader(path: path)
        var watches: [Watch] = []
        for (index, element) in array.enumerated() {
            let key = "watch[\(index)]"
            guard let table = element.table else {
                throw ConfigurationError(path: path, key: key, reason: "must be a table ([[watch]])")
            }
            try reader.onlyKnown(
                table, key, ["name", "cgroup", "unit", "pid_file", "units_url", "units_metric", "units_name"])
            guard let name = try reader.string(table, "\(key).name") else {
                throw ConfigurationError(path: path, key: "\(key).name", reason: "every [[watch]] needs a name")
            }
            guard Self.isWatchName(name) else {
                throw ConfigurationError(
                    path: path, key: "\(key).name", reason: "must be 1 to 64 of letters, digits, '.', '_' and '-'")
            }
            guard !watches.contains(where: { $0.name == name }) else {
                throw ConfigurationError(path: path, key: "\(key).name", reason: "\"\(name)\" is already watched")
            }
            let cgroup = try reader.string(table, "\(key).cgroup")
            let unitName = try reader.string(table, "\(key).unit")
            let pidFile = try reader.string(table, "\(key).pid_file")
            var targets: [Watch.Target] = []
            if let cgroup {
                guard cgroup.hasPrefix("/"), !cgroup.split(separator: "/").contains(".."),
                    !cgroup.unicodeScalars.contains(where: { $0.value < 0x20 })
                else {
                    throw ConfigurationError(
                        path: path, key: "\(key).cgroup", reason: "must be an absolute cgroup path without '..'")
                }
                targets.append(.cgroup(cgroup))
            }
            if let unitName {
                guard [".service", ".scope", ".slice"].contains(where: { unitName.hasSuffix($0) }),
                    !unitName.contains("/"), unitName.utf8.count <= 256
                else {
                    throw ConfigurationError(
                        path: path, key: "\(key).unit",
                        reason: "must be a systemd unit name ending in .service, .scope or .slice")
                }
                targets.append(.unit(unitName))
            }
            if let pidFile {
                guard pidFile.hasPrefix("/") else {
                    throw ConfigurationError(path: path, key: "\(key).pid_file", reason: "must be an absolute path")
                }
                targets.append(.pidFile(pidFile))
            }
            guard targets.count == 1, let target = targets.first else {
                throw ConfigurationError(
                    path: path, key: key, reason: "needs exactly one of cgroup, unit (a systemd unit) and pid_file")
            }
            let url = try reader.string(table, "\(key).units_url")
            if let url {
                guard (try? PlainHTTPURL(url)) != nil, url.utf8.count <= 2048,
                    !url.unicodeScalars.contains(where: { $0.value <= 0x20 })
                else {
                    throw ConfigurationError(
                        path: path, key: "\(key).units_url",
                        reason: "must be an http://host:port/path URL (the server's own metrics endpoint)")
                }
            }
            var selector: UnitsSelector?
            if let metric = try reader.string(table, "\(key).units_metric") {
                do {
                    selector = try UnitsSelector(metric)
                } catch {
                    throw ConfigurationError(path: path, key: "\(key).units_metric", reason: error.description)
                }
            }
            guard (url == nil) == (selector == nil) else {
                throw ConfigurationError(
                    path: path, key: key, reason: "units_url and units_metric go together (the counter and where it is)"
                )
            }
            let units = try reader.string(table, "\(key).units_name") ?? "unit"
            guard Self.isUnitName(units) else {
                throw ConfigurationError(
                    path: path, key: "\(key).units_name", reason: "must be a word such as \"token\" or \"request\"")
            }
            watches.append(
                Watch(name: name, target: target, unitsURL: url, unitsMetric: selector, unit: units))
        }
        return watches
    }

    /// What one unit of work is called (`token`, `request`): a watch name of at most 32 bytes. The configuration,
    /// `attach --units-name` and the service's check of an attach's units all use this one rule.
    public static func isUnitName(_ name: String) -> Bool { isWatchName(name) && name.utf8.count <= 32 }

    public static func isWatchName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                    || "._-".unicodeScalars.contains($0)
            }
    }
}
