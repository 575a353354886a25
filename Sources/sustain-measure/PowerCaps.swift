import ArgumentParser
import FoundationEssentials
import LinuxSupport
import Meter
import PowerControl
import Reports
import SustainAPI
import SustainCore
import Synchronization

/// `--cpu-power-limit`, `--gpu-power-limit` and `--tune-power` for the wrapper run as root: the limits set through
/// the same controller the service uses (its bounds, its arbitration), for the job's duration, each original read
/// first and written back when the job ends, on every path the wrapper lives through (the command's end, a signal
/// to the wrapper, which it forwards and waits out, a command that cannot start). A SIGKILL of the wrapper itself
/// cannot be caught: the limit then stays until the next boot or until someone writes it back. Through the service
/// (not root) the service holds the limits and puts them back even then.
///
/// The tuner's limits are set from the marks' reader thread, the restore from the main thread: one lock orders
/// them, and no limit is set once the restore has begun.
final class PowerCaps: Sendable {
    private struct State: ~Copyable {
        let controller: PowerController
        var tuning: PowerTuningSession?
        var tuningOriginal: Double?
        var stopped = false
        /// Where a sweep is saved for the job's `--label job=NAME`, and the name.
        let profiles: (store: PowerProfileStore, job: String)?
    }

    private let state: Mutex<State>
    private let holder = "sustain-measure (pid \(CurrentProcess.pid), uid \(CurrentProcess.uid))"
    private var tuner: String { holder + " tuner" }

    /// Sets the limits and prepares the tuner; throws (having changed nothing) when one cannot be.
    init(
        _ requests: [PowerLimitRequest], tuning: PowerTuningRequest?,
        profiles: (store: PowerProfileStore, job: String)?,
        environment: [String: String]
    ) throws {
        guard CurrentProcess.effectiveUID == 0 else {
            throw ValidationError(
                "power limits are written by root only: run as root, or through sustain-measured (not reachable).")
        }
        let library = environment["SUSTAIN_NVML_LIBRARY"].flatMap { $0.isEmpty ? nil : $0 }
        let hardware = SystemPowerHardware(nvmlLibrary: library ?? NVMLSource.defaultLibrary)
        let controller = PowerController(hardware: hardware, journal: nil)
        var session: PowerTuningSession?
        var original: Double?
        if let tuning {
            let devices = hardware.devices(tuning.device)
            let saved = profiles?.store.saved(kind: tuning.device, devices: devices, job: profiles?.job)
            do {
                session = try PowerTuningSession(
                    kind: tuning.device, stepMark: tuning.stepMark, objective: try tuning.parsedObjective(),
                    devices: devices, minimum: nil, stepWatts: tuning.stepWatts ?? PowerTuningRequest.defaultStep,
                    reusing: saved)
            } catch {
                throw ValidationError("\(error).")
            }
            original = devices.map { Double($0.limitMicrowatts) / 1_000_000 }.max()
        }
        do {
            try controller.acquire(requests, for: holder, requestedBy: holder)
            // A saved profile: its choice from the start, no sweep.
            if let session, let watts = session.initialLimit {
                try controller.acquire(
                    [PowerLimitRequest(device: session.kind, watts: watts)], for: holder + " tuner",
                    requestedBy: holder + " tuner")
            }
        } catch {
            _ = controller.release(holder)
            throw ValidationError(
                "\(Self.option(requests) + (tuning == nil ? "" : (requests.isEmpty ? "" : ", ") + "--tune-power")): \(error)."
            )
        }
        state = Mutex(
            State(controller: controller, tuning: session, tuningOriginal: original, profiles: profiles))
    }

    static func option(_ requests: [PowerLimitRequest]) -> String {
        requests.map { "--\($0.device.rawValue)-power-limit" }.joined(separator: ", ")
    }

    /// A mark of the job at its reading: a step's end may move the tuner to its next limit.
    func observe(_ mark: Mark, at checkpoint: SamplerCheckpoint) {
        state.withLock { state in
            guard !state.stopped, let session = state.tuning, let watts = session.observe(mark, at: checkpoint)
            else { return }
            do {
                try state.controller.acquire(
                    [PowerLimitRequest(device: session.kind, watts: watts)], for: tuner, requestedBy: tuner)
            } catch {
                session.fail("\(watts) W could not be set: \(error)")
                _ = state.controller.release(tuner)
            }
        }
    }

    /// Puts every limit back; the records, what happened to them and the tuner's section, for the report. Safe to
    /// call more than once.
    @discardableResult
    func restore(reportID: String) -> (records: [Report.PowerControl], notes: [String], tuning: Report.PowerTuning?) {
        let (records, notes, tuning) = state.withLock { state in
            state.stopped = true
            let own = state.controller.release(holder)
            let tuned = state.controller.release(tuner)
            var notes = own.notes + tuned.notes
            if let session = state.tuning, let profiles = state.profiles,
                let profile = session.profile(job: profiles.job, reportID: reportID, at: Date())
            {
                do {
                    try profiles.store.save(profile)
                    session.savedPath = profiles.store.path(kind: profile.kind, model: profile.model, job: profile.job)
                } catch {
                    notes.append("The tuning sweep was not saved: \(error).")
                }
            }
            return (
                own.records + tuned.records, notes, state.tuning?.report(originalWatts: state.tuningOriginal)
            )
        }
        for record in records {
            guard let failure = record.restoreError else { continue }
            Terminal.error(
                "sustain-measure: cannot put \(record.device)'s power limit back to \(record.originalWatts) W: "
                    + "\(failure). Set it yourself (for RAPL: /sys/class/powercap/\(record.device)/"
                    + "constraint_*_power_limit_uw; for a GPU: nvidia-smi -pl).")
        }
        return (records, notes, tuning)
    }
}

extension PowerLimitRequest.Kind: ExpressibleByArgument {}
