import SustainCore
import Testing

@testable import Impact

struct WorkloadTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var workload: Workload
        var flops: Double
        var testDescription: String { workload.formula }
    }

    /// Hand-computed values.
    static let cases: [Case] = [
        // Seed training cost: 10 epochs × 1,000 batches × 1e8 params × 6 × 512 tokens per batch.
        Case(
            workload: .trainingByBatches(
                epochs: 10, batchesPerEpoch: 1000, parameters: 1e8, flopsPerParameterPerBatch: 3072),
            flops: 3.072e15),
        // 6 N D: a 7B model on 2T tokens = 8.4e22.
        Case(workload: .trainingByTokens(parameters: 7e9, tokens: 2e12), flops: 8.4e22),
        // GPT-3 175B on 300B tokens = 3.15e23 (the published figure).
        Case(workload: .trainingByTokens(parameters: 175e9, tokens: 300e9), flops: 3.15e23),
        // Seed deployment cost: 1e6 tasks × 1e8 params × 2 FLOPs per param per task.
        Case(workload: .deploymentByTasks(tasks: 1e6, parameters: 1e8, flopsPerParameterPerTask: 2), flops: 2e14),
        // 2 N per token: 7B × 500 tokens × 1e6 requests = 7e18.
        Case(workload: .deploymentByTokens(parameters: 7e9, tokensPerRequest: 500, requests: 1e6), flops: 7e18),
    ]

    @Test(arguments: cases)
    func flops(_ c: Case) throws {
        let flops = try c.workload.flops()
        #expect(abs(flops.value - c.flops) / c.flops < 1e-12)
    }

    @Test(arguments: [Double.nan, 0, -1, .infinity])
    func invalidInputIsRejectedByName(value: Double) {
        do {
            _ = try Workload.trainingByTokens(parameters: 7e9, tokens: value).flops()
            Issue.record("accepted \(value)")
        } catch {
            #expect(error.description.contains("tokens"))
        }
    }
}

struct EstimateTests {
    let h100: Hardware

    init() throws { h100 = try HardwareTable.bundled.part("nvidia-h100-sxm") }

    @Test func fromFLOPsToTimeEnergyCarbonAndCost() throws {
        // 8.4e22 FLOPs on 64 H100 at 989 TFLOP/s bf16 × 0.4 MFU: 3.318e6 s; 700 W × 64 × t = 1.4864e11 J.
        let settings = try CarbonSettings.given(
            gramsPerKilowattHour: 400, basis: .lifecycle, pue: PowerUsageEffectiveness(1.1),
            price: ElectricityPrice(perKilowattHour: 0.1, currency: "USD"))
        let estimate = try Estimate(
            workload: .trainingByTokens(parameters: 7e9, tokens: 2e12),
            execution: .hardware(h100, precision: .bf16, mfu: 0.4, devices: 64), carbon: settings)
        let seconds = 8.4e22 / (989e12 * 0.4 * 64)
        #expect(abs(estimate.seconds - seconds) / seconds < 1e-12)
        let joules = 700 * 64 * seconds
        #expect(abs(estimate.energy.value - joules) / joules < 1e-12)
        let kwhFacility = joules / 3.6e6 * 1.1
        #expect(abs((estimate.carbon.facility?.value ?? 0) - kwhFacility) / kwhFacility < 1e-12)
        #expect(abs((estimate.carbon.emissions?.kilograms ?? 0) - kwhFacility * 0.4) / (kwhFacility * 0.4) < 1e-12)
        #expect(abs((estimate.carbon.cost ?? 0) - kwhFacility * 0.1) < 1e-6)
        let names = estimate.assumptions.map(\.name)
        for name in [
            "formula", "params", "tokens", "hardware", "precision", "mfu", "devices", "power", "pue", "intensity",
            "price",
        ] {
            #expect(names.contains(name), "assumption \(name) not listed")
        }
    }

    @Test func calibrateRoundTrip() throws {
        // A short measured run: 2e15 FLOPs took 120 s and 36 kJ. Estimating that same run gives it back exactly;
        // a run 1000× longer costs 1000× more.
        let calibration = try Calibration(
            measured: Joules(36_000), duration: 120, flops: FLOPs(2e15), source: "report x")
        let short = Workload.trainingByTokens(parameters: 1e8, tokens: 2e15 / 6e8)
        let estimate = try Estimate(workload: short, execution: .calibrated(calibration), carbon: .worldAverage())
        #expect(abs(estimate.energy.value - 36_000) < 1e-6)
        #expect(abs(estimate.seconds - 120) < 1e-9)
        let long = Workload.trainingByTokens(parameters: 1e8, tokens: 1000 * 2e15 / 6e8)
        let scaled = try Estimate(workload: long, execution: .calibrated(calibration), carbon: .worldAverage())
        #expect(abs(scaled.energy.value - 36_000_000) < 1e-3)
        #expect(scaled.assumptions.contains { $0.name == "calibration" && $0.note.contains("report x") })
    }

