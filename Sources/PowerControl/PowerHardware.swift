import LinuxSupport
import Meter
import SustainAPI
import SustainCore

/// One limit a job may set: a CPU package's long-term RAPL constraint or a GPU's power limit, as it stands now.
public struct ControlledDevice: Sendable, Equatable {
    public let device: PowerLeases.Device
    public let kind: PowerLimitRequest.Kind
    /// The constraint's own name (`long_term`) or NVML's (`power_management_limit`).
    public let constraintName: String
    /// The limit in force now (µW).
    public let limitMicrowatts: UInt64
    /// The hardware's own range (µW), where it says.
    public let minimumMicrowatts: UInt64?
    public let maximumMicrowatts: UInt64?
    /// The device's model (the CPU's, the GPU's name), which a saved tuning profile is for.
    public let model: String?

    public init(
        device: PowerLeases.Device, kind: PowerLimitRequest.Kind, constraintName: String, limitMicrowatts: UInt64,
        minimumMicrowatts: UInt64?, maximumMicrowatts: UInt64?, model: String? = nil
    ) {
        self.model = model
        self.device = device
        self.kind = kind
        self.constraintName = constraintName
        self.limitMicrowatts = limitMicrowatts
        self.minimumMicrowatts = minimumMicrowatts
        self.maximumMicrowatts = maximumMicrowatts
    }
}

/// Where limits are read and written: the machine (`SystemPowerHardware`), or a table in the controller's tests.
public protocol PowerHardware: AnyObject, Sendable {
    /// The devices of `kind` that have a limit to set.
    func devices(_ kind: PowerLimitRequest.Kind) -> [ControlledDevice]
    /// Writes a limit and reads it back; an error when the write failed or did not take.
    func write(_ device: PowerLeases.Device, microwatts: UInt64) throws(PowerLimitError)
}

/// The machine's limits: RAPL package constraints through libpowercap, GPUs through NVML.
public final class SystemPowerHardware: PowerHardware, @unchecked Sendable {
    private let nvmlLibrary: String
    private lazy var nvml: NVMLControl? = NVMLControl(library: nvmlLibrary)

    public init(nvmlLibrary: String = NVMLSource.defaultLibrary) {
        self.nvmlLibrary = nvmlLibrary
    }

    public func devices(_ kind: PowerLimitRequest.Kind) -> [ControlledDevice] {
        switch kind {
        case .cpu:
            return PowercapControl.packageLongTermConstraints().map { constraint in
                ControlledDevice(
                    device: PowerLeases.Device(id: constraint.zone, constraint: Int(constraint.index)), kind: .cpu,
                    constraintName: constraint.name ?? "constraint \(constraint.index)",
                    limitMicrowatts: constraint.limitMicrowatts, minimumMicrowatts: nil,
                    maximumMicrowatts: constraint.maxMicrowatts, model: HostFacts.cpuModel())
            }
        case .gpu:
            return (nvml?.limits() ?? []).map { gpu in
                ControlledDevice(
                    device: PowerLeases.Device(id: "nvidia:\(gpu.index)"), kind: .gpu,
                    constraintName: "power_management_limit", limitMicrowatts: UInt64(gpu.limitMilliwatts) * 1000,
                    minimumMicrowatts: gpu.minimumMilliwatts.map { UInt64($0) * 1000 },
                    maximumMicrowatts: gpu.maximumMilliwatts.map { UInt64($0) * 1000 }, model: gpu.name)
            }
        }
    }

    public func write(_ device: PowerLeases.Device, microwatts: UInt64) throws(PowerLimitError) {
        if device.id.hasPrefix("nvidia:") {
            guard let index = Int(device.id.dropFirst("nvidia:".count)), let nvml else {
                throw PowerLimitError("\(device): no such GPU (NVML is not available)")
            }
            do {
                try nvml.setLimit(index: index, milliwatts: UInt32(microwatts / 1000))
            } catch {
                throw PowerLimitError("\(error)")
            }
            return
        }
        do {
            try PowercapControl.setLimit(
                zone: device.id, constraint: UInt32(device.constraint), microwatts: microwatts)
        } catch {
            throw PowerLimitError("\(error)")
        }
    }
}
