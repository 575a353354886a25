import FoundationEssentials
import Meter
import Reports
import SustainAPI
import SustainCore

/// `--tune-power`: the tuner (`PowerTuner`, pure) fed by the job's step marks, each with the tuned devices' energy
/// at the mark's reading. It says which limit to set when; its owner sets it (through `PowerController`) and
/// serialises the calls (the wrapper's lock, the service's actor).
public final class PowerTuningSession: @unchecked Sendable {
    public let kind: PowerLimitRequest.Kind
    public let stepMark: String
    public let devices: [ControlledDevice]
    private var tuner: PowerTuner
    private let channels: [ChannelID]
    private var steps = 0
    private var failure: String?
    private var finished: (choice: Double, candidates: [PowerTuner.Candidate])?
    /// A saved profile used instead of a sweep, and the limit the objective chooses from it.
    private let reused: (profile: PowerProfile, path: String, choice: Double)?
    /// Where this job's sweep was saved.
    public var savedPath: String?

    /// Steps waited before the first candidate, and per candidate the steps let pass and the steps profiled.
    public static let waitSteps = 5
    public static let warmupSteps = 3
    public static let profileSteps = 10

    /// Tunes `devices` (all of one kind) from their maximum down to `minimum` (the configuration's, else the
    /// hardware's, else a quarter of the maximum) in `stepWatts`; throws when there is nothing to tune.
    public init(
        kind: PowerLimitRequest.Kind, stepMark: String, objective: PowerTuner.Objective, devices: [ControlledDevice],
        minimum: Double?, stepWatts: Double, reusing profile: (PowerProfile, path: String)? = nil
    ) throws(PowerLimitError) {
        guard !devices.isEmpty else {
            throw PowerLimitError(
                kind == .cpu
                    ? "--tune-power cpu: no CPU package with a long_term RAPL constraint"
                    : "--tune-power gpu: no GPU whose power limit NVML can set")
        }
        let maxima = devices.map { Double($0.maximumMicrowatts ?? $0.limitMicrowatts) / 1_000_000 }
        let maximum = maxima.min() ?? 0
        let lowest =
            minimum ?? devices.compactMap { $0.minimumMicrowatts.map { Double($0) / 1_000_000 } }.max()
            ?? maximum * PowerController.defaultLowestFraction
        self.kind = kind
        self.stepMark = stepMark
        self.devices = devices
        // A GPU's energy is its NVML channel's (`nvidia:0` is `nvml:0`); a RAPL zone's is its own.
        self.channels = devices.map { device in
            ChannelID(
                device.device.id.hasPrefix("nvidia:") ? "nvml:" + device.device.id.dropFirst(7) : device.device.id)
        }
        self.tuner = PowerTuner(
            candidates: PowerTuner.candidates(maximum: maximum, minimum: min(lowest, maximum), step: stepWatts),
            waitSteps: Self.waitSteps, warmupSteps: Self.warmupSteps, profileSteps: Self.profileSteps,
            objective: objective)
        self.reused = profile.flatMap { profile, path in profile.choice(by: objective).map { (profile, path, $0) } }
    }

    /// The limit to set at the job's start: a saved profile's choice (no sweep), else none.
    public var initialLimit: Double? { reused?.choice }

    public var candidates: [Double] { tuner.candidates }
    public var isDone: Bool { finished != nil || failure != nil || reused != nil }

    /// This job's sweep as a profile to save for `job`, when it chose.
    public func profile(job: String, reportID: String, at date: Date) -> PowerProfile? {
        guard reused == nil, finished != nil, let model = devices.first?.model else { return nil }
        let section = report(originalWatts: nil)
        return PowerProfile(
            kind: kind.rawValue, model: model, job: job, stepMark: stepMark, measuredAt: date, reportID: reportID,
            candidates: section.candidates)
    }

    /// A mark of the job at its reading: the limit to set, when a step ends (`end NAME` or `event NAME`).
    public func observe(_ mark: Mark, at checkpoint: SamplerCheckpoint) -> Double? {
        switch mark {
        case .end(let name, _, _) where name == stepMark: break
        case .event(let name) where name == stepMark: break
        default: return nil
        }
        steps += 1
        guard !isDone else { return nil }
        let joules = channels.compactMap { checkpoint[$0]?.joules }.reduce(0, +)
        var limit: Double?
        for action in tuner.step(at: Double(checkpoint.instant.nanoseconds) / 1e9, joules: joules) {
            switch action {
            case .setLimit(let watts): limit = watts
            case .finished(let choice, let candidates): finished = (choice, candidates)
            }
        }
        return limit
    }

    /// A limit could not be set: tuning stops there (the owner puts the original back).
    public func fail(_ reason: String) { failure = reason }

    /// The report's section, at the job's end.
    public func report(originalWatts: Double?) -> Report.PowerTuning {
        let profiles = finished?.candidates ?? tuner.profiles
        let candidates =
            reused?.profile.candidates
            ?? profiles.map {
                Report.PowerTuning.Candidate(
                    watts: $0.watts, steps: $0.joulesPerStep.n, joulesPerStep: $0.joulesPerStep.mean,
                    joulesPerStepSD: $0.joulesPerStep.sd, secondsPerStep: $0.secondsPerStep.mean,
                    secondsPerStepSD: $0.secondsPerStep.sd)
            }
        let needed = Self.waitSteps + tuner.candidates.count * (Self.warmupSteps + Self.profileSteps + 1)
        let state: String
        let reason: String?
        if let failure {
            (state, reason) = ("failed", failure)
        } else if let reused {
            (state, reason) = (
                "reused",
                "the profile saved by job=\(reused.profile.job)'s sweep on \(reused.profile.model) "
                    + "(report \(reused.profile.reportID)) chose the limit from the job's start: no sweep"
            )
        } else if finished != nil {
            (state, reason) = ("chosen", nil)
        } else if steps == 0 {
            (state, reason) = (
                "incomplete",
                "no step marks (`end \(stepMark)` or `event \(stepMark)`) arrived: nothing was tuned and the original "
                    + "limit was kept"
            )
        } else {
            (state, reason) = (
                "incomplete",
                "the job ended after \(steps) of the about \(needed) steps the sweep needs "
                    + "(\(tuner.candidates.count) candidates): the original limit was kept for the rest of it"
            )
        }
        let choice = reused?.choice ?? finished?.choice
        // Against the candidate nearest the original limit (the maximum, as a rule).
        let reference = originalWatts.flatMap { original in
            candidates.min { abs($0.watts - original) < abs($1.watts - original) }
        }
        let chosen = candidates.first { $0.watts == choice }
        let saving = reference.flatMap { reference in chosen.map { 1 - $0.joulesPerStep / reference.joulesPerStep } }
        let slowdown = reference.flatMap { reference in
            chosen.map { $0.secondsPerStep / reference.secondsPerStep - 1 }
        }
        return Report.PowerTuning(
            device: kind.rawValue, devices: devices.map(\.device.id), stepMark: stepMark,
            objective: tuner.objective.description, state: state, reason: reason, stepsSeen: steps,
            originalWatts: originalWatts, choiceWatts: choice, candidates: candidates,
            predictedEnergySaving: saving.flatMap { $0.isFinite ? $0 : nil },
            predictedSlowdown: slowdown.flatMap { $0.isFinite ? $0 : nil }, profileReused: reused != nil,
            profilePath: reused?.path ?? savedPath)
    }
}
