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
    /// The phases (0.1 s or longer) whose energy is not within `tolerance` plus `granularity` at each end of 176 W
    /// × their load factor × their seconds, said one per line; empty when all are. Each end of a phase is a reading
    /// taken when its mark is read; real counters move about every millisecond, and the simulator's (every 0.5 ms,
    /// from a process of its own) stall for a millisecond or two on a busy 2-core machine: a 0.1 s phase is held to
    /// 2.5 %, a 0.4 s one to 1 %, as the counters' own granularity allows, never finer. Windows under 0.1 s are
    /// skipped.
    public static func mismatches(
        _ phases: [(name: String, seconds: Double, joules: Double?)], tolerance: Double = 0.005,
        granularity: Double = 0.001
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
            if abs(joules - injected) / injected >= tolerance + 2 * granularity / phase.seconds {
                mismatches.append("\(phase.name) #\(occurrence) at \(watts) W: \(joules) J vs \(injected) J injected")
            }
        }
        return mismatches
    }
}
