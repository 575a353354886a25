import SustainCore

/// Candidate models to choose between before training (seed §5): each with a training workload and, optionally,
/// an expected serving workload, on given hardware.
public struct Candidate: Sendable {
    public var name: String
    public var training: Workload
    public var serving: Workload?
    public var hardware: Hardware
    public var precision: Precision?
    public var devices: Int
    public var mfu: Double?
    /// The quality the candidate is expected to reach (an accuracy, a score), for the quality-against-cost front.
    public var quality: Double?
}

/// A candidate's estimates and totals, for ranking.
public struct RankedCandidate: Sendable {
    public var candidate: Candidate
    public var training: Estimate
    public var serving: Estimate?

    public var energy: Joules { training.energy + (serving?.energy ?? .zero) }
    public var emissions: CarbonMass { (training.carbon.emissions ?? .zero) + (serving?.carbon.emissions ?? .zero) }
    public var cost: Double? {
        guard let trainingCost = training.carbon.cost else { return nil }
        return trainingCost + (serving?.carbon.cost ?? 0)
    }
}

/// Reads a candidates CSV and ranks the candidates by total energy.
///
/// Columns (header row required; blank cells mean "not given"): `name`, `params`, `tokens` (training tokens,
/// 6 × params × tokens) or `epochs`, `batches`, `flops_per_param_per_batch`; optional serving: `requests` and
/// `tokens_per_request` (2 × params per token); `hardware` (a name from the hardware table), `devices`
/// (default 1), `precision`, `mfu`.
public enum CandidateFile {
    /// The keys a candidate may have, in CSV columns or TOML tables.
    public static let keys = [
        "name", "params", "tokens", "epochs", "batches", "flops_per_param_per_batch", "requests", "tokens_per_request",
        "hardware", "devices", "precision", "mfu", "quality",
    ]

    /// Candidates from CSV text.
    public static func parse(_ text: String, file: String, hardware: HardwareTable = .bundled) throws(ImpactError)
        -> [Candidate]
    {
        let records = CSV.records(text)
        guard !records.isEmpty else {
            throw .malformed(
                file: file, line: 1, field: nil, reason: "no candidates (a header row and one row per model)")
        }
        if let header = CSV.parse(text).first?.fields {
            for column in header where !keys.contains(column.trimmingSpaces()) {
                throw .malformed(
                    file: file, line: 1, field: column,
                    reason: "unknown column (known: \(keys.joined(separator: ", ")))")
            }
        }
        return try candidates(from: records, file: file, hardware: hardware)
    }

    /// Candidates from records of text values by key, each with the line it starts on (any format).
    public static func candidates(
        from records: [(line: Int, values: [String: String])], file: String, hardware: HardwareTable = .bundled
    ) throws(ImpactError) -> [Candidate] {
        var candidates: [Candidate] = []
        for (line, row) in records {
            func number(_ field: String) throws(ImpactError) -> Double? {
                guard let text = row[field]?.trimmingSpaces(), !text.isEmpty else { return nil }
                guard let value = Double(text), value.isFinite, value > 0 else {
                    throw .malformed(
                        file: file, line: line, field: field, reason: "\"\(text)\" is not a positive number")
                }
                return value
            }
            func required(_ field: String) throws(ImpactError) -> Double {
                guard let value = try number(field) else {
                    throw .malformed(file: file, line: line, field: field, reason: "missing")
                }
                return value
            }
            guard let name = row["name"]?.trimmingSpaces(), !name.isEmpty else {
                throw .malformed(file: file, line: line, field: "name", reason: "missing")
            }
            let params = try required("params")
            let training: Workload
            if let tokens = try number("tokens") {
                training = .trainingByTokens(parameters: params, tokens: tokens)
            } else if try number("epochs") != nil {
                training = .trainingByBatches(
                    epochs: try required("epochs"), batchesPerEpoch: try required("batches"), parameters: params,
                    flopsPerParameterPerBatch: try required("flops_per_param_per_batch"))
            } else {
                throw .malformed(file: file, line: line, field: "tokens", reason: "give tokens, or epochs and batches")
            }
            var serving: Workload?
            if let requests = try number("requests") {
                serving = .deploymentByTokens(
                    parameters: params, tokensPerRequest: try required("tokens_per_request"), requests: requests)
            }
            guard let hardwareName = row["hardware"]?.trimmingSpaces(), !hardwareName.isEmpty else {
                throw .malformed(file: file, line: line, field: "hardware", reason: "missing")
            }
            let part: Hardware
            do {
                part = try hardware.part(hardwareName)
            } catch {
                throw .malformed(file: file, line: line, field: "hardware", reason: error.description)
            }
            var precision: Precision?
            if let text = row["precision"]?.trimmingSpaces(), !text.isEmpty {
                guard let value = Precision(rawValue: text.lowercased()) else {
                    throw .malformed(
                        file: file, line: line, field: "precision", reason: "unknown precision \"\(text)\"")
                }
                precision = value
            }
            let devices = try number("devices").map { Int($0) } ?? 1
            var quality: Double?
            if let text = row["quality"]?.trimmingSpaces(), !text.isEmpty {
                guard let value = Double(text), value.isFinite else {
                    throw .malformed(file: file, line: line, field: "quality", reason: "\"\(text)\" is not a number")
                }
                quality = value
            }
            var candidate = Candidate(
                name: name, training: training, serving: serving, hardware: part, precision: precision,
                devices: devices, mfu: try number("mfu"))
            candidate.quality = quality
            candidates.append(candidate)
        }
        return candidates
    }

    /// The candidates' estimates, lowest total energy first.
    public static func rank(_ candidates: [Candidate], carbon: CarbonSettings) throws(ImpactError) -> [RankedCandidate]
    {
        var ranked: [RankedCandidate] = []
        for candidate in candidates {
            let precision = candidate.precision ?? (candidate.hardware.kind == "cpu" ? .fp32 : .bf16)
            let training = try Estimate(
                workload: candidate.training,
                execution: .hardware(
                    candidate.hardware, precision: precision,
                    mfu: candidate.mfu ?? ExecutionAssumptions.defaultTrainingMFU, devices: candidate.devices),
                carbon: carbon)
            let serving = try candidate.serving.map { workload throws(ImpactError) in
                try Estimate(
                    workload: workload,
                    execution: .hardware(
                        candidate.hardware, precision: precision, mfu: ExecutionAssumptions.defaultDeploymentMFU,
                        devices: 1),
                    carbon: carbon)
            }
            ranked.append(RankedCandidate(candidate: candidate, training: training, serving: serving))
        }
        return ranked.sorted { $0.energy < $1.energy }
    }
}
