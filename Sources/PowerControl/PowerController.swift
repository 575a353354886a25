import FoundationEssentials
import Reports
import SustainAPI
import SustainCore

/// Owns every power limit a job sets, for the service and the root wrapper alike: checks a request against the
/// bounds, writes each original to the journal before the first change, applies the arbitration of `PowerLeases`
/// (the highest limit asked for wins; the last lease's end restores the original), and keeps for each holder the
/// records its report carries. Not thread-safe: its owner (the service's job registry, an actor; the wrapper's one
/// thread) serialises the calls.
public final class PowerController: @unchecked Sendable {
    /// Below this fraction of a device's maximum no job may go unless the configuration says otherwise: a package
    /// or GPU capped far below its range can starve the machine.
    public static let defaultLowestFraction = 0.25

    private let hardware: any PowerHardware
    private let journal: PowerJournal?
    private let now: @Sendable () -> Date
    private var leases = PowerLeases()
    private var constraintNames: [PowerLeases.Device: String] = [:]
    /// Originals whose restore failed: they stay in the journal until a later restore works.
    private var unrestored: [PowerLeases.Device: UInt64] = [:]
    private var records: [String: [(device: PowerLeases.Device, record: Report.PowerControl)]] = [:]
    private var notes: [String: [String]] = [:]

    public init(hardware: any PowerHardware, journal: PowerJournal?, now: @escaping @Sendable () -> Date = { Date() }) {
        self.hardware = hardware
        self.journal = journal
        self.now = now
    }

    /// The devices of `kind` whose limit can be set, as they stand now.
    public func devices(_ kind: PowerLimitRequest.Kind) -> [ControlledDevice] { hardware.devices(kind) }

    /// Whether `holder` holds a limit.
    public func holds(_ holder: String) -> Bool { leases.holds(holder) }

    /// The holders of any limit.
    public var holders: Set<String> { Set(heldBy) }

    /// What a journal left (the service crashed or was killed with limits set), written back. Returns one line per
    /// device for the log; entries that cannot be written stay in the journal for the next start.
    public func replayJournal() -> [String] {
        guard let journal else { return [] }
        let entries: [PowerJournal.Entry]
        do {
            entries = try journal.read()
        } catch {
            return ["\(error); no limit was put back (check the devices' limits by hand)"]
        }
        var lines: [String] = []
        for entry in entries {
            do {
                try hardware.write(entry.powerDevice, microwatts: entry.originalMicrowatts)
                lines.append(
                    "\(entry.powerDevice) put back to \(Self.watts(entry.originalMicrowatts)) W (left set by "
                        + "\(entry.holders.joined(separator: ", ")) when the service last stopped)")
            } catch {
                unrestored[entry.powerDevice] = entry.originalMicrowatts
                lines.append(
                    "\(entry.powerDevice) cannot be put back to \(Self.watts(entry.originalMicrowatts)) W: \(error)")
            }
        }
        if !entries.isEmpty { try? writeJournal() }
        return lines
    }

    /// Sets the limits `requests` ask for, for `holder` (a job id), or throws having changed nothing: a request
    /// outside the bounds (the bounds in the message), a kind of device this machine lacks, a journal that cannot
    /// be written, a write that fails (what was written is put back first). `minimum(kind)` is the
    /// configuration's lowest limit, if it sets one.
    @discardableResult
    public func acquire(
        _ requests: [PowerLimitRequest], for holder: String, requestedBy: String,
        minimum: (PowerLimitRequest.Kind) -> Double? = { _ in nil }
    ) throws(PowerLimitError) -> [Report.PowerControl] {
        // Check everything before anything is written.
        var plan: [(device: ControlledDevice, microwatts: UInt64, requested: Double)] = []
        for request in requests {
            let devices = hardware.devices(request.device).filter { device in
                request.gpus.map { $0.contains { "nvidia:\($0)" == device.device.id } } ?? true
            }
            guard !devices.isEmpty else {
                throw PowerLimitError(
                    request.device == .cpu
                        ? "no CPU package with a long_term RAPL constraint under /sys/class/powercap (no RAPL, or a "
                            + "VM without it)"
                        : "no GPU whose power limit NVML can set"
                            + (request.gpus.map { " among GPUs \($0.map(String.init).joined(separator: ", "))" } ?? ""))
            }
            for device in devices {
                let maximum = Double(device.maximumMicrowatts ?? device.limitMicrowatts) / 1_000_000
                let lowest =
                    minimum(request.device)
                    ?? device.minimumMicrowatts.map { Double($0) / 1_000_000 }
                    ?? maximum * Self.defaultLowestFraction
                let bounds = PowerLimitBounds(minimum: Watts(min(lowest, maximum)), maximum: Watts(maximum))
                switch bounds.check(Watts(request.watts), on: device.device) {
                case .success(let microwatts): plan.append((device, microwatts, request.watts))
                case .failure(let error): throw error
                }
            }
        }
        // The originals on disk before the first write.
        var trial = leases
        for step in plan {
            _ = trial.acquire(
                step.device.device, by: holder, microwatts: step.microwatts, current: step.device.limitMicrowatts)
        }
        try writeJournal(originals: trial.originals, holders: Set(heldBy).union([holder]))
        for step in plan {
            constraintNames[step.device.device] = step.device.constraintName
            let action = leases.acquire(
                step.device.device, by: holder, microwatts: step.microwatts, current: step.device.limitMicrowatts)
            if let action {
                do {
                    try perform(action, for: holder)
                } catch {
                    // The failed write left the device as it was: what was written elsewhere is put back.
                    _ = release(holder, unchanged: step.device.device)
                    throw PowerLimitError("\(error); nothing is left changed")
                }
            }
            let original = leases.originals[step.device.device] ?? step.device.limitMicrowatts
            let applied = leases.applied(on: step.device.device) ?? step.microwatts
            // The holder's earlier limit on this device (a tuner's previous candidate) ends here.
            for index in (records[holder] ?? []).indices
            where records[holder]?[index].device == step.device.device
                && records[holder]?[index].record.releasedAt == nil
            {
                records[holder]?[index].record.releasedAt = now()
                records[holder]?[index].record.leftAtWatts = Self.watts(applied)
            }
            records[holder, default: []].append(
                (
                    step.device.device,
                    Report.PowerControl(
                        device: step.device.device.id, constraint: step.device.constraintName,
                        originalWatts: Self.watts(original), requestedWatts: step.requested,
                        appliedWatts: Self.watts(leases.applied(on: step.device.device) ?? step.microwatts),
                        appliedAt: now(), restoredAt: nil, requestedBy: requestedBy)
                ))
        }
        return (records[holder] ?? []).map(\.record)
    }

