import RealModule
import SustainCore
import Testing

/// The tuner on a workload whose power and step time follow a known curve of the limit: it draws up to 200 W, and
/// a step takes 0.1 s × √(200 W / min(200 W, limit)) (performance grows as the square root of power). So a step
/// costs 0.1 × √(200 × min(200, limit)) J: less energy at a lower limit, more time.
struct PowerTunerTests {
    static func power(_ limit: Double) -> Double { min(200, limit) }
    static func stepSeconds(_ limit: Double) -> Double { 0.1 * (200 / power(limit)).squareRoot() }

    /// Runs the tuner over the workload until it finishes (or `steps` pass); returns its actions and the profile.
    static func tune(_ objective: PowerTuner.Objective, steps: Int = 1000) -> (
        limits: [Double], finished: (Double, [PowerTuner.Candidate])?
    ) {
        var tuner = PowerTuner(
            candidates: PowerTuner.candidates(maximum: 250, minimum: 100, step: 25), waitSteps: 2, warmupSteps: 2,
            profileSteps: 5, objective: objective)
        var limit = 250.0
        var seconds = 0.0
        var joules = 0.0
        var limits: [Double] = []
        for _ in 0..<steps {
            let duration = stepSeconds(limit)
            seconds += duration
            joules += power(limit) * duration
            for action in tuner.step(at: seconds, joules: joules) {
                switch action {
                case .setLimit(let watts):
                    limit = watts
                    limits.append(watts)
                case .finished(let choice, let candidates): return (limits, (choice, candidates))
                }
            }
        }
        return (limits, nil)
    }

    @Test func candidatesGoFromTheMaximumDown() {
        #expect(PowerTuner.candidates(maximum: 250, minimum: 100, step: 25) == [250, 225, 200, 175, 150, 125, 100])
        #expect(PowerTuner.candidates(maximum: 250, minimum: 110, step: 50) == [250, 200, 150, 110])
        #expect(PowerTuner.candidates(maximum: 100, minimum: 200, step: 25) == [100])
    }

    @Test func eachCandidateIsProfiledAtItsOwnLimit() throws {
        let (limits, finished) = Self.tune(.energy)
        let (_, candidates) = try #require(finished)
        #expect(limits == [250, 225, 200, 175, 150, 125, 100, 100], "each candidate, then the choice")
        #expect(candidates.map(\.watts) == [250, 225, 200, 175, 150, 125, 100])
        for candidate in candidates {
            let joules = Self.power(candidate.watts) * Self.stepSeconds(candidate.watts)
            #expect(abs(candidate.joulesPerStep.mean - joules) < 1e-9, "\(candidate.watts) W")
            #expect(abs(candidate.secondsPerStep.mean - Self.stepSeconds(candidate.watts)) < 1e-12)
            #expect(candidate.joulesPerStep.n == 5 && candidate.secondsPerStep.sd < 1e-12)
        }
    }

    struct Choice: Sendable, CustomTestStringConvertible {
        var objective: PowerTuner.Objective
        var watts: Double
        var testDescription: String { "\(objective) → \(watts) W" }
    }

    static let choices = [
        Choice(objective: .energy, watts: 100),
        // Above 200 W every limit is as fast: the highest of them, the safer.
        Choice(objective: .time, watts: 250),
        // η·E + (1 − η)·250·T is least at 250 (1 − η)/η W: 150 W for η = 0.625.
        Choice(objective: .cost(eta: 0.625), watts: 150),
        // Within 10 % of the fastest step: √(200/L) ≤ 1.1 → L ≥ 165.3 W → 175 W.
        Choice(objective: .slowdown(factor: 1.1), watts: 175),
        Choice(objective: .slowdown(factor: 1.0), watts: 200),
    ]

    @Test(arguments: choices) func theObjectiveChoosesTheKnownLimit(_ choice: Choice) throws {
        let (limits, finished) = Self.tune(choice.objective)
        let (chosen, _) = try #require(finished)
        #expect(chosen == choice.watts)
        #expect(limits.last == choice.watts, "the choice is set for the rest of the job")
    }

    @Test func nothingHappensBeforeTheWaitAndAfterTheChoice() {
        var tuner = PowerTuner(candidates: [200, 100], waitSteps: 3, objective: .energy)
        #expect(tuner.step(at: 1, joules: 10).isEmpty && tuner.step(at: 2, joules: 20).isEmpty)
        #expect(tuner.step(at: 3, joules: 30) == [.setLimit(watts: 200)])
        var seconds = 3.0
        while !tuner.isFinished {
            seconds += 1
            _ = tuner.step(at: seconds, joules: seconds * 10)
        }
        #expect(tuner.step(at: seconds + 1, joules: 0).isEmpty)
        // Equal energy per step at both: the tie goes to the higher limit.
        #expect(tuner.choice == 200)
    }
}
