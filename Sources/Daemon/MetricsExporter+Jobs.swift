import SustainAPI

/// The per-job series of `/metrics`, written here rather than through swift-prometheus's registry: the registry
/// copies a metric family on every new label set (the store still holds it while it is extended), so 10,000
/// finished jobs (40,000 series) took 13 s to render, past Prometheus's 10 s scrape timeout. This writer is one
/// pass over the counters, in the text exposition format 0.0.4, with the registry's escaping of label values.
struct JobSeriesText {
    private(set) var bytes: [UInt8] = []

    /// Starts a family: its `# HELP` and `# TYPE` lines.
    mutating func family(_ name: String, type: String, help: String) {
        bytes += Array("# HELP \(name) \(help)\n# TYPE \(name) \(type)\n".utf8)
    }

    /// One sample line: `name{label="value",...} value`.
    mutating func sample(_ name: String, labels: [(String, String)], value: Double) {
        bytes += Array(name.utf8)
        bytes.append(UInt8(ascii: "{"))
        for (index, (key, text)) in labels.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += Array(key.utf8)
            bytes += Array("=\"".utf8)
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): bytes += Array("\\\\".utf8)
                case UInt8(ascii: "\""): bytes += Array("\\\"".utf8)
                case UInt8(ascii: "\n"): bytes += Array("\\n".utf8)
                default: bytes.append(byte)
                }
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes += Array("} \(Self.number(value))\n".utf8)
    }

    /// A sample value as Prometheus reads it (`+Inf`, `-Inf`, `NaN` spelt its way).
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return "\(value)"
    }
}

extension JobSeriesText {
    /// The watched servers' series: energy, carbon and units as counters, and whether each is found.
    mutating func watches(_ counters: [WatchCounter]) {
        guard !counters.isEmpty else { return }
        family(
            MetricName.watchEnergy, type: "counter",
            help: "A watched server's energy (attributed CPU-side share and its GPUs) since watched, in joules")
        for counter in counters {
            sample(MetricName.watchEnergy, labels: [("watch", counter.name)], value: counter.joules)
        }
        family(
            MetricName.watchCarbon, type: "counter",
            help: "A watched server's emissions at the grid's intensity as it went, in grams CO2e")
        for counter in counters {
            sample(MetricName.watchCarbon, labels: [("watch", counter.name)], value: counter.grams)
        }
        // The family is declared whenever a server is watched, its samples once units are counted.
        family(MetricName.watchUnits, type: "counter", help: "A watched server's units of work since watched")
        do {
            for counter in counters {
                guard let units = counter.units else { continue }
                sample(MetricName.watchUnits, labels: [("watch", counter.name), ("unit", counter.unit)], value: units)
            }
        }
        containers(
            MetricName.watchContainer, help: "The container or pod a watched server runs in, from its cgroup path",
            counters.compactMap { counter in counter.container.map { ([("watch", counter.name)], $0) } })
        family(MetricName.watchUp, type: "gauge", help: "1 while a watched server is found, 0 while not")
        for counter in counters {
            sample(MetricName.watchUp, labels: [("watch", counter.name)], value: counter.up ? 1 : 0)
        }
        if counters.contains(where: { $0.unitsUp != nil }) {
            family(MetricName.watchUnitsUp, type: "gauge", help: "1 while a watched server's units endpoint answers")
            for counter in counters {
                guard let up = counter.unitsUp else { continue }
                sample(MetricName.watchUnitsUp, labels: [("watch", counter.name)], value: up ? 1 : 0)
            }
        }
    }
}

extension JobSeriesText {
    /// An info family (value 1): each entity's labels and its container's, in a fixed order.
    mutating func containers(_ name: String, help: String, _ entries: [([(String, String)], [String: String])]) {
        guard !entries.isEmpty else { return }
        family(name, type: "gauge", help: help)
        for (identity, container) in entries {
            sample(name, labels: identity + container.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, value: 1)
        }
    }
}