    /// `holder`'s limits end (its job stopped, its client died): each device goes to the next-highest limit
    /// still held, or back to its original when `holder` was the last. Returns `holder`'s records, complete, and
    /// the notes of what other jobs did to its devices while it ran.
    public func release(_ holder: String) -> (records: [Report.PowerControl], notes: [String]) {
        release(holder, unchanged: nil)
    }

    /// `release`, with no write to `unchanged` (a device whose write just failed).
    private func release(_ holder: String, unchanged: PowerLeases.Device?) -> (
        records: [Report.PowerControl], notes: [String]
    ) {
        let actions = leases.release(holder).filter { $0.device != unchanged }
        let at = now()
        var outcomes: [PowerLeases.Device: String?] = [:]
        for action in actions {
            do {
                try perform(action, for: holder)
                outcomes[action.device] = String?.none
            } catch {
                outcomes[action.device] = "\(error)"
            }
        }
        try? writeJournal()
        let finished = (records.removeValue(forKey: holder) ?? []).map { held -> Report.PowerControl in
            var record = held.record
            guard record.releasedAt == nil else { return record }  // replaced by the holder's own later limit
            record.releasedAt = at
            switch actions.first(where: { $0.device == held.device }) {
            case .restore(_, let microwatts)?:
                record.leftAtWatts = Self.watts(microwatts)
                if case .some(.some(let failure)) = outcomes[held.device] {
                    record.restoreError = failure
                } else {
                    record.restoredAt = at
                }
            case .apply(_, let microwatts)?:
                record.leftAtWatts = Self.watts(microwatts)
            case nil:
                // Another job holds a limit at least as high: the device stays at it until that job ends.
                record.leftAtWatts = leases.applied(on: held.device).map(Self.watts)
            }
            return record
        }
        return (finished, notes.removeValue(forKey: holder) ?? [])
    }

    /// Every limit back to its original (the service stopping): each holder's records, complete.
    public func releaseAll() -> [String: (records: [Report.PowerControl], notes: [String])] {
        var result: [String: (records: [Report.PowerControl], notes: [String])] = [:]
        for holder in records.keys.sorted() { result[holder] = release(holder) }
        for action in leases.releaseAll() { try? perform(action, for: "") }
        try? writeJournal()
        return result
    }

    private func perform(_ action: PowerLeases.Action, for holder: String) throws(PowerLimitError) {
        switch action {
        case .apply(let device, let microwatts):
            try hardware.write(device, microwatts: microwatts)
            for other in records.keys where other != holder && leases.holds(other) {
                guard records[other]?.contains(where: { $0.device == device }) == true else { continue }
                notes[other, default: []].append(
                    "\(device)'s limit was set to \(Self.watts(microwatts)) W at \(UTCTimestamp.string(secondsSince1970: now().timeIntervalSince1970)) by "
                        + "another job (the highest limit asked for wins).")
            }
        case .restore(let device, let microwatts):
            do {
                try hardware.write(device, microwatts: microwatts)
                unrestored[device] = nil
            } catch {
                unrestored[device] = microwatts
                throw error
            }
        }
    }

    /// The holders of a limit now.
    private var heldBy: [String] { records.keys.filter { leases.holds($0) } }

    private func writeJournal(originals: [PowerLeases.Device: UInt64]? = nil, holders: Set<String>? = nil)
        throws(PowerLimitError)
    {
        guard let journal else { return }
        let originals = (originals ?? leases.originals).merging(unrestored) { held, _ in held }
        let holders = (holders ?? Set(heldBy)).sorted()
        let entries = originals.keys.sorted { $0.description < $1.description }.map { device in
            PowerJournal.Entry(
                device: device.id, constraint: device.constraint, originalMicrowatts: originals[device] ?? 0,
                holders: holders)
        }
        try journal.write(entries)
    }

    static func watts(_ microwatts: UInt64) -> Double { Double(microwatts) / 1_000_000 }
}

extension PowerLeases.Action {
    var device: PowerLeases.Device {
        switch self {
        case .apply(let device, _), .restore(let device, _): device
        }
    }
}
