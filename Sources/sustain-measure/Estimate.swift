import ArgumentParser
import FoundationEssentials
import Impact
import Reports
import SustainCore

extension SustainMeasure {
    struct Estimate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "estimate",
            abstract: "Estimate the energy, carbon and cost of training or serving a model before it runs.",
            subcommands: [Train.self, Deploy.self]
        )
    }
}

/// How FLOPs become time and energy, shared by `estimate train`, `estimate deploy` and `compare`.
struct ExecutionOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Hardware from the bundled table (see config/hardware.csv), e.g. nvidia-h100-sxm.",
            valueName: "name"))
    var hardware: String?

    @Option(
        help: ArgumentHelp(
            "Precision: fp64, fp32, tf32, bf16, fp16, fp8, int8 (default bf16 on a GPU, fp32 on a CPU).",
            valueName: "p"))
    var precision: String?

    @Option(
        help: ArgumentHelp("Dense peak TFLOP/s per device, instead of the table (with --power).", valueName: "tflops"))
    var peakTflops: Double?

    @Option(help: ArgumentHelp("Power per device in watts, instead of the table.", valueName: "watts"))
    var power: Double?

    @Option(
        help: ArgumentHelp(
            "Model FLOPs utilisation, achieved ÷ peak (default 0.40 training, 0.10 serving).",
            valueName: "fraction"))
    var mfu: Double?

    @Option(help: ArgumentHelp("Number of devices.", valueName: "n"))
    var devices: Int = 1

    @Option(
        help: ArgumentHelp(
            "Use a measured report's energy per FLOP instead of peak × MFU (with --calibration-flops).",
            valueName: "report.json"))
    var calibrate: String?

    @Option(help: ArgumentHelp("FLOPs of the run measured in the --calibrate report.", valueName: "flops"))
    var calibrationFlops: Double?

    func assumptions(defaultMFU: Double) throws -> ExecutionAssumptions {
        do {
            if let calibrate {
                guard let flops = calibrationFlops else {
                    throw ValidationError("--calibrate needs --calibration-flops: the FLOPs of the measured run.")
                }
                return .calibrated(try Self.calibration(from: calibrate, flops: flops))
            }
            var part: Hardware
            if let hardware {
                part = try HardwareTable.bundled.part(hardware)
            } else if let peakTflops, let power {
                part = try .given(peakTFLOPs: peakTflops, power: power)
            } else {
                throw ValidationError(
                    "Say what it runs on: --hardware NAME (\(HardwareTable.bundled.parts.map(\.name).joined(separator: ", "))), "
                        + "or --peak-tflops and --power, or --calibrate REPORT.")
            }
            if let power { part = try .given(peakTFLOPs: 1, power: power).withPeaks(of: part) }
            let precisionName = precision ?? (part.kind == "cpu" ? "fp32" : "bf16")
            guard let precision = Precision(rawValue: precisionName.lowercased()) else {
                throw ValidationError(
                    "--precision must be one of \(Precision.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            return try .hardware(part, precision: precision, mfu: mfu ?? defaultMFU, devices: devices)
        } catch let error as ImpactError {
            throw ValidationError(error.description)
        }
    }

    static func calibration(from path: String, flops: Double) throws -> Calibration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("Cannot read the calibration report \(path).")
        }
        let report: Report
        do {
            report = try Report.decode(data)
        } catch {
            throw ValidationError("\(path) is not a sustain report: \(error).")
        }
        guard let joules = report.units?.joules ?? report.energy.joules, report.energy.method == "measured" else {
            throw ValidationError(
                "\(path) has no measured energy (energy.method \"\(report.energy.method)\"): it cannot calibrate.")
        }
        // A watched server's or attach report: the server's energy (its attributed share and GPUs), not the machine's.
        return try Calibration(
            measured: Joules(joules), duration: report.durationSeconds, flops: FLOPs(flops),
            source: "report \(report.id)" + (report.units == nil ? "" : " (the server's energy, units.joules)"))
    }
}

struct EstimateOutput: ParsableArguments {
    @Flag(help: "Print JSON (schema sustain.estimate.v1) instead of text.")
    var json = false

