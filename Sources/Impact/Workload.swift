/// A number of floating-point operations (FLOPs, not FLOP/s).
public struct FLOPs: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: Double
    @inlinable public init(_ value: Double) { self.value = value }
    @inlinable public static func < (lhs: FLOPs, rhs: FLOPs) -> Bool { lhs.value < rhs.value }
    public var description: String { "\(value) FLOPs" }
}

/// How much computation a job does, from one of the formulas below. Every formula keeps its inputs so an estimate
/// can list them.
public enum Workload: Sendable, Hashable {
    /// The seed's training cost: `C_train = N_epochs × N_batches × N_params × FLOPs per parameter per batch`.
    case trainingByBatches(
        epochs: Double, batchesPerEpoch: Double, parameters: Double, flopsPerParameterPerBatch: Double)
    /// The standard dense-transformer training estimate: `6 × N_params × N_tokens` (forward 2, backward 4).
    case trainingByTokens(parameters: Double, tokens: Double)
    /// The seed's deployment cost: `C_deploy = N_tasks × N_params × FLOPs per parameter per task`.
    case deploymentByTasks(tasks: Double, parameters: Double, flopsPerParameterPerTask: Double)
    /// Generation with a dense transformer: `2 × N_params` per generated token × tokens per request × requests.
    case deploymentByTokens(parameters: Double, tokensPerRequest: Double, requests: Double)

    /// The FLOPs of the workload, or an error naming the first invalid input.
    public func flops() throws(ImpactError) -> FLOPs {
        for (field, value) in inputs {
            guard value.isFinite, value > 0 else {
                throw .invalidValue(field: field, value: value, expected: "a positive finite number")
            }
        }
        let total = product
        // 1e40 FLOPs is twelve orders of magnitude beyond the largest training run to date: a typo, or an overflow.
        guard total.isFinite, total <= 1e40 else {
            throw .invalidValue(field: "FLOPs", value: total, expected: "at most 1e40 (check the inputs' exponents)")
        }
        return FLOPs(total)
    }

    private var product: Double {
        switch self {
        case .trainingByBatches(let epochs, let batches, let parameters, let perParameter):
            return epochs * batches * parameters * perParameter
        case .trainingByTokens(let parameters, let tokens):
            return 6 * parameters * tokens
        case .deploymentByTasks(let tasks, let parameters, let perParameter):
            return tasks * parameters * perParameter
        case .deploymentByTokens(let parameters, let tokensPerRequest, let requests):
            return 2 * parameters * tokensPerRequest * requests
        }
    }

    /// The formula, as text for reports.
    public var formula: String {
        switch self {
        case .trainingByBatches: "C_train = epochs × batches per epoch × parameters × FLOPs per parameter per batch"
        case .trainingByTokens: "C_train = 6 × parameters × tokens"
        case .deploymentByTasks: "C_deploy = tasks × parameters × FLOPs per parameter per task"
        case .deploymentByTokens: "C_deploy = 2 × parameters × tokens per request × requests"
        }
    }

    /// The inputs by name, in formula order.
    public var inputs: [(String, Double)] {
        switch self {
        case .trainingByBatches(let epochs, let batches, let parameters, let perParameter):
            [
                ("epochs", epochs), ("batches", batches), ("params", parameters),
                ("flops-per-param-per-batch", perParameter),
            ]
        case .trainingByTokens(let parameters, let tokens):
            [("params", parameters), ("tokens", tokens)]
        case .deploymentByTasks(let tasks, let parameters, let perParameter):
            [("tasks", tasks), ("params", parameters), ("flops-per-param-per-task", perParameter)]
        case .deploymentByTokens(let parameters, let tokensPerRequest, let requests):
            [("params", parameters), ("tokens-per-request", tokensPerRequest), ("requests", requests)]
        }
    }
}
