import SustainCore

/// An estimate of a job's energy where no counter or meter exists (VMs, containers), from what the kernel
/// accounts for the job: its CPU time and its peak memory. Conventions, each documented in the README:
///
/// - CPU: `TDP ÷ logical CPUs × CPU-seconds`: each busy logical CPU draws an equal share of the package's TDP.
/// - Memory: `0.375 W per GB × peak RSS × duration` (3 W per 8 GB DIMM; the convention CodeCarbon 2.x used).
public struct FallbackEstimate: Sendable, Hashable {
    /// Where the CPU power figure came from.
    public enum PowerOrigin: Sendable, Hashable {
        /// `--cpu-tdp`.
        case given
        /// The bundled table, matched by the CPU model name.
        case table(String)
        /// The default: `defaultWattsPerLogicalCPU` × logical CPUs (CodeCarbon 3.x: 4 W per thread).
        case perThreadDefault
    }

    public static let defaultWattsPerLogicalCPU = 4.0
    public static let memoryWattsPerGigabyte = 0.375

    public var cpuSeconds: Double
    public var logicalCPUs: Int
    public var tdp: Watts
    public var powerOrigin: PowerOrigin
    public var maxResidentBytes: UInt64
    public var durationSeconds: Double

    public init(
        cpuSeconds: Double, logicalCPUs: Int, tdp: Watts?, cpuModel: String?, maxResidentBytes: UInt64,
        durationSeconds: Double, hardware: HardwareTable = .bundled
    ) {
        self.cpuSeconds = max(0, cpuSeconds)
        self.logicalCPUs = max(1, logicalCPUs)
        self.maxResidentBytes = maxResidentBytes
        self.durationSeconds = max(0, durationSeconds)
        if let tdp {
            self.tdp = tdp
            powerOrigin = .given
        } else if let model = cpuModel, let part = hardware.cpu(matching: model) {
            self.tdp = Watts(part.power)
            powerOrigin = .table(part.name)
        } else {
            self.tdp = Watts(Self.defaultWattsPerLogicalCPU * Double(max(1, logicalCPUs)))
            powerOrigin = .perThreadDefault
        }
    }

    /// The CPU share: TDP ÷ logical CPUs × CPU-seconds.
    public var cpu: Joules { Joules(tdp.value / Double(logicalCPUs) * cpuSeconds) }

    /// The memory share: 0.375 W/GB × peak RSS (GB, 10^9 bytes) × duration.
    public var memory: Joules {
        Joules(Self.memoryWattsPerGigabyte * Double(maxResidentBytes) / 1e9 * durationSeconds)
    }

    public var total: Joules { cpu + memory }

    /// How the CPU figure was reached, for the report.
    public var cpuNote: String {
        let origin: String
        switch powerOrigin {
        case .given: origin = "given with --cpu-tdp"
        case .table(let name): origin = "\(name) in the bundled table"
        case .perThreadDefault:
            origin = "default \(Self.defaultWattsPerLogicalCPU) W per logical CPU (CPU model not in the table)"
        }
        return "estimated, not measured: \(cpuSeconds) CPU-s × \(tdp.value) W TDP (\(origin)) ÷ \(logicalCPUs) "
            + "logical CPUs"
    }

    public var memoryNote: String {
        "estimated, not measured: \(Self.memoryWattsPerGigabyte) W/GB × peak RSS \(Double(maxResidentBytes) / 1e9) GB "
            + "× \(durationSeconds) s"
    }
}

extension HardwareTable {
    /// The CPU whose `cpu_model_match` text appears in `model` (as /proc/cpuinfo names it).
    public func cpu(matching model: String) -> Hardware? {
        parts.first { part in
            guard part.kind == "cpu", let match = part.modelMatch, !match.isEmpty else { return false }
            return model.lowercased().contains(match.lowercased())
        }
    }
}