    func print(_ report: EstimateReport) throws {
        let text = json ? String(decoding: try report.jsonData(), as: UTF8.self) : report.text()
        Swift.print(text, terminator: "")
    }
}

extension SustainMeasure.Estimate {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Training: 6 × params × tokens, or epochs × batches × params × FLOPs per param per batch.")

        @Option(help: ArgumentHelp("Model parameters.", valueName: "n")) var params: Double
        @Option(help: ArgumentHelp("Training tokens (dense transformer: 6 × params × tokens).", valueName: "n"))
        var tokens: Double?
        @Option(help: ArgumentHelp("Epochs (with --batches and --flops-per-param-per-batch).", valueName: "n"))
        var epochs: Double?
        @Option(help: ArgumentHelp("Batches per epoch.", valueName: "n")) var batches: Double?
        @Option(
            help: ArgumentHelp(
                "FLOPs per parameter per batch (6 × tokens per batch for a dense transformer).",
                valueName: "n"))
        var flopsPerParamPerBatch: Double?
        @OptionGroup(title: "Hardware") var execution: ExecutionOptions
        @OptionGroup(title: "Carbon and cost") var carbon: CarbonOptions
        @OptionGroup var output: EstimateOutput

        func workload() throws -> Workload {
            if let tokens {
                guard epochs == nil, batches == nil, flopsPerParamPerBatch == nil else {
                    throw ValidationError(
                        "Give either --tokens, or --epochs, --batches and --flops-per-param-per-batch.")
                }
                return .trainingByTokens(parameters: params, tokens: tokens)
            }
            guard let epochs, let batches, let flopsPerParamPerBatch else {
                throw ValidationError("Give --tokens, or all of --epochs, --batches and --flops-per-param-per-batch.")
            }
            return .trainingByBatches(
                epochs: epochs, batchesPerEpoch: batches, parameters: params,
                flopsPerParameterPerBatch: flopsPerParamPerBatch)
        }

        func validate() throws { _ = try report() }

        func run() throws { try output.print(report()) }

