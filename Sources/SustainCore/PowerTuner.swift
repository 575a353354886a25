/// The power-limit tuner's decisions as a state machine: the job's step marks in (each with the instant and the
/// device's energy counter then), the limits to set out (#21). It waits a few steps, then for each candidate limit
/// (from the highest down) sets it, lets `warmupSteps` pass, and profiles `profileSteps`: joules and seconds per
/// step, with their spread. Then it picks the limit by the objective and sets it for the rest of the job. Pure: no
/// hardware, no clock; table-tested on a workload whose step time and power follow a known curve of the limit.
public struct PowerTuner: Sendable {
    public enum Objective: Sendable, Equatable, CustomStringConvertible {
        /// The least energy per step.
        case energy
        /// The least time per step.
        case time
        /// Zeus's cost, `η·E + (1 − η)·MaxPower·T` per step (`MaxPower` the highest candidate).
        case cost(eta: Double)
        /// The lowest limit whose step time is within `factor` × the fastest candidate's.
        case slowdown(factor: Double)

        public var description: String {
            switch self {
            case .energy: "energy"
            case .time: "time"
            case .cost(let eta): "cost:\(eta)"
            case .slowdown(let factor): "slowdown:\(factor)"
            }
        }

        /// `energy`, `time`, `cost` (η 0.5, Zeus's default), `cost:ETA` (0 ≤ η ≤ 1) or `slowdown:F` (F ≥ 1); nil
        /// for anything else.
        public init?(_ text: String) {
            let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let value = parts.count == 2 ? Double(parts[1]) : nil
            switch (parts[0], parts.count) {
            case ("energy", 1): self = .energy
            case ("time", 1): self = .time
            case ("cost", 1): self = .cost(eta: 0.5)
            case ("cost", 2):
                guard let value, (0...1).contains(value) else { return nil }
                self = .cost(eta: value)
            case ("slowdown", 2):
                guard let value, value.isFinite, value >= 1 else { return nil }
                self = .slowdown(factor: value)
            default: return nil
            }
        }
    }

    /// One candidate's profile.
    public struct Candidate: Sendable, Equatable {
        public let watts: Double
        public let joulesPerStep: Statistics.Summary
        public let secondsPerStep: Statistics.Summary

        public init(watts: Double, joulesPerStep: Statistics.Summary, secondsPerStep: Statistics.Summary) {
            self.watts = watts
            self.joulesPerStep = joulesPerStep
            self.secondsPerStep = secondsPerStep
        }
    }

    public enum Action: Sendable, Equatable {
        /// Set every tuned device to this limit.
        case setLimit(watts: Double)
        /// Tuning is over: the choice (already set by the `setLimit` before it) and every candidate's profile.
        case finished(choice: Double, candidates: [Candidate])
    }

    public let candidates: [Double]
    public let waitSteps: Int
    public let warmupSteps: Int
    public let profileSteps: Int
    public let objective: Objective

    private var stepsSeen = 0
    private var current: Int?
    /// Steps seen at the current candidate, and the (instant, joules) of each profiled step's end.
    private var atCandidate = 0
    private var marks: [(seconds: Double, joules: Double)] = []
    public private(set) var profiles: [Candidate] = []
    public private(set) var choice: Double?

    /// Candidates from `maximum` down to `minimum` in `step` watts (the minimum always included).
    public static func candidates(maximum: Double, minimum: Double, step: Double) -> [Double] {
        guard maximum >= minimum, step > 0 else { return [maximum] }
        var values: [Double] = []
        var value = maximum
        while value > minimum + 1e-9 {
            values.append(value)
            value -= step
        }
        return values + [minimum]
    }

    public init(
        candidates: [Double], waitSteps: Int = 2, warmupSteps: Int = 3, profileSteps: Int = 10, objective: Objective
    ) {
        self.candidates = candidates
        self.waitSteps = max(0, waitSteps)
        self.warmupSteps = max(0, warmupSteps)
        self.profileSteps = max(2, profileSteps)
        self.objective = objective
    }

    public var isFinished: Bool { choice != nil }

    /// A step ended at `seconds` with the tuned devices' energy at `joules` (cumulative): what to do now.
    public mutating func step(at seconds: Double, joules: Double) -> [Action] {
        guard choice == nil, !candidates.isEmpty else { return [] }
        stepsSeen += 1
        guard let index = current else {
            guard stepsSeen >= waitSteps else { return [] }
            current = 0
            atCandidate = 0
            marks = []
            return [.setLimit(watts: candidates[0])]
        }
        atCandidate += 1
        // The step that ends the warm-up starts the profile; each later one ends a profiled step.
        guard atCandidate >= warmupSteps else { return [] }
        marks.append((seconds, joules))
        guard marks.count > profileSteps else { return [] }
        let times = zip(marks.dropFirst(), marks).map { $0.seconds - $1.seconds }
        let energies = zip(marks.dropFirst(), marks).map { $0.joules - $1.joules }
        if let time = Statistics.Summary(times), let energy = Statistics.Summary(energies) {
            profiles.append(Candidate(watts: candidates[index], joulesPerStep: energy, secondsPerStep: time))
        }
        if index + 1 < candidates.count {
            current = index + 1
            atCandidate = 0
            marks = []
            return [.setLimit(watts: candidates[index + 1])]
        }
        let chosen = Self.choose(profiles, objective: objective, maximum: candidates.max() ?? 0)
        choice = chosen
        return [.setLimit(watts: chosen), .finished(choice: chosen, candidates: profiles)]
    }

    /// The limit the objective picks among the profiles (the highest candidate when none was profiled).
    public static func choose(_ profiles: [Candidate], objective: Objective, maximum: Double) -> Double {
        guard !profiles.isEmpty else { return maximum }
        func best(by score: (Candidate) -> Double) -> Double {
            // Ties go to the higher limit: the safer one.
            profiles.min { score($0) < score($1) || (score($0) == score($1) && $0.watts > $1.watts) }?.watts ?? maximum
        }
        switch objective {
        case .energy: return best { $0.joulesPerStep.mean }
        case .time: return best { $0.secondsPerStep.mean }
        case .cost(let eta):
            return best { eta * $0.joulesPerStep.mean + (1 - eta) * maximum * $0.secondsPerStep.mean }
        case .slowdown(let factor):
            let fastest = profiles.map(\.secondsPerStep.mean).min() ?? 0
            // (a relative 1e-9 for rounding: equal step times measured as differences of sums may differ in the
            // last bits)
            let allowed = profiles.filter { $0.secondsPerStep.mean <= factor * fastest * (1 + 1e-9) }
            return allowed.map(\.watts).min() ?? maximum
        }
    }
}
