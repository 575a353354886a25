import FoundationEssentials
import LinuxSupport
import Reports
import SustainAPI
import SustainCore

/// A tuning sweep's result, kept so that a recurring job (the same `--label job=NAME`, the same device model)
/// skips the sweep: its candidates' profiles, from which the job's objective chooses again (an objective other than
/// the one swept with chooses among the same measurements).
public struct PowerProfile: Codable, Sendable, Equatable {
    public var format = "sustain.power-profile.v1"
    public var kind: String
    public var model: String
    public var job: String
    public var stepMark: String
    public var measuredAt: Date
    /// The report the sweep was in.
    public var reportID: String
    public var candidates: [Report.PowerTuning.Candidate]

    enum CodingKeys: String, CodingKey {
        case format, kind, model, job, candidates
        case stepMark = "step_mark"
        case measuredAt = "measured_at"
        case reportID = "report_id"
    }

    public init(
        kind: String, model: String, job: String, stepMark: String, measuredAt: Date, reportID: String,
        candidates: [Report.PowerTuning.Candidate]
    ) {
        self.kind = kind
        self.model = model
        self.job = job
        self.stepMark = stepMark
        self.measuredAt = measuredAt
        self.reportID = reportID
        self.candidates = candidates
    }

    /// The limit `objective` chooses among the profiled candidates.
    public func choice(by objective: PowerTuner.Objective) -> Double? {
        let profiles = candidates.compactMap { candidate -> PowerTuner.Candidate? in
            // The summaries the choice reads: means (and counts) as measured.
            guard let energy = Statistics.Summary([candidate.joulesPerStep]),
                let time = Statistics.Summary([candidate.secondsPerStep])
            else { return nil }
            return PowerTuner.Candidate(watts: candidate.watts, joulesPerStep: energy, secondsPerStep: time)
        }
        guard let maximum = profiles.map(\.watts).max() else { return nil }
        return PowerTuner.choose(profiles, objective: objective, maximum: maximum)
    }
}

/// Saved tuning profiles, one JSON file per (device kind, model, job label) in a directory owned by root: the
/// service's state directory, or the root wrapper's `--tune-profiles`.
public struct PowerProfileStore: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// The store's directory name in the service's state directory.
    public static let directoryName = "power-profiles"

    /// The file of one profile: its key's characters outside [A-Za-z0-9._-] become `_`, so no key leaves the
    /// directory.
    public func path(kind: String, model: String, job: String) -> String {
        func safe(_ text: String) -> String {
            String(
                text.unicodeScalars.prefix(80).map { scalar -> Character in
                    scalar.isASCII
                        && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                            || "._-".unicodeScalars.contains(scalar))
                        ? Character(scalar) : "_"
                })
        }
        return "\(directory)/\(safe(kind))--\(safe(model))--\(safe(job)).json"
    }

    /// The profile saved for this key, nil when there is none or it does not match it.
    func load(kind: String, model: String, job: String) -> PowerProfile? {
        let path = path(kind: kind, model: model, job: job)
        guard let bytes = try? SafeFile.readTrusted(path, limit: 1 << 20),
            let profile = try? Report.fileDecoder().decode(PowerProfile.self, from: Data(bytes)),
            profile.kind == kind, profile.model == model, profile.job == job, !profile.candidates.isEmpty
        else { return nil }
        return profile
    }

    /// The profile a tuner of `devices` (their first one's model) for the job labelled `job` reuses, with its file;
    /// nil without a label, a model or a profile.
    public func saved(kind: PowerLimitRequest.Kind, devices: [ControlledDevice], job: String?) -> (
        PowerProfile, path: String
    )? {
        guard let job, let model = devices.first?.model,
            let profile = load(kind: kind.rawValue, model: model, job: job)
        else { return nil }
        return (profile, path(kind: kind.rawValue, model: model, job: job))
    }

    /// Saves `profile` (replacing the last one for its key).
    public func save(_ profile: PowerProfile) throws(PowerLimitError) {
        let path = path(kind: profile.kind, model: profile.model, job: profile.job)
        do {
            let bytes = Array(try Report.fileEncoder().encode(profile))
            try SafeFile.replace(path, with: bytes, mode: 0o644, createDirectories: true)
        } catch {
            throw PowerLimitError("cannot save the tuning profile \(path): \(error)")
        }
    }
}
