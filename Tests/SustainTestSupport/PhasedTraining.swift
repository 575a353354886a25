import Foundation

/// The training-like job of the phase tests (`Tests/Fixtures/phased_training.py`) and the power it runs each phase
/// at, so a test can hold every phase to the energy injected in its own window.
public enum PhasedTraining {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The script's path.
    public static let script = repository.appendingPathComponent("Tests/Fixtures/phased_training.py").path

    /// The directory holding the `sustain_marks` helper (the script's one argument).
    public static let clients = repository.appendingPathComponent("clients/python").path

    /// The names of the phases the script opens, in order.
    public static let phaseNames =
        ["load"] + Array(repeating: ["epoch", "step"], count: 5).flatMap { $0 } + ["eval", "never-ended"]

    /// The load factor the script sets for the `occurrence`-th phase called `name` (0-based): load 0.5×, epoch i
    /// and its step (1 + 0.5 i)×, eval 0.25×, anything else 1×.
    public static func loadFactor(of name: String, occurrence: Int) -> Double {
        switch name {
        case "load": 0.5
        case "epoch", "step": 1 + 0.5 * Double(occurrence)
        case "eval": 0.25
        default: 1
        }
    }
}

extension PhasedTraining {
    /// The phases (0.1 s or longer) whose energy is not within `tolerance` of 176 W × their load factor × their
    /// seconds, said one per line; empty when all are. Windows under 0.1 s are skipped: the simulator moves its
    /// counters every 0.5 ms, so they cannot be held to 0.5 %.
    public static func mismatches(
        _ phases: [(name: String, seconds: Double, joules: Double?)], tolerance: Double = 0.005
    ) -> [String] {
        var seen: [String: Int] = [:]
        var mismatches: [String] = []
        for phase in phases {
            let occurrence = seen[phase.name, default: 0]
            seen[phase.name] = occurrence + 1
            guard phase.seconds >= 0.1 else { continue }
            let watts = 176 * loadFactor(of: phase.name, occurrence: occurrence)
            let injected = watts * phase.seconds
            guard let joules = phase.joules else {
                mismatches.append("\(phase.name) #\(occurrence): nothing measured")
                continue
            }
            if abs(joules - injected) / injected >= tolerance {
                mismatches.append("\(phase.name) #\(occurrence) at \(watts) W: \(joules) J vs \(injected) J injected")
            }
        }
        return mismatches
    }
}