        func report() throws -> EstimateReport {
            try EstimateRun.report(
                kind: "train", workload: workload(),
                execution: execution.assumptions(defaultMFU: ExecutionAssumptions.defaultTrainingMFU),
                carbon: carbon.settings())
        }
    }

    struct Deploy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Serving: 2 × params per generated token × tokens per request × requests, or tasks × params × FLOPs per param per task."
        )

        @Option(help: ArgumentHelp("Model parameters.", valueName: "n")) var params: Double
        @Option(help: ArgumentHelp("Generated tokens per request.", valueName: "n")) var tokensPerRequest: Double?
        @Option(help: ArgumentHelp("Requests.", valueName: "n")) var requests: Double?
        @Option(help: ArgumentHelp("Tasks (with --flops-per-param-per-task).", valueName: "n")) var tasks: Double?
        @Option(help: ArgumentHelp("FLOPs per parameter per task.", valueName: "n")) var flopsPerParamPerTask: Double?
        @OptionGroup(title: "Hardware") var execution: ExecutionOptions
        @OptionGroup(title: "Carbon and cost") var carbon: CarbonOptions
        @OptionGroup var output: EstimateOutput

        func workload() throws -> Workload {
            if let tasks {
                guard let flopsPerParamPerTask, tokensPerRequest == nil, requests == nil else {
                    throw ValidationError(
                        "Give --tasks with --flops-per-param-per-task, or --tokens-per-request with --requests.")
                }
                return .deploymentByTasks(
                    tasks: tasks, parameters: params, flopsPerParameterPerTask: flopsPerParamPerTask)
            }
            guard let tokensPerRequest, let requests else {
                throw ValidationError(
                    "Give --tokens-per-request and --requests, or --tasks and --flops-per-param-per-task.")
            }
            return .deploymentByTokens(parameters: params, tokensPerRequest: tokensPerRequest, requests: requests)
        }

        func validate() throws { _ = try report() }

        func run() throws { try output.print(report()) }

        func report() throws -> EstimateReport {
            guard let path = execution.calibrate, execution.calibrationFlops == nil else {
                return try EstimateRun.report(
                    kind: "deploy", workload: workload(),
                    execution: execution.assumptions(defaultMFU: ExecutionAssumptions.defaultDeploymentMFU),
                    carbon: carbon.settings())
            }
            return try calibratedByUnits(path)
        }

        /// `--calibrate` with a watched server's or attach report and no `--calibration-flops`: the measured FLOPs
        /// are the report's units times this formula's FLOPs per unit (a token: 2 × params; a request: 2 × params ×
        /// tokens per request; a task: params × FLOPs per param per task). The estimate scales the measured J/FLOP,
        /// and says the effective FLOP per joule, and against --hardware what utilisation that implies.
        func calibratedByUnits(_ path: String) throws -> EstimateReport {
            let report = try loadReport(path)
            guard let units = report.units, let count = units.count, count > 0, let joules = units.joules, joules > 0
            else {
                throw ValidationError(
                    "\(path.escapingControlCharacters) counts no units of work with energy (it is not a watch or attach "
                        + "report, or its units are missing): give --calibration-flops, the FLOPs of the measured run.")
            }
            let perUnit: Double
            switch units.unit {
            case "token", "tokens": perUnit = 2 * params
            case _ where tasks != nil: perUnit = params * (flopsPerParamPerTask ?? 0)
            default:
                guard let tokensPerRequest else {
                    throw ValidationError(
                        "The report counts \(units.unit.escapingControlCharacters)s: give --tokens-per-request (the "
                            + "tokens one of them generated) or --calibration-flops.")
                }
                perUnit = 2 * params * tokensPerRequest
            }
            let flops = count * perUnit
            let calibration: Calibration
            do {
                calibration = try Calibration(
                    measured: Joules(joules), duration: report.durationSeconds, flops: FLOPs(flops),
                    source: "report \(report.id): \(Quantity.fixed(count, 0)) \(units.unit)s served, units.joules")
            } catch {
                throw ValidationError(error.description)
            }
            var result = try EstimateRun.report(
                kind: "deploy", workload: workload(), execution: .calibrated(calibration), carbon: carbon.settings())
            let effective = flops / joules
            result.assumptions.append(
                .init(
                    name: "measured", value: "\(Quantity.significant(joules / count, 4)) J/\(units.unit)",
                    note: "\(Quantity.scientific(effective)) FLOP per joule effective (\(Quantity.fixed(count, 0)) "
                        + "\(units.unit)s × \(Quantity.scientific(perUnit)) FLOP each, \(Quantity.energy(joules)))"))
            if execution.hardware != nil {
                // The formula's assumptions as `estimate deploy --hardware` makes them (precision by the part's
                // kind, MFU, bounds), without the calibration.
                var formulaOptions = execution
                formulaOptions.calibrate = nil
                let assumptions = try formulaOptions.assumptions(defaultMFU: ExecutionAssumptions.defaultDeploymentMFU)
                if case .hardware(let part, let precision, let mfu, _) = assumptions.basis,
                    let peak = part.peakFLOPsPerSecond[precision], part.power > 0
                {
                    let formula = peak * mfu / part.power
                    result.assumptions.append(
                        .init(
                            name: "against the formula",
                            value: "\(Quantity.scientific(formula)) FLOP per joule at MFU \(mfu)",
                            note: "\(part.name) \(precision.rawValue) peak × MFU ÷ board power; the measurement "
                                + "implies MFU \(Quantity.significant(effective / formula * mfu, 3)) (the "
                                + "estimate above uses the measurement)"))
                }
            }
            return result
        }
    }
}

enum EstimateRun {
    static func report(kind: String, workload: Workload, execution: ExecutionAssumptions, carbon: CarbonSettings) throws
        -> EstimateReport
    {
        do {
            return EstimateReport(
                kind: kind, estimate: try Impact.Estimate(workload: workload, execution: execution, carbon: carbon))
        } catch {
            throw ValidationError(error.description)
        }
    }
}
