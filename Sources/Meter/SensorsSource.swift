internal import CSensors
import Glibc
import Logging
import SustainCore
import Synchronization

/// hwmon chips through libsensors: power (`average`, else `input`), energy and temperature features of every chip,
/// values scaled by libsensors (W, J, °C), chips named as `sensors` prints them.
///
/// libsensors keeps process-global state; only one `SensorsSource` may be alive at a time (it owns
/// `sensors_init`/`sensors_cleanup`), and it is read only by the sampler's thread.
public final class SensorsSource: EnergySource, @unchecked Sendable {
    public let name = "hwmon"
    public private(set) var channels: [ChannelDescriptor] = []
    public private(set) var diagnostics: [String] = []

    private struct Subfeature {
        let chip: UnsafePointer<sensors_chip_name>
        let number: Int32
        let isEnergy: Bool
    }
    private var subfeatures: [Subfeature] = []
    private let initialized: Bool

    private static let owner = Mutex(false)

    /// Plausible ceiling for hwmon energy counters (they are 64-bit and do not wrap).
    public static let plausibleMaxPower = Watts(10_000)

    public init(logger: Logger) {
        let claimed = Self.owner.withLock { busy in
            if busy { return false }
            busy = true
            return true
        }
        guard claimed else {
            initialized = false
            diagnostics.append("libsensors is already in use by another reader in this process")
            return
        }
        let rc = sensors_init(nil)
        guard rc == 0 else {
            initialized = false
            Self.owner.withLock { $0 = false }
            diagnostics.append("libsensors could not start: \(Self.message(rc)) (check /etc/sensors3.conf)")
            return
        }
        initialized = true
        discover(logger: logger)
        if channels.isEmpty {
            diagnostics.append("no hwmon power, energy or temperature sensors under /sys/class/hwmon")
        }
    }

    deinit {
        if initialized {
            sensors_cleanup()
            Self.owner.withLock { $0 = false }
        }
    }

    public func read(_ index: Int) -> Reading {
        let subfeature = subfeatures[index]
        var value = 0.0
        let rc = sensors_get_value(subfeature.chip, subfeature.number, &value)
        if rc < 0 { return .failed(ReadFailure(.sensors(-rc))) }
        guard value.isFinite else { return .failed(ReadFailure(.nonNumeric)) }
        switch channels[index].quantity {
        case .energyCounter:
            guard value >= 0 else { return .failed(ReadFailure(.invalidValue)) }
            return .counter(MicrojouleCounter(UInt64((value * 1_000_000).rounded())))
        case .power: return .power(Watts(value))
        case .temperature: return .temperature(Celsius(value))
        }
    }

    private func discover(logger: Logger) {
        var chipIndex: Int32 = 0
        while let chip = sensors_get_detected_chips(nil, &chipIndex) {
            let chipName = Self.chipName(chip)
            let prefix = chip.pointee.prefix.map { String(cString: $0) } ?? chipName
            var featureIndex: Int32 = 0
            while let feature = sensors_get_features(chip, &featureIndex) {
                let wanted: [sensors_subfeature_type]
                let quantity: ChannelQuantity
                switch feature.pointee.type {
                case SENSORS_FEATURE_POWER:
                    wanted = [SENSORS_SUBFEATURE_POWER_AVERAGE, SENSORS_SUBFEATURE_POWER_INPUT]
                    quantity = .power
                case SENSORS_FEATURE_ENERGY:
                    wanted = [SENSORS_SUBFEATURE_ENERGY_INPUT]
                    quantity = .energyCounter(
                        CounterRange(maxMicrojoules: nil, plausibleMaxPower: Self.plausibleMaxPower))
                case SENSORS_FEATURE_TEMP:
                    wanted = [SENSORS_SUBFEATURE_TEMP_INPUT]
                    quantity = .temperature
                default:
                    continue
                }
                guard let subfeature = wanted.lazy.compactMap({ sensors_get_subfeature(chip, feature, $0) }).first
                else { continue }
                let featureName = String(cString: feature.pointee.name)
                let label =
                    sensors_get_label(chip, feature).map { raw in
                        defer { free(raw) }
                        return String(cString: raw)
                    } ?? featureName
                let kind: DomainKind = quantity == .temperature ? .other : .hwmonChip(prefix: prefix)
                let path =
                    (chip.pointee.path.map { String(cString: $0) } ?? "/sys/class/hwmon/?") + "/"
                    + String(cString: subfeature.pointee.name)
                subfeatures.append(
                    Subfeature(chip: chip, number: subfeature.pointee.number, isEnergy: quantity != .temperature))
                var descriptor = ChannelDescriptor(
                    id: ChannelID("\(chipName)/\(featureName)"), source: .hwmon, name: label, kind: kind,
                    quantity: quantity, group: chipName, path: path)
                if subfeature.pointee.flags & UInt32(SENSORS_MODE_R) == 0 {
                    descriptor.unreadable = "not readable"
                } else if case .failed(let failure) = readDescriptor(subfeatures.count - 1, quantity: quantity) {
                    descriptor.unreadable = failure.description
                }
                channels.append(descriptor)
                logger.debug("hwmon channel", metadata: ["id": "\(descriptor.id)", "label": "\(label)"])
            }
        }
    }

    private func readDescriptor(_ index: Int, quantity: ChannelQuantity) -> Reading {
        var value = 0.0
        let rc = sensors_get_value(subfeatures[index].chip, subfeatures[index].number, &value)
        return rc < 0 ? .failed(ReadFailure(.sensors(-rc))) : .power(Watts(value))
    }

    private static func chipName(_ chip: UnsafePointer<sensors_chip_name>) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let length = sensors_snprintf_chip_name(&buffer, buffer.count, chip)
        guard length > 0 else { return chip.pointee.prefix.map { String(cString: $0) } ?? "unknown" }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `sensors_strerror` for a libsensors status code.
    private static func message(_ rc: Int32) -> String {
        sensors_strerror(rc).map { String(cString: $0) } ?? "libsensors error \(rc)"
    }
}
