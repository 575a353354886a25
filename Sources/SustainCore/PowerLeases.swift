/// Who holds a power limit on which device, and what the device must be set to: the arbitration of power caps,
/// apart from the hardware (the service and the root wrapper apply its actions; #21).
///
/// The rule, for several jobs on one device: **the highest limit asked for wins** (a job never runs under a lower
/// cap than it asked for because of another job), and when the last lease on a device ends the device goes back
/// to its **original** value, the one read before the first change. A limit is never left below the original
/// after the last job ends: `release` of the last lease always restores. Pure: table-tested.
public struct PowerLeases: Sendable, Equatable {
    /// A device's control: a RAPL zone's constraint (`intel-rapl:0`, constraint 0) or a GPU (`nvidia:0`).
    public struct Device: Sendable, Hashable, Codable, CustomStringConvertible {
        public let id: String
        public let constraint: Int
        public init(id: String, constraint: Int = 0) {
            self.id = id
            self.constraint = constraint
        }
        public var description: String { constraint == 0 ? id : "\(id) constraint \(constraint)" }
    }

    /// What the caller must do to the hardware.
    public enum Action: Sendable, Equatable {
        /// Write this limit (µW) to the device.
        case apply(Device, microwatts: UInt64)
        /// Write the original value back: the last lease ended.
        case restore(Device, microwatts: UInt64)
    }

    struct Lease: Sendable, Equatable {
        let holder: String
        let microwatts: UInt64
    }

    struct State: Sendable, Equatable {
        /// Read before the first change; what the device returns to.
        let original: UInt64
        var leases: [Lease]
        /// What the device is set to now.
        var applied: UInt64
    }

    private var devices: [Device: State] = [:]

    public init() {}

    /// The devices with a lease, each with its original value: what a journal must hold to restore after a crash.
    public var originals: [Device: UInt64] { devices.mapValues(\.original) }

    /// The limit in force on `device`, nil when no lease holds it.
    public func applied(on device: Device) -> UInt64? { devices[device]?.applied }

    /// `holder` asks for `microwatts` on `device`, whose value now is `current` (the original, when this is the
    /// first lease). Returns the write to make, if any: none when a higher lease already holds the device.
    public mutating func acquire(_ device: Device, by holder: String, microwatts: UInt64, current: UInt64)
        -> Action?
    {
        var state = devices[device] ?? State(original: current, leases: [], applied: current)
        state.leases.removeAll { $0.holder == holder }
        state.leases.append(Lease(holder: holder, microwatts: microwatts))
        let wanted = state.leases.map(\.microwatts).max() ?? state.original
        let changed = wanted != state.applied
        state.applied = wanted
        devices[device] = state
        return changed ? .apply(device, microwatts: wanted) : nil
    }

    /// `holder`'s leases end (its job stopped, its client died): for each device it held, the write that follows,
    /// the original value when it was the last.
    public mutating func release(_ holder: String) -> [Action] {
        var actions: [Action] = []
        for device in devices.keys.sorted(by: { $0.description < $1.description }) {
            guard var state = devices[device], state.leases.contains(where: { $0.holder == holder }) else {
                continue
            }
            state.leases.removeAll { $0.holder == holder }
            if state.leases.isEmpty {
                devices[device] = nil
                actions.append(.restore(device, microwatts: state.original))
                continue
            }
            let wanted = state.leases.map(\.microwatts).max() ?? state.original
            if wanted != state.applied { actions.append(.apply(device, microwatts: wanted)) }
            state.applied = wanted
            devices[device] = state
        }
        return actions
    }

    /// Every device back to its original value, all leases ended (shutdown, or a journal replayed at start).
    public mutating func releaseAll() -> [Action] {
        let actions = devices.keys.sorted(by: { $0.description < $1.description }).compactMap { device in
            devices[device].map { Action.restore(device, microwatts: $0.original) }
        }
        devices = [:]
        return actions
    }

    /// Whether `holder` holds a lease.
    public func holds(_ holder: String) -> Bool {
        devices.values.contains { $0.leases.contains { $0.holder == holder } }
    }
}

/// The limits a device may be set to: the hardware's own constraint range, narrowed by the configuration's minimum
/// (`[control] cpu_power_limit_min_watts`, `gpu_power_limit_min_watts`).
public struct PowerLimitBounds: Sendable, Equatable {
    public let minimum: Watts
    public let maximum: Watts

    public init(minimum: Watts, maximum: Watts) {
        self.minimum = minimum
        self.maximum = maximum
    }

    /// `requested` as µW, or why it is refused, with the bounds in the message.
    public func check(_ requested: Watts, on device: PowerLeases.Device) -> Result<UInt64, PowerLimitError> {
        guard requested.value.isFinite, requested.value > 0 else {
            return .failure(PowerLimitError("a power limit is a positive number of watts, got \(requested.value)"))
        }
        guard requested.value >= minimum.value, requested.value <= maximum.value else {
            return .failure(
                PowerLimitError(
                    "\(Self.tenths(requested.value)) W is outside \(device)'s allowed limits, "
                        + "\(Self.tenths(minimum.value))–\(Self.tenths(maximum.value)) W"))
        }
        return .success(UInt64((requested.value * 1_000_000).rounded()))
    }

    /// `value` to one decimal (`40.0`, `102.5`).
    static func tenths(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths < 0 ? "-" : "")\(abs(tenths) / 10).\(abs(tenths) % 10)"
    }
}

/// Why a power limit cannot be set.
public struct PowerLimitError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
