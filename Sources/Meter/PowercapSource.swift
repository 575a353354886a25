internal import CPowercap
import Glibc
import LinuxSupport
import Logging
import SustainCore

/// RAPL and every other powercap control type, through libpowercap: all zones and subzones at every depth, each
/// zone's `energy_uj` opened once and read with `pread` (libpowercap's fd API).
public final class PowercapSource: EnergySource, @unchecked Sendable {
    public let name = "powercap"
    public private(set) var channels: [ChannelDescriptor] = []
    public private(set) var diagnostics: [String] = []

    /// The root libpowercap walks; compiled into libpowercap, listed here only to enumerate control types.
    public static let root = "/sys/class/powercap"

    /// Plausible maximum power per kind, generous on purpose: it only tells a wrap from a reset and bounds the
    /// sampling interval, and a bound below real power would drop real energy as a "reset".
    public static let defaultPlausibleMaxPower: [DomainKind: Watts] = [
        .package: Watts(1000), .core: Watts(1000), .uncore: Watts(500), .dram: Watts(500), .psys: Watts(2000),
    ]
    /// Headroom over a zone's own `constraint_*_max_power_uw`: short bursts (PL2, PL4) run well above it.
    public static let constraintHeadroom = 4.0

    /// The plausible maximum for a zone: the larger of its kind's default and 4 × its largest constraint maximum.
    static func plausibleMaxPower(kind: DomainKind, constraintMaximum: Watts?) -> Watts {
        let byKind = defaultPlausibleMaxPower[kind] ?? Watts(1000)
        guard let constraintMaximum else { return byKind }
        return max(byKind, Watts(constraintMaximum.value * constraintHeadroom))
    }

    private var zones: [powercap_zone] = []

    public init(logger: Logger) {
        let types = Self.controlTypes()
        if types.isEmpty {
            diagnostics.append(
                "no powercap control types under \(Self.root) (no RAPL driver loaded, a VM, or a container "
                    + "without /sys/class/powercap)")
        }
        for type in types {
            walk(controlType: type, parent: [], logger: logger)
        }
    }

    /// The open `energy_uj` descriptors of readable zones, in channel order; for the benchmark's raw-read baseline.
    public var energyFileDescriptors: [Int32] {
        zip(channels, zones).filter { $0.0.unreadable == nil }.map { $0.1.energy_uj }
    }

    deinit {
        for zone in zones where zone.energy_uj >= 0 { close(zone.energy_uj) }
    }

