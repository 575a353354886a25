import Foundation
import Reports
import SustainCore
import SustainTestSupport
import Testing

/// `--tune-power gpu` as root, on the fake NVML (two GPUs demanding 250 W, limits 100–300 W, drawn
/// min(demand, limit)) and a workload (Tests/Fixtures/limit-workload.py) whose step time follows a known curve of
/// the limit in force: t(P) = 20 ms × (200 / min(P, 200))^1.5. Energy per step is then min(250, P) × t(P): 5.0 J at
/// 300 W, 4.0 J at 200 W (the least), 4.28 J at 175 W. The tuner's choice must be the brute-force search's over
/// the same curve, its profiles the curve's, its predicted saving the curve's, and the limits back after.
@Suite(
    .serialized, .enabled(if: FakeNVML.library != nil, Comment(rawValue: FakeNVML.skipped)),
    .enabled(if: getuid() == 0, "SKIPPED: GPU power limits are set by root only"))
struct PowerTuningTests {
    static let workload = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/limit-workload.py").path

    static func seconds(_ watts: Double) -> Double { 0.02 * pow(200 / min(watts, 200), 1.5) }
    static func joules(_ watts: Double) -> Double { min(250, watts) * seconds(watts) }

    /// The brute-force choice over the curve for the tuner's candidates.
    static func bruteForce(_ objective: PowerTuner.Objective, candidates: [Double]) -> Double {
        let profiles = candidates.compactMap { watts -> PowerTuner.Candidate? in
            guard let energy = Statistics.Summary([joules(watts)]), let time = Statistics.Summary([seconds(watts)])
            else { return nil }
            return PowerTuner.Candidate(watts: watts, joulesPerStep: energy, secondsPerStep: time)
        }
        return PowerTuner.choose(profiles, objective: objective, maximum: candidates.max() ?? 0)
    }

    /// Runs the workload for `steps` steps, tuned for `objective` (nil: not tuned, the limit as it is).
    static func tune(_ objective: String?, steps: Int, in directory: URL, extra: [String] = []) throws -> (
        Report, ProcessOutcome
    ) {
        var environment = ProcessInfo.processInfo.environment
        environment["SUSTAIN_NVML_LIBRARY"] = FakeNVML.library
        environment["FAKE_NVML_GPUS"] = "250:counter,250:counter"
        environment["FAKE_NVML_STATE"] = directory.path
        let report = directory.appendingPathComponent("r.json").path
        let outcome = try Harness.run(
            [
                Harness.product("sustain-measure"), "--no-daemon", "-q", "--report", report,
            ]
                + (objective.map { ["--tune-power", "gpu", "--step-mark", "step", "--objective", $0] } ?? []) + extra
                + [
                    "--", "/usr/bin/python3", workload,
                    directory.appendingPathComponent("limit-0").path, "\(steps)",
                ], environment: environment)
        return (try Report.decode(Data(contentsOf: URL(fileURLWithPath: report))), outcome)
    }

    static func limit(_ directory: URL, _ index: Int) -> Int {
        let text = (try? String(contentsOf: directory.appendingPathComponent("limit-\(index)"), encoding: .utf8)) ?? ""
        return Int(text.split(separator: " ").first ?? "") ?? 300_000
    }

