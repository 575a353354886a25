import SustainCore
import Testing

struct ParetoTests {
    @Test func theFrontHoldsTheRunsNoOtherBeatsOnBoth() {
        // energy (J), accuracy: c is dominated by b (cheaper and better), e ties b's cost with lower accuracy.
        let energy = [100.0, 200, 300, 400, 200, .nan]
        let accuracy = [0.80, 0.90, 0.85, 0.95, 0.88, 0.99]
        #expect(Pareto.front(cost: energy, quality: accuracy) == [0, 1, 3])
        // A loss is better lower: the cheapest with the lowest loss dominates everything.
        #expect(Pareto.front(cost: [1, 2, 3], quality: [0.1, 0.2, 0.05], higherIsBetter: false) == [0, 2])
        // Equal points are both on the front.
        #expect(Pareto.front(cost: [1, 1], quality: [0.5, 0.5]) == [0, 1])
    }

    @Test func directionIsGuessedFromTheName() {
        #expect(Pareto.higherIsBetter(metric: "accuracy"))
        #expect(Pareto.higherIsBetter(metric: "bleu"))
        #expect(!Pareto.higherIsBetter(metric: "val_loss"))
        #expect(!Pareto.higherIsBetter(metric: "perplexity"))
        #expect(!Pareto.higherIsBetter(metric: "WER"))
    }

    @Test func aFrontOverManyObjectivesKeepsTheUndominated() {
        // energy, duration, -accuracy: a is cheapest, b fastest, c best, d worse than a on everything, e = a.
        let points: [[Double]] = [
            [10, 5, -0.8], [20, 2, -0.8], [30, 6, -0.95], [11, 6, -0.7], [10, 5, -0.8], [.nan, 1, -1],
        ]
        #expect(Pareto.front(minimizing: points) == [0, 1, 2, 4])
        #expect(Pareto.front(minimizing: []).isEmpty)
    }
}
