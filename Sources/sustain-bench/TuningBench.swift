import Glibc
import SustainCore

/// What `--tune-power`'s sweep costs a job: the tuner (the same `PowerTuner` the wrapper and the service run, with
/// their wait, warm-up and profile steps) driven over a 10,000-step job whose step time and power follow a known
/// curve of the limit. The cost is the job's energy (and time) against the same job run at the chosen limit from
/// its first step; the saving is against the job uncapped. Pure: no hardware.
enum TuningBench {
    /// The tests' curve (Tests/Fixtures/limit-workload.py): t(P) = 20 ms × (200 / min(P, 200))^1.5, a GPU that
    /// demands 250 W, limits 100–300 W in 25 W steps.
    static func seconds(_ watts: Double) -> Double { 0.02 * pow(200 / min(watts, 200), 1.5) }
    static func power(_ watts: Double) -> Double { min(250, watts) }

    static func run(steps: Int = 10_000) {
        let candidates = PowerTuner.candidates(maximum: 300, minimum: 100, step: 25)
        let objectives: [PowerTuner.Objective] = [.energy, .time, .cost(eta: 0.5), .slowdown(factor: 1.3)]
        print("power tuning over a \(steps)-step job (\(candidates.count) candidates, 300 to 100 W):")
        for objective in objectives {
            var tuner = PowerTuner(
                candidates: candidates, waitSteps: 5, warmupSteps: 3, profileSteps: 10, objective: objective)
            var limit = 300.0
            var (clock, joules) = (0.0, 0.0)
            for _ in 0..<steps {
                clock += seconds(limit)
                joules += power(limit) * seconds(limit)
                for action in tuner.step(at: clock, joules: joules) {
                    if case .setLimit(let watts) = action { limit = watts }
                }
            }
            let choice = tuner.choice ?? 300
            let ideal = Double(steps) * power(choice) * seconds(choice)
            let idealTime = Double(steps) * seconds(choice)
            let uncapped = Double(steps) * power(300) * seconds(300)
            let cost = joules / ideal - 1
            let timeCost = clock / idealTime - 1
            Bench.row(
                "tuning \(objective)",
                "chose \(Bench.fixed(choice, 0)) W; sweep adds \(Bench.fixed(cost * 100, 2)) % energy, "
                    + "\(Bench.fixed(timeCost * 100, 2)) % time; saves \(Bench.fixed((1 - joules / uncapped) * 100, 1)) % "
                    + "energy vs uncapped",
                ratio: nil, target: "sweep <= 1 % energy", ok: cost <= 0.01,
                value: Bench.fixed(cost * 100, 2) + " %")
        }
        print("")
    }
}
