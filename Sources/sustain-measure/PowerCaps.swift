import ArgumentParser
import FoundationEssentials
import LinuxSupport
import Meter
import Reports
import SustainCore

/// `--cpu-power-limit WATTS` for the wrapper run as root: every CPU package's sustained RAPL limit (long_term,
/// PL1) set for the job's duration through libpowercap, each original read first and written back when the job
/// ends, on every path the wrapper lives through (the command's end, a signal to the wrapper, which it forwards and
/// waits out, a command that cannot start). A SIGKILL of the wrapper itself cannot be caught: the limit then stays
/// until the next boot or until someone writes it back (the report of the job is not written either).
final class PowerCaps {
    private var leases = PowerLeases()
    private var records: [Report.PowerControl] = []
    private var constraintNames: [PowerLeases.Device: String] = [:]
    private let holder = "sustain-measure (pid \(CurrentProcess.pid), uid \(CurrentProcess.uid))"

    /// The lowest limit allowed, as a fraction of the zone's maximum: a package capped far below it can starve
    /// the machine (the service will apply the administrator's `[control]` bounds instead).
    static let lowestFraction = 0.25

    /// Sets every package's long-term limit to `watts`; throws (having restored what it set) when one cannot be.
    init(watts: Double) throws {
        guard CurrentProcess.effectiveUID == 0 else {
            throw ValidationError(
                "--cpu-power-limit needs root: RAPL limits are written by root only (through sustain-measured: not "
                    + "yet).")
        }
        let constraints = PowercapControl.packageLongTermConstraints()
        guard !constraints.isEmpty else {
            throw ValidationError(
                "--cpu-power-limit: no CPU package zone with a long_term constraint under /sys/class/powercap (no "
                    + "RAPL, or a VM without it).")
        }
        for constraint in constraints {
            let device = PowerLeases.Device(id: constraint.zone, constraint: Int(constraint.index))
            let maximum = Double(constraint.maxMicrowatts ?? constraint.limitMicrowatts) / 1_000_000
            let bounds = PowerLimitBounds(minimum: Watts(maximum * Self.lowestFraction), maximum: Watts(maximum))
            let microwatts: UInt64
            switch bounds.check(Watts(watts), on: device) {
            case .success(let value): microwatts = value
            case .failure(let error):
                restore()
                throw ValidationError("--cpu-power-limit: \(error).")
            }
            constraintNames[device] = constraint.name ?? "constraint \(constraint.index)"
            guard
                let action = leases.acquire(
                    device, by: holder, microwatts: microwatts, current: constraint.limitMicrowatts)
            else { continue }
            do {
                try perform(action)
            } catch {
                restore()
                throw ValidationError("--cpu-power-limit: \(error); nothing is left changed.")
            }
        }
    }

    private func perform(_ action: PowerLeases.Action) throws(SystemError) {
        switch action {
        case .apply(let device, let microwatts):
            try PowercapControl.setLimit(zone: device.id, constraint: UInt32(device.constraint), microwatts: microwatts)
            records.removeAll { $0.device == device.id && $0.restoredAt == nil }
            records.append(
                Report.PowerControl(
                    device: device.id, constraint: constraintNames[device] ?? "long_term",
                    originalWatts: Double(leases.originals[device] ?? 0) / 1_000_000,
                    appliedWatts: Double(microwatts) / 1_000_000, appliedAt: Date(), restoredAt: nil,
                    requestedBy: holder))
        case .restore(let device, let microwatts):
            var failure: String?
            do {
                try PowercapControl.setLimit(
                    zone: device.id, constraint: UInt32(device.constraint), microwatts: microwatts)
            } catch {
                failure = "\(error)"
            }
            for index in records.indices where records[index].device == device.id && records[index].restoredAt == nil {
                if let failure {
                    records[index].restoreError = failure
                } else {
                    records[index].restoredAt = Date()
                }
            }
            if let failure {
                Terminal.error(
                    "sustain-measure: cannot put \(device)'s power limit back to \(Double(microwatts) / 1_000_000) W: "
                        + "\(failure). Write it yourself: echo \(microwatts) > /sys/class/powercap/\(device.id)/"
                        + "constraint_\(device.constraint)_power_limit_uw")
            }
        }
    }

    /// Puts every limit back; the records, for the report. Safe to call more than once.
    @discardableResult
    func restore() -> [Report.PowerControl] {
        for action in leases.releaseAll() { try? perform(action) }
        return records
    }
}
