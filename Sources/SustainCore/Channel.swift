/// Where a channel's readings come from.
public enum ChannelSource: String, Sendable, Codable, Hashable {
    /// The Linux power capping framework (RAPL), read through libpowercap.
    case powercap
    /// hwmon sensors, read through libsensors.
    case hwmon
    /// NVIDIA GPUs, read through NVML.
    case nvml
}

/// What part of the machine a channel covers. Decides whether it is counted (see `DomainPolicy`).
public enum DomainKind: String, Sendable, Codable, Hashable, CaseIterable {
    /// A CPU package (socket, or one die of it).
    case package
    /// The cores of a package (part of the package).
    case core
    /// The uncore or integrated GPU of a package (part of the package).
    case uncore
    /// Memory attached to a package (not part of the package).
    case dram
    /// The whole platform or SoC (covers package and dram and more).
    case psys
    /// A whole-system meter, such as the ACPI power meter at the wall.
    case platform
    /// A GPU board.
    case gpu
    /// Anything else: shown, not counted, because its coverage is unknown.
    case other
}

/// What a channel measures.
public enum ChannelQuantity: Sendable, Hashable {
    /// A cumulative energy counter in microjoules.
    case energyCounter(CounterRange)
    /// Instantaneous or averaged power, integrated over time.
    case power
    /// A temperature; reported, never integrated.
    case temperature
}

/// A stable identifier of a channel: `intel-rapl:0:2` for a powercap zone, `power_meter-acpi-0/power1` for a
/// hwmon feature.
public struct ChannelID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public static func < (lhs: ChannelID, rhs: ChannelID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// Everything known about a channel before it is sampled.
public struct ChannelDescriptor: Sendable, Hashable {
    public var id: ChannelID
    public var source: ChannelSource
    /// The zone name (`package-0`, `dram`) or the sensors label (`power1`, `PPT`).
    public var name: String
    public var kind: DomainKind
    public var quantity: ChannelQuantity
    /// The powercap control type (`intel-rapl`, `intel-rapl-mmio`) or the hwmon chip name as `sensors` prints it
    /// (`power_meter-acpi-0`).
    public var group: String
    /// Where the value is read from, for messages (`/sys/class/powercap/intel-rapl/intel-rapl:0/energy_uj`).
    public var path: String
    /// Why the channel cannot be read, when it cannot; nil when the first read succeeded.
    public var unreadable: String?
    /// The longest sampling interval this channel tolerates (a polled power sensor), when it has one.
    public var maximumInterval: Duration?

    public init(
        id: ChannelID, source: ChannelSource, name: String, kind: DomainKind, quantity: ChannelQuantity,
        group: String, path: String, unreadable: String? = nil, maximumInterval: Duration? = nil
    ) {
        self.id = id
        self.source = source
        self.name = name
        self.kind = kind
        self.quantity = quantity
        self.group = group
        self.path = path
        self.unreadable = unreadable
        self.maximumInterval = maximumInterval
    }

    /// True for channels that carry energy (counters and power), false for temperatures.
    public var isEnergy: Bool {
        if case .temperature = quantity { return false }
        return true
    }
}

/// One reading of one channel.
public enum Reading: Sendable, Equatable {
    case counter(MicrojouleCounter)
    case power(Watts)
    case temperature(Celsius)
    /// The read failed (empty, non-numeric, vanished file, I/O error): the sample is skipped and counted.
    case failed(ReadFailure)
}

/// Why one read failed. A plain value (no strings) so that readings cost nothing to copy.
public struct ReadFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case permissionDenied
        case empty
        case nonNumeric
        case vanished
        case invalidValue
        /// Another errno from the system.
        case system
        /// A libsensors status code (`SENSORS_ERR_*`), which `sensors_strerror` describes.
        case sensors(Int32)
        /// The GPU fell off the bus or stopped answering (NVML_ERROR_GPU_IS_LOST).
        case deviceLost
        /// Another NVML return code.
        case nvml(Int32)
    }

    public var reason: Reason
    /// The errno, when the failure came from the system; 0 otherwise.
    public var errno: Int32

    public init(_ reason: Reason, errno: Int32 = 0) {
        self.reason = reason
        self.errno = errno
    }

    public var description: String {
        switch reason {
        case .permissionDenied: "permission denied"
        case .empty: "empty value"
        case .nonNumeric: "non-numeric value"
        case .vanished: "file vanished"
        case .invalidValue: "invalid value"
        case .system: "I/O error (errno \(errno))"
        case .sensors(let code): Self.sensorsMessages[code] ?? "libsensors error \(code)"
        case .deviceLost: "GPU lost (NVML_ERROR_GPU_IS_LOST)"
        case .nvml(let code): "NVML error \(code)"
        }
    }

    /// libsensors' own messages (`sensors_strerror`), by `SENSORS_ERR_*` code.
    static let sensorsMessages: [Int32: String] = [
        1: "wildcard found in chip name", 2: "no such subfeature known", 3: "can't read",
        4: "kernel interface error (file vanished or unreadable)", 5: "divide by zero", 6: "can't parse chip name",
        7: "can't access procfs/sysfs file", 8: "can't read (permission denied?)", 9: "can't set",
        10: "device or resource busy", 11: "general parse error",
    ]
}
