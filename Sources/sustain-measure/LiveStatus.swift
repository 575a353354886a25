import LinuxSupport
import Meter
import Reports
import SustainCore

/// The one-line live status on a terminal's stderr (elapsed, power, energy so far), refreshed once a second.
/// Never shown when stderr is not a terminal.
final class LiveStatus: Sendable {
    private let timer: PeriodicTimer
    private let thread: NativeThread

    /// `phase`: the phase the job is in now, when it marks its phases.
    static func startIfTerminal(enabled: Bool, sampler: Sampler, phase: PhaseLog? = nil) -> LiveStatus? {
        guard enabled, CurrentProcess.standardErrorIsTerminal else { return nil }
        return try? LiveStatus(sampler: sampler, phase: phase)
    }

    private init(sampler: Sampler, phase: PhaseLog?) throws {
        let timer = try PeriodicTimer(interval: .seconds(1))
        self.timer = timer
        thread = try NativeThread(name: "sustain-status") {
            while case .tick = timer.next() {
                Terminal.write("\r\u{1B}[K" + Self.line(sampler.snapshot, phase: phase?.current))
            }
            Terminal.write("\r\u{1B}[K")
        }
    }

    func stop() {
        timer.stop()
        thread.join()
    }

    static func line(_ snapshot: LiveSnapshot, phase: String? = nil) -> String {
        var parts = ["sustain", Quantity.duration(snapshot.elapsed.seconds)]
        if let phase { parts.append("phase \(phase.escapingControlCharacters.excerpt(30))") }
        if let energy = snapshot.energy {
            parts.append(snapshot.power.map { Quantity.power($0.value) } ?? "-- W")
            parts.append(Quantity.energy(energy.value))
        } else {
            parts.append("energy not measured")
        }
        return parts.joined(separator: "  ")
    }
}
