import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reports as CodeCarbon's `emissions.csv`, one row per job, so notebooks and dashboards built on CodeCarbon keep
/// working. The columns, their order, names and units are those of CodeCarbon 3.3.2
/// (`codecarbon/output_methods/emissions_data.py`, `EmissionsData`; values as `emissions_tracker.py` fills them):
/// duration in s, emissions in kg CO2e, emissions_rate in kg/s, power in W, energy in kWh.
///
/// What sustain does not know is left empty, never 0: water, utilisation, coordinates, CPU count and model, RAM
/// size, Python version. Energy is what was measured: `cpu_energy` sums the counted package, core, uncore and psys
/// domains, `ram_energy` the counted dram, `gpu_energy` the counted GPUs; `energy_consumed` is the report's counted
/// total (which can hold other counted domains, such as a wall meter used alone); powers are those energies over the
/// duration. `timestamp` is the job's end in UTC (CodeCarbon writes local time), `tracking_mode` is `machine` (the
/// machine's energy during the job), `codecarbon_version` is empty and `project_name` is the job's `project`
/// label, else `sustain`.
public enum CodeCarbonCSV {
    /// The CodeCarbon release whose columns these are.
    public static let version = "3.3.2"

    public static let header = [
        "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
        "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed",
        "water_consumed", "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region", "os",
        "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude",
        "latitude", "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
        "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue",
    ]

    /// The whole file: the header and one row per report.
    public static func document(_ reports: [Report]) -> String {
        ([header] + reports.map(row)).map { $0.map(field).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// One report's row, in `header`'s order.
    public static func row(_ report: Report) -> [String] {
        func kWh(_ joules: Double?) -> String { joules.map { text($0 / 3_600_000) } ?? "" }
        func watts(_ joules: Double?) -> String {
            guard let joules, report.durationSeconds > 0 else { return "" }
            return text(joules / report.durationSeconds)
        }
        func counted(_ kinds: Set<String>) -> Double? {
            let domains = report.energy.domains.filter { $0.counted && kinds.contains($0.kind) }
            let values = domains.compactMap(\.joules)
            return values.isEmpty ? nil : values.reduce(0, +)
        }
        let cpu = counted(["package", "core", "uncore", "psys"])
        let ram = counted(["dram"])
        let gpu = counted(["gpu"])
        let carbon = report.carbon
        let region = carbon.region ?? ""
        let cloud = region.split(separator: ":", maxSplits: 1).map(String.init)
        let onCloud = cloud.count == 2 && ["aws", "gcp", "azure"].contains(cloud[0].lowercased())
        let gpuNames = report.gpus.map(\.name)
        let gpuModel =
            Set(gpuNames).count == 1 ? "\(gpuNames.count) x \(gpuNames[0])" : gpuNames.joined(separator: ", ")
        let fields: [String: String] = [
            "timestamp": timestamp(report.endedAt),
            "project_name": report.labels["project"] ?? "sustain",
            "run_id": report.id,
            "experiment_id": report.labels["experiment"] ?? "",
            "duration": text(report.durationSeconds),
            "emissions": carbon.kgCo2e.map(text) ?? "",
            "emissions_rate": carbon.kgCo2e.flatMap {
                report.durationSeconds > 0 ? text($0 / report.durationSeconds) : nil
            }
                ?? "",
            "cpu_power": watts(cpu), "gpu_power": watts(gpu), "ram_power": watts(ram),
            "cpu_energy": kWh(cpu), "gpu_energy": kWh(gpu), "ram_energy": kWh(ram),
            "energy_consumed": kWh(report.energy.joules),
            "country_name": onCloud ? "" : carbon.regionName ?? "",
            "country_iso_code": onCloud ? "" : carbon.regionCode ?? "",
            "region": onCloud ? "" : region,
            "cloud_provider": onCloud ? cloud[0] : "",
            "cloud_region": onCloud ? cloud[1] : "",
            "os": "Linux-\(report.host.kernel)",
            "gpu_count": report.gpus.isEmpty ? "" : String(report.gpus.count),
            "gpu_model": gpuModel,
            "tracking_mode": "machine",
            "on_cloud": onCloud ? "Y" : "N",
            "pue": text(carbon.pue),
        ]
        return header.map { fields[$0] ?? "" }
    }

    /// A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. A text that a spreadsheet
    /// would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return, and is not a
    /// number) gets a leading `'`, as OWASP's CSV-injection rule says: a label or command such as
    /// `=HYPERLINK(…)` or `+cmd|…` is shown, never evaluated.
    public static func field(_ value: String) -> String {
        let neutral =
            value.first.map { "=+-@\t\r".contains($0) } == true && Double(value)?.isFinite != true ? "'" + value : value
        return neutral.contains(where: { ",\"\n\r".contains($0) })
            ? "\"" + neutral.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
            : neutral
    }

    static func text(_ value: Double) -> String { "\(value)" }

    /// `%Y-%m-%dT%H:%M:%S`, as CodeCarbon writes it (here in UTC).
    static func timestamp(_ date: Date) -> String {
        String(UTCTimestamp.string(millisecondsSince1970: Int64(date.timeIntervalSince1970 * 1000)).prefix(19))
    }
}
