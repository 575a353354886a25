import LinuxSupport
import Meter
import Reports

/// The one-line live status on a terminal's stderr (elapsed, power, energy so far), refreshed once a second.
/// Never shown when stderr is not a terminal.
final class LiveStatus: Sendable {
    private let timer: PeriodicTimer
    private let thread: NativeThread

    static func startIfTerminal(enabled: Bool, sampler: Sampler) -> LiveStatus? {
        guard enabled, CurrentProcess.standardErrorIsTerminal else { return nil }
        return try? LiveStatus(sampler: sampler)
    }

    private init(sampler: Sampler) throws {
        let timer = try PeriodicTimer(interval: .seconds(1))
        self.timer = timer
        thread = try NativeThread(name: "sustain-status") {
            while case .tick = timer.next() {
                Terminal.write("\r\u{1B}[K" + Self.line(sampler.snapshot))
            }
            Terminal.write("\r\u{1B}[K")
        }
    }

    func stop() {
        timer.stop()
        thread.join()
    }

    static func line(_ snapshot: LiveSnapshot) -> String {
        var parts = ["sustain", Quantity.duration(snapshot.elapsed.seconds)]
        if let energy = snapshot.energy {
            parts.append(snapshot.power.map { Quantity.power($0.value) } ?? "-- W")
            parts.append(Quantity.energy(energy.value))
        } else {
            parts.append("energy not measured")
        }
        return parts.joined(separator: "  ")
    }
}
