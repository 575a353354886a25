import ArgumentParser
import FoundationEssentials
import LinuxSupport
import Meter
import PowerControl
import Reports
import SustainAPI

/// `--cpu-power-limit` and `--gpu-power-limit` for the wrapper run as root: the limits set through the same
/// controller the service uses (its bounds, its arbitration), for the job's duration, each original read first and
/// written back when the job ends, on every path the wrapper lives through (the command's end, a signal to the
/// wrapper, which it forwards and waits out, a command that cannot start). A SIGKILL of the wrapper itself cannot
/// be caught: the limit then stays until the next boot or until someone writes it back. Through the service (not
/// root) the service holds the limits and puts them back even then.
final class PowerCaps {
    private let controller: PowerController
    private let holder = "sustain-measure (pid \(CurrentProcess.pid), uid \(CurrentProcess.uid))"

    /// Sets the limits; throws (having changed nothing) when one cannot be.
    init(_ requests: [PowerLimitRequest], environment: [String: String]) throws {
        guard CurrentProcess.effectiveUID == 0 else {
            throw ValidationError(
                "power limits are written by root only: run as root, or through sustain-measured (not reachable).")
        }
        let library = environment["SUSTAIN_NVML_LIBRARY"].flatMap { $0.isEmpty ? nil : $0 }
        controller = PowerController(
            hardware: SystemPowerHardware(nvmlLibrary: library ?? NVMLSource.defaultLibrary), journal: nil)
        do {
            try controller.acquire(requests, for: holder, requestedBy: holder)
        } catch {
            throw ValidationError("\(Self.option(requests)): \(error).")
        }
    }

    static func option(_ requests: [PowerLimitRequest]) -> String {
        requests.map { "--\($0.device.rawValue)-power-limit" }.joined(separator: ", ")
    }

    /// Puts every limit back; the records and what happened to them, for the report. Safe to call more than once.
    @discardableResult
    func restore() -> (records: [Report.PowerControl], notes: [String]) {
        let (records, notes) = controller.release(holder)
        for record in records {
            guard let failure = record.restoreError else { continue }
            Terminal.error(
                "sustain-measure: cannot put \(record.device)'s power limit back to \(record.originalWatts) W: "
                    + "\(failure). Set it yourself (for RAPL: /sys/class/powercap/\(record.device)/"
                    + "constraint_*_power_limit_uw; for a GPU: nvidia-smi -pl).")
        }
        return (records, notes)
    }
}
