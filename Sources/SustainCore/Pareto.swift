/// Quality against cost: which runs (or candidates) no other beats on both.
public enum Pareto {
    /// The indices of the points on the Pareto front: no other point costs no more and is at least as good, and
    /// strictly better on one. Points with a non-finite cost or quality are never on it.
    public static func front(cost: [Double], quality: [Double], higherIsBetter: Bool = true) -> Set<Int> {
        precondition(cost.count == quality.count)
        func better(_ a: Double, _ b: Double) -> Bool { higherIsBetter ? a > b : a < b }
        var front: Set<Int> = []
        for i in cost.indices where cost[i].isFinite && quality[i].isFinite {
            let dominated = cost.indices.contains { j in
                j != i && cost[j].isFinite && quality[j].isFinite && cost[j] <= cost[i]
                    && !better(quality[i], quality[j]) && (cost[j] < cost[i] || better(quality[j], quality[i]))
            }
            if !dominated { front.insert(i) }
        }
        return front
    }

    /// The indices of the points no other point dominates, over any number of objectives each to be minimized
    /// (negate one to maximize it): a point is dominated by another that is no worse on every objective and
    /// better on one. Points with a non-finite objective are never on the front.
    public static func front(minimizing points: [[Double]]) -> Set<Int> {
        let finite = points.indices.filter { points[$0].allSatisfy(\.isFinite) }
        var front: Set<Int> = []
        for i in finite {
            let dominated = finite.contains { j in
                j != i && points[j].count == points[i].count
                    && zip(points[j], points[i]).allSatisfy { $0 <= $1 }
                    && zip(points[j], points[i]).contains { $0 < $1 }
            }
            if !dominated { front.insert(i) }
        }
        return front
    }

    /// Whether a metric is better when higher, guessed from its name: losses, errors, perplexity, latency and
    /// distances are better lower; anything else (accuracy, F1, BLEU, throughput) higher.
    public static func higherIsBetter(metric name: String) -> Bool {
        let lower = name.lowercased()
        let smallerIsBetter = [
            "loss", "error", "err", "perplexity", "ppl", "latency", "wer", "cer", "mse", "mae", "rmse", "fid",
            "time", "seconds",
        ]
        return !smallerIsBetter.contains { lower == $0 || lower.hasSuffix("_" + $0) || lower.hasPrefix($0 + "_") }
    }
}