    @Test(arguments: [("energy", PowerTuner.Objective.energy), ("slowdown:1.3", .slowdown(factor: 1.3))])
    func theTunerChoosesWhatABruteForceSearchChooses(text: String, objective: PowerTuner.Objective) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (report, outcome) = try Self.tune(text, steps: 150, in: directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let tuning = try #require(report.powerTuning, "\(report.warnings)")
        #expect(tuning.state == "chosen", "\(tuning.reason ?? "")")
        let candidates = tuning.candidates.map(\.watts)
        #expect(candidates == [300, 275, 250, 225, 200, 175, 150, 125, 100])
        let expected = Self.bruteForce(objective, candidates: candidates)
        #expect(tuning.choiceWatts == expected, "chose \(tuning.choiceWatts ?? 0) W, the curve says \(expected) W")
        for candidate in tuning.candidates {
            // Two GPUs: the curve's joules per step twice.
            let curve = 2 * Self.joules(candidate.watts)
            #expect(
                abs(candidate.joulesPerStep - curve) / curve < 0.03,
                "\(candidate.watts) W: \(candidate.joulesPerStep) J/step vs \(curve)")
            #expect(
                abs(candidate.secondsPerStep - Self.seconds(candidate.watts)) / Self.seconds(candidate.watts) < 0.03)
        }
        let saving = 1 - Self.joules(expected) / Self.joules(300)
        let predicted = try #require(tuning.predictedEnergySaving)
        #expect(abs(predicted - saving) < 0.02, "predicted saving \(predicted) vs the curve's \(saving)")
        print(
            "power tuning \(text): chose \(tuning.choiceWatts ?? 0) W (brute force \(expected) W), predicted saving "
                + "\(String(format: "%.1f", predicted * 100)) % vs the curve's \(String(format: "%.1f", saving * 100)) %"
        )
        // The choice held after the sweep, and everything is back after the job.
        let control = try #require(report.powerControl)
        #expect(control.last?.appliedWatts == expected)
        #expect(Self.limit(directory, 0) == 300_000 && Self.limit(directory, 1) == 300_000)
    }

    /// The energy a tuned job saves against the same job uncapped, over its steps (the phase `steps`: the
    /// workload's own start and end left out), is the curve's prediction for the limits the tuner set: 5 steps at
    /// 300 W, 13 at each of the nine candidates, then the choice (200 W) for the rest; within 2 %.
    @Test func theEnergySavedIsTheCurvesPrediction() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let steps = 150
        let (uncapped, one) = try Self.tune(nil, steps: steps, in: directory)
        let (tuned, two) = try Self.tune("energy", steps: steps, in: directory)
        #expect(one.status == 0 && two.status == 0, "\(one.stderr) \(two.stderr)")
        let before = try #require(uncapped.phases.first { $0.name == "steps" }?.joules)
        let after = try #require(tuned.phases.first { $0.name == "steps" }?.joules)
        let candidates = PowerTuner.candidates(maximum: 300, minimum: 100, step: 25)
        let choice = try #require(tuned.powerTuning?.choiceWatts)
        let swept = candidates.count * 13
        let schedule =
            Array(repeating: 300.0, count: 5) + candidates.flatMap { Array(repeating: $0, count: 13) }
            + Array(repeating: choice, count: steps - 5 - swept)
        // Two GPUs.
        let predicted = schedule.map { 2 * (Self.joules(300) - Self.joules($0)) }.reduce(0, +)
        let saved = before - after
        print(
            "power tuning saved \(String(format: "%.1f", saved)) J of \(String(format: "%.1f", before)) J over \(steps) "
                + "steps; the curve predicts \(String(format: "%.1f", predicted)) J")
        #expect(abs(saved - predicted) / predicted < 0.02, "saved \(saved) J, the curve predicts \(predicted) J")
    }

    @Test func noStepMarksLeaveTheLimitAloneAndSaySo() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (report, outcome) = try Self.tune("energy", steps: 0, in: directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let tuning = try #require(report.powerTuning)
        #expect(tuning.state == "incomplete")
        #expect(tuning.reason?.contains("no step marks (`end step` or `event step`) arrived") == true)
        #expect(report.powerControl == nil)
        #expect(Self.limit(directory, 0) == 300_000)
    }
}

extension PowerTuningTests {
    /// A recurring job (`--label job=NAME`) keeps its sweep: the next run sets the choice from its start, with no
    /// sweep, and another objective chooses again among the same saved candidates.
    @Test func aRecurringJobReusesItsSweep() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let profiles = directory.appendingPathComponent("profiles").path
        let extra = ["--label", "job=train", "--tune-profiles", profiles]
        let (first, one) = try Self.tune("energy", steps: 140, in: directory, extra: extra)
        #expect(one.status == 0, "\(one.stderr)")
        let swept = try #require(first.powerTuning)
        #expect(swept.state == "chosen" && !swept.profileReused)
        let path = try #require(swept.profilePath)
        #expect(
            FileManager.default.fileExists(atPath: path) && path.hasPrefix(profiles + "/gpu--Fake_GPU_0"), "\(path)")

        let (second, two) = try Self.tune("energy", steps: 40, in: directory, extra: extra)
        #expect(two.status == 0, "\(two.stderr)")
        let reused = try #require(second.powerTuning)
        #expect(reused.state == "reused" && reused.profileReused && reused.profilePath == path)
        #expect(reused.choiceWatts == 200 && reused.candidates == swept.candidates)
        // One limit per GPU, from the job's start to its end: no sweep.
        let control = try #require(second.powerControl)
        #expect(control.count == 2 && control.allSatisfy { $0.appliedWatts == 200 && $0.restoredAt != nil })
        #expect(control.allSatisfy { abs($0.appliedAt.timeIntervalSince(second.startedAt)) < 0.5 }, "\(control)")
        // Every step at 200 W: the curve's 2 × 4.0 J and 20 ms per step (the job's own start and end besides).
        let joules = try #require(second.energy.joules)
        #expect(joules > 40 * 8.0 && joules < 40 * 8.0 * 1.3, "\(joules) J for 40 steps at 8 J")

        let (third, _) = try Self.tune("slowdown:1.3", steps: 20, in: directory, extra: extra)
        #expect(third.powerTuning?.state == "reused" && third.powerTuning?.choiceWatts == 175)
        #expect(Self.limit(directory, 0) == 300_000 && Self.limit(directory, 1) == 300_000)
    }
}
