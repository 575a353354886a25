/// Numeric precision of the arithmetic a job runs in.
public enum Precision: String, Sendable, Hashable, CaseIterable, Codable {
    case fp64, fp32, tf32, bf16, fp16, fp8, int8
}

/// An accelerator or CPU from the bundled hardware table (`config/hardware.csv`): dense peak throughput per
/// precision and board power (TDP).
public struct Hardware: Sendable, Hashable {
    public var name: String
    /// "gpu" or "cpu".
    public var kind: String
    /// Dense peak, FLOP/s, per precision the part supports.
    public var peakFLOPsPerSecond: [Precision: Double]
    /// Board power or TDP.
    public var power: Double
    public var source: String
    /// For CPUs: text that identifies the part in /proc/cpuinfo's model name.
    public var modelMatch: String?

    public init(
        name: String, kind: String, peakFLOPsPerSecond: [Precision: Double], power: Double, source: String,
        modelMatch: String? = nil
    ) {
        self.name = name
        self.kind = kind
        self.peakFLOPsPerSecond = peakFLOPsPerSecond
        self.power = power
        self.source = source
        self.modelMatch = modelMatch
    }

    /// This device's power with `other`'s name, peaks and source (for a table part with a given power).
    public func withPeaks(of other: Hardware) -> Hardware {
        Hardware(
            name: other.name, kind: other.kind, peakFLOPsPerSecond: other.peakFLOPsPerSecond, power: power,
            source: other.source + "; power given with --power")
    }

    /// A device described by the user: one dense peak for every precision, and its power.
    public static func given(peakTFLOPs: Double, power: Double) throws(ImpactError) -> Hardware {
        guard peakTFLOPs.isFinite, peakTFLOPs >= 0.001, peakTFLOPs < 1_000_000 else {
            throw .invalidValue(
                field: "peak-tflops", value: peakTFLOPs, expected: "a dense peak from 0.001 to 999999 TFLOP/s")
        }
        guard power.isFinite, power > 0, power < 100_000 else {
            throw .invalidValue(field: "power", value: power, expected: "a positive power in watts")
        }
        let peaks = Dictionary(uniqueKeysWithValues: Precision.allCases.map { ($0, peakTFLOPs * 1e12) })
        return Hardware(
            name: "given", kind: "gpu", peakFLOPsPerSecond: peaks, power: power,
            source: "given with --peak-tflops and --power")
    }
}

/// The bundled hardware table.
public struct HardwareTable: Sendable {
    public let parts: [Hardware]

    public static let bundled: HardwareTable = {
        do {
            return try HardwareTable(csv: BundledData.hardware)
        } catch {
            preconditionFailure("the bundled hardware table is malformed: \(error)")
        }
    }()

    public init(csv: String) throws(ImpactError) {
        var parts: [Hardware] = []
        for (line, row) in CSV.records(csv) {
            guard let name = row["name"], !name.isEmpty, let kind = row["kind"], let source = row["source"],
                !source.isEmpty
            else {
                throw .malformed(
                    file: "hardware.csv", line: line, field: "name", reason: "missing name, kind or source")
            }
            guard let power = row["power_watts"].flatMap(Double.init), power > 0 else {
                throw .malformed(
                    file: "hardware.csv", line: line, field: "power_watts", reason: "not a positive number")
            }
            var peaks: [Precision: Double] = [:]
            for precision in Precision.allCases {
                let column = precision == .int8 ? "int8_tops" : "\(precision.rawValue)_tflops"
                guard let text = row[column], !text.isEmpty else { continue }
                guard let tera = Double(text), tera > 0 else {
                    throw .malformed(file: "hardware.csv", line: line, field: column, reason: "not a positive number")
                }
                peaks[precision] = tera * 1e12
            }
            parts.append(
                Hardware(
                    name: name, kind: kind, peakFLOPsPerSecond: peaks, power: power, source: source,
                    modelMatch: row["cpu_model_match"].flatMap { $0.isEmpty ? nil : $0 }))
        }
        self.parts = parts
    }

    /// The part named `name` (case-insensitive), or an error listing the known parts.
    public func part(_ name: String) throws(ImpactError) -> Hardware {
        if let part = parts.first(where: { $0.name.lowercased() == name.lowercased() }) { return part }
        throw .invalidText(
            field: "hardware", value: name,
            expected: "one of \(parts.map(\.name).joined(separator: ", ")), or --peak-tflops and --power")
    }
}