    @Test func calibrationRejectsUnmeasuredReports() {
        #expect(throws: ImpactError.self) {
            try Calibration(measured: Joules(0), duration: 1, flops: FLOPs(1e12), source: "r")
        }
        #expect(throws: ImpactError.self) {
            try Calibration(measured: Joules(10), duration: 1, flops: FLOPs(0), source: "r")
        }
    }

    @Test(arguments: [(0.0, 1), (1.5, 1), (Double.nan, 1), (0.4, 0)])
    func invalidExecutionIsRejected(mfu: Double, devices: Int) {
        #expect(throws: ImpactError.self) {
            try ExecutionAssumptions.hardware(h100, precision: .bf16, mfu: mfu, devices: devices)
        }
    }

    @Test func unsupportedPrecisionNamesWhatIsOffered() throws {
        let v100 = try HardwareTable.bundled.part("nvidia-v100-sxm")
        do {
            _ = try ExecutionAssumptions.hardware(v100, precision: .fp8, mfu: 0.4, devices: 1)
            Issue.record("fp8 accepted on a V100")
        } catch {
            #expect(error.description.contains("fp16"))
        }
    }

    @Test func hardwareTableIsComplete() {
        let table = HardwareTable.bundled
        #expect(table.parts.count >= 10)
        for part in table.parts {
            #expect(!part.source.isEmpty && part.power > 0 && !part.peakFLOPsPerSecond.isEmpty, "\(part.name)")
            // Lower precision is never slower than higher precision on the same part.
            if let fp32 = part.peakFLOPsPerSecond[.fp32], let bf16 = part.peakFLOPsPerSecond[.bf16] {
                #expect(bf16 >= fp32)
            }
        }
        #expect(throws: ImpactError.self) { try table.part("nvidia-h900") }
    }
}

struct CandidateTests {
    @Test func rankedByTotalEnergy() throws {
        let csv = """
            name,params,tokens,hardware,devices,requests,tokens_per_request
            large,7e9,1.4e11,nvidia-h100-sxm,32,1e7,300
            small,1.3e9,2.6e10,nvidia-a100-sxm,8,,
            """
        let candidates = try CandidateFile.parse(csv, file: "c.csv")
        #expect(candidates.count == 2)
        #expect(candidates[1].serving == nil)
        let ranked = try CandidateFile.rank(candidates, carbon: .worldAverage())
        #expect(ranked.map(\.candidate.name) == ["small", "large"])
        let large = try #require(ranked.last)
        #expect(abs(large.training.flops.value - 6 * 7e9 * 1.4e11) < 1e9)
        #expect(abs((large.serving?.flops.value ?? 0) - 2 * 7e9 * 300 * 1e7) < 1)
        #expect(large.energy == large.training.energy + (large.serving?.energy ?? .zero))
        #expect(large.cost == nil)  // no price given
    }

    @Test(arguments: [
        ("name,params,tokens,hardware\nx,abc,1e9,nvidia-l4\n", 2, "params"),
        ("name,params,tokens,hardware\nx,1e9,1e9,nvidia-l4\ny,1e9,,nvidia-l4\n", 3, "tokens"),
        ("name,params,tokens,hardware\nx,1e9,1e9,nvidia-h900\n", 2, "hardware"),
        ("name,params,tokens,hardware\n,1e9,1e9,nvidia-l4\n", 2, "name"),
        ("name,params,tokens,hardware,precision\nx,1e9,1e9,nvidia-l4,fp4\n", 2, "precision"),
        ("name,params,tokens,hardware,requests\nx,1e9,1e9,nvidia-l4,100\n", 2, "tokens_per_request"),
    ])
    func malformedFileNamesLineAndField(csv: String, line: Int, field: String) {
        do {
            _ = try CandidateFile.parse(csv, file: "c.csv")
            Issue.record("accepted")
        } catch {
            guard case .malformed(let file, let badLine, let badField, _) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(file == "c.csv")
            #expect(badLine == line)
            #expect(badField == field)
        }
    }
}

struct FallbackEstimateTests {
    @Test func givenTDPShareOfCPUTimePlusMemory() {
        let estimate = FallbackEstimate(
            cpuSeconds: 10, logicalCPUs: 8, tdp: Watts(80), cpuModel: nil, maxResidentBytes: 2_000_000_000,
            durationSeconds: 100)
        #expect(estimate.cpu == Joules(100))  // 80 W / 8 × 10 s
        #expect(abs(estimate.memory.value - 75) < 1e-9)  // 0.375 W/GB × 2 GB × 100 s
        #expect(estimate.total.value == estimate.cpu.value + estimate.memory.value)
        #expect(estimate.powerOrigin == .given)
    }

    @Test func tableByModelNameElsePerThreadDefault() {
        let xeon = FallbackEstimate(
            cpuSeconds: 1, logicalCPUs: 112, tdp: nil, cpuModel: "Intel(R) Xeon(R) Platinum 8480+",
            maxResidentBytes: 0, durationSeconds: 1)
        #expect(xeon.tdp == Watts(350))
        #expect(xeon.powerOrigin == .table("intel-xeon-8480+"))
        let unknown = FallbackEstimate(
            cpuSeconds: 1, logicalCPUs: 16, tdp: nil, cpuModel: "Some Future CPU", maxResidentBytes: 0,
            durationSeconds: 1)
        #expect(unknown.tdp == Watts(64))  // 4 W × 16 logical CPUs
        #expect(unknown.cpu == Joules(4))  // each busy logical CPU draws 4 W
        #expect(unknown.cpuNote.contains("estimated, not measured"))
    }
}
