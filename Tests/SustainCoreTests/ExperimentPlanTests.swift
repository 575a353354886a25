import SustainCore
import Testing

struct ExperimentPlanTests {
    static func plan(_ parameters: [String], repeats: Int, warmups: Int = 0) throws -> ExperimentPlan {
        let parsed = try parameters.map { try ExperimentPlan.parse($0).get() }
        return try ExperimentPlan.make(parameters: parsed, repeats: repeats, warmups: warmups).get()
    }

    @Test func runsAreInterleavedRoundRobinWarmUpsFirst() throws {
        let plan = try Self.plan(["BS=32,64", "LR=0.1,0.01"], repeats: 2, warmups: 1)
        #expect(
            plan.configurations == [
                ["BS": "32", "LR": "0.1"], ["BS": "32", "LR": "0.01"], ["BS": "64", "LR": "0.1"],
                ["BS": "64", "LR": "0.01"],
            ])
        #expect(plan.runs.count == 12)
        #expect(plan.runs.prefix(4).allSatisfy(\.warmup) && !plan.runs.dropFirst(4).contains(where: \.warmup))
        #expect(plan.runs.map(\.configuration) == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])
        #expect(plan.runs.map(\.round) == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
    }

    @Test func withoutParametersThereIsOneConfiguration() throws {
        let plan = try Self.plan([], repeats: 5)
        #expect(plan.configurations == [[:]] && plan.runs.count == 5 && plan.runs.allSatisfy { $0.configuration == 0 })
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var parameters: [String]
        var repeats = 3
        var warmups = 0
        var message: String
        var testDescription: String { message }
    }

    static let refusals = [
        Refusal(parameters: [], repeats: 0, message: "--repeat must be at least 1"),
        Refusal(parameters: [], warmups: -1, message: "--warmup-runs must not be negative"),
        Refusal(parameters: ["1X=1,2"], message: "--param 1X: a name is letters"),
        Refusal(parameters: ["A-B=1"], message: "--param A-B: a name is letters"),
        Refusal(parameters: ["A=1", "A=2"], message: "--param A is given twice"),
        Refusal(parameters: ["A=1,,2"], message: "--param A has an empty value"),
        Refusal(parameters: ["A="], message: "--param A has an empty value"),
        Refusal(parameters: ["A=1,2,3,4,5,6,7,8,9,10", "B=1,2,3,4,5,6,7,8,9,10"], repeats: 101, message: "10100 runs"),
    ]

    @Test(arguments: refusals) func aBadPlanIsRefusedWithItsReason(_ refusal: Refusal) throws {
        let parsed = try refusal.parameters.map { try ExperimentPlan.parse($0).get() }
        switch ExperimentPlan.make(parameters: parsed, repeats: refusal.repeats, warmups: refusal.warmups) {
        case .success: Issue.record("planned: \(refusal.parameters)")
        case .failure(let error): #expect(error.description.hasPrefix(refusal.message), "\(error)")
        }
    }

    @Test func aParameterIsNameEqualsValues() throws {
        #expect(try ExperimentPlan.parse("PL=150,200,250").get() == .init(name: "PL", values: ["150", "200", "250"]))
        #expect(try ExperimentPlan.parse("URL=a=b,c").get() == .init(name: "URL", values: ["a=b", "c"]))
        #expect(throws: PlanError.self) { try ExperimentPlan.parse("PL").get() }
        #expect(throws: PlanError.self) { try ExperimentPlan.parse("=1").get() }
    }

    @Test func namesInBracesAreSubstitutedAndOthersLeft() {
        let configuration = ["BS": "64", "PL": "150"]
        #expect(ExperimentPlan.substitute("--batch-size={BS}", configuration) == "--batch-size=64")
        #expect(ExperimentPlan.substitute("{PL}{PL} {X} {bs}", configuration) == "150150 {X} {bs}")
    }

    @Test func placeholdersWithoutAParameterAreFoundAndOtherBracesLeft() throws {
        let parameters = [try ExperimentPlan.parse("BS=1,2").get()]
        #expect(
            ExperimentPlan.unknownPlaceholders(
                in: ["--batch={BS}", "--lr={LR}", "find", "-exec", "{}", "awk '{print $1}'", "{LR}{X1}"],
                parameters: parameters) == ["LR", "X1"])
        #expect(ExperimentPlan.unknownPlaceholders(in: ["{BS}", "{", "}{"], parameters: parameters).isEmpty)
    }
}