    /// Reads `energy_uj` with one `pread` on the fd libpowercap opened. The text is parsed strictly here rather
    /// than by `powercap_zone_get_energy_uj`, whose `strtoull` turns non-numeric text into 0 (a false reset) and
    /// reads a leading `0` as octal.
    public func read(_ index: Int) -> Reading {
        let fd = zones[index].energy_uj
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            let count = pread(fd, buffer.baseAddress, 32, 0)
            if count < 0 { return .failed(Self.failure(errno)) }
            guard let value = Self.parseCounter(UnsafeBufferPointer(rebasing: buffer[..<count])) else {
                return .failed(Self.failure(count == 0 ? ENODATA : EILSEQ))
            }
            return .counter(MicrojouleCounter(value))
        }
    }

    /// A decimal counter as sysfs writes it: optional leading blanks, digits, optional trailing whitespace.
    /// Nil for empty, non-numeric or overflowing text.
    static func parseCounter(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        var index = 0
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
        var value: UInt64 = 0
        var digits = 0
        while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 {
            let digit = UInt64(bytes[index] &- UInt8(ascii: "0"))
            if digits < 19 {
                value = value &* 10 &+ digit  // 19 digits cannot overflow 64 bits
            } else {
                let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(digit)
                if overflow1 || overflow2 { return nil }
                value = sum
            }
            digits += 1
            index += 1
        }
        guard digits > 0 else { return nil }
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), 0: index += 1
            default: return nil
            }
        }
        return value
    }

    /// The control types present: entries of the powercap class without a `:` (`intel-rapl`, `intel-rapl-mmio`).
    static func controlTypes() -> [String] {
        SafeFile.names(in: root, prefix: "").filter { name in
            !name.hasPrefix(".") && !name.contains(":") && powercap_sysfs_control_type_exists(name) == 0
        }
        .sorted()
    }

    /// Visits the zones below `parent` (kernel ids are contiguous from 0; a short gap is tolerated).
    private func walk(controlType: String, parent: [UInt32], logger: Logger) {
        var misses = 0
        var index: UInt32 = 0
        while misses < 4 {
            let path = parent + [index]
            index += 1
            guard powercap_sysfs_zone_exists(controlType, path, UInt32(path.count)) == 0 else {
                misses += 1
                continue
            }
            misses = 0
            addZone(controlType: controlType, path: path, logger: logger)
            walk(controlType: controlType, parent: path, logger: logger)
        }
    }

    private func addZone(controlType: String, path: [UInt32], logger: Logger) {
        let depth = UInt32(path.count)
        let id = ([controlType] + path.map { String($0, radix: 16) }).joined(separator: ":")
        let directory =
            Self.root + "/" + controlType
            + (1...path.count).map { n in
                "/" + ([controlType] + path.prefix(n).map { String($0, radix: 16) }).joined(separator: ":")
            }.joined()

        var nameBuffer = [CChar](repeating: 0, count: 256)
        let nameLength = powercap_sysfs_zone_get_name(controlType, path, depth, &nameBuffer, nameBuffer.count)
        let zoneName =
            nameLength > 0
            ? String(decoding: nameBuffer.prefix(Int(nameLength)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .trimmingTrailingNewlines()
            : id
        let kind = DomainKind.powercapZone(named: zoneName)

        var maxRange: UInt64 = 0
        let rangeRC = powercap_sysfs_zone_get_max_energy_range_uj(controlType, path, depth, &maxRange)
        var maxPower: UInt64 = 0
        for constraint in 0..<UInt32(4) {
            var value: UInt64 = 0
            if powercap_sysfs_constraint_get_max_power_uw(controlType, path, depth, constraint, &value) == 0 {
                maxPower = max(maxPower, value)
            }
        }
        let plausible = Self.plausibleMaxPower(
            kind: kind, constraintMaximum: maxPower > 0 ? Watts(microwatts: maxPower) : nil)
        let range = CounterRange(
            maxMicrojoules: rangeRC == 0 && maxRange > 0 ? maxRange : nil,
            plausibleMaxPower: plausible)

        var zone = powercap_zone(
            max_energy_range_uj: -1, energy_uj: -1, max_power_range_uw: -1, power_uw: -1, enabled: -1, name: -1)
        let fd = powercap_zone_file_open(&zone, POWERCAP_ZONE_FILE_ENERGY_UJ, controlType, path, depth, O_RDONLY)
        var unreadable: String?
        if fd < 0 {
            let code = fd == -1 ? errno : -fd
            unreadable = Self.failure(code).description
            zone.energy_uj = -1
            logger.debug("cannot open energy_uj", metadata: ["zone": "\(id)", "errno": "\(code)"])
        } else {
            var value: UInt64 = 0
            let rc = powercap_zone_get_energy_uj(&zone, &value)
            if rc < 0 { unreadable = Self.failure(rc == -1 ? errno : -rc).description }
        }
        if rangeRC != 0 && unreadable == nil {
            diagnostics.append("\(id): max_energy_range_uj unreadable; wraps cannot be told from resets")
        }
        zones.append(zone)
        channels.append(
            ChannelDescriptor(
                id: ChannelID(id), source: .powercap, name: zoneName, kind: kind, quantity: .energyCounter(range),
                group: controlType, path: directory + "/energy_uj", unreadable: unreadable))
    }

    static func failure(_ code: Int32) -> ReadFailure {
        switch code {
        case EACCES, EPERM: ReadFailure(.permissionDenied, errno: code)
        case ENODATA: ReadFailure(.empty, errno: code)
        case EILSEQ: ReadFailure(.nonNumeric, errno: code)
        case ENOENT, ENODEV, ENOSYS: ReadFailure(.vanished, errno: code)
        default: ReadFailure(.system, errno: code)
        }
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var result = Substring(self)
        while let last = result.last, last == "\n" || last == " " || last == "\0" { result = result.dropLast() }
        return String(result)
    }
}

/// One RAPL constraint of a zone, as read: its name (`long_term`, `short_term`), its limit and the zone's maximum.
public struct PowercapConstraint: Sendable, Equatable {
    /// The zone's id (`intel-rapl:0`).
    public let zone: String
    public let index: UInt32
    public let name: String?
    public let limitMicrowatts: UInt64
    /// `constraint_N_max_power_uw`, when the zone has one (absent or 0 on many).
    public let maxMicrowatts: UInt64?
}

/// The power limits of RAPL zones, read and set through libpowercap's setters (root): the hardware half of power
/// caps (#21). A value written is read back: the kernel may refuse it (EINVAL outside the part's range, a locked
/// domain) or firmware may rewrite it, so a write that did not take is an error, never assumed.
public enum PowercapControl {
    /// `intel-rapl:0:1` as its control type and zone path.
    static func address(_ zone: String) -> (controlType: String, path: [UInt32])? {
        let parts = zone.split(separator: ":").map(String.init)
        guard parts.count >= 2, !parts[0].isEmpty else { return nil }
        let path = parts.dropFirst().compactMap { UInt32($0, radix: 16) }
        return path.count == parts.count - 1 ? (parts[0], path) : nil
    }

    /// Each package zone's (depth 1) constraint named `long_term`, the sustained limit (PL1), of every control
    /// type present.
    public static func packageLongTermConstraints() -> [PowercapConstraint] {
        PowercapSource.controlTypes().flatMap { controlType -> [PowercapConstraint] in
            (0..<UInt32(64)).compactMap { index -> PowercapConstraint? in
                guard powercap_sysfs_zone_exists(controlType, [index], 1) == 0 else { return nil }
                let zone = "\(controlType):\(String(index, radix: 16))"
                return (0..<UInt32(4)).lazy.compactMap { try? read(zone: zone, constraint: $0).get() }
                    .first { $0.name == "long_term" }
            }
        }
    }

    /// One constraint's name, limit and maximum.
    public static func read(zone: String, constraint: UInt32) -> Result<PowercapConstraint, SystemError> {
        guard let (controlType, path) = address(zone) else {
            return .failure(SystemError("powercap zone", subject: zone, errno: EINVAL))
        }
        var limit: UInt64 = 0
        let rc = powercap_sysfs_constraint_get_power_limit_uw(controlType, path, UInt32(path.count), constraint, &limit)
        guard rc == 0 else {
            return .failure(SystemError("read power_limit_uw", subject: "\(zone) constraint \(constraint)", errno: -rc))
        }
        var buffer = [CChar](repeating: 0, count: 64)
        let length = powercap_sysfs_constraint_get_name(
            controlType, path, UInt32(path.count), constraint, &buffer, buffer.count)
        let name =
            length > 0
            ? String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .trimmingTrailingNewlines() : nil
        var maximum: UInt64 = 0
        let maxRC = powercap_sysfs_constraint_get_max_power_uw(
            controlType, path, UInt32(path.count), constraint, &maximum)
        return .success(
            PowercapConstraint(
                zone: zone, index: constraint, name: name, limitMicrowatts: limit,
                maxMicrowatts: maxRC == 0 && maximum > 0 ? maximum : nil))
    }

    /// Sets a constraint's limit and reads it back; an error when the write failed or did not take.
    public static func setLimit(zone: String, constraint: UInt32, microwatts: UInt64) throws(SystemError) {
        guard let (controlType, path) = address(zone) else {
            throw SystemError("powercap zone", subject: zone, errno: EINVAL)
        }
        let subject = "\(zone) constraint \(constraint)"
        let rc = powercap_sysfs_constraint_set_power_limit_uw(
            controlType, path, UInt32(path.count), constraint, microwatts)
        guard rc == 0 else { throw SystemError("write power_limit_uw", subject: subject, errno: -rc) }
        var readBack: UInt64 = 0
        let readRC = powercap_sysfs_constraint_get_power_limit_uw(
            controlType, path, UInt32(path.count), constraint, &readBack)
        guard readRC == 0, readBack == microwatts else {
            throw SystemError("power_limit_uw did not take (read back \(readBack))", subject: subject, errno: EIO)
        }
    }
}
