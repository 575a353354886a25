import SustainCore

/// Energy per FLOP actually achieved on a machine, from a measured run.
public struct Calibration: Sendable, Hashable {
    public var joulesPerFLOP: Double
    public var secondsPerFLOP: Double
    /// Where it came from (the report id).
    public var source: String

    public init(measured energy: Joules, duration: Double, flops: FLOPs, source: String) throws(ImpactError) {
        guard energy.value > 0, energy.value.isFinite else {
            throw .invalidValue(field: "calibration energy", value: energy.value, expected: "a measured energy > 0")
        }
        guard flops.value > 0, flops.value.isFinite else {
            throw .invalidValue(
                field: "calibration flops", value: flops.value, expected: "the FLOPs of the measured run")
        }
        guard duration > 0, duration.isFinite else {
            throw .invalidValue(field: "calibration duration", value: duration, expected: "a duration > 0")
        }
        joulesPerFLOP = energy.value / flops.value
        secondsPerFLOP = duration / flops.value
        self.source = source
    }
}

/// How FLOPs become time and energy: a part from the table (or given figures), a utilisation and a device count;
/// or a calibration from a measured run.
public struct ExecutionAssumptions: Sendable, Hashable {
    public enum Basis: Sendable, Hashable {
        /// Peak throughput × MFU, at board power.
        case hardware(Hardware, precision: Precision, mfu: Double, devices: Int)
        /// Energy and time per FLOP measured on this machine.
        case calibrated(Calibration)
    }

    public var basis: Basis

    /// Model FLOPs utilisation used when none is given: 0.40 for training (large dense-transformer runs report
    /// 0.3–0.5), 0.10 for generation (memory-bound decoding rarely exceeds it).
    public static let defaultTrainingMFU = 0.40
    public static let defaultDeploymentMFU = 0.10

    public static func calibrated(_ calibration: Calibration) -> ExecutionAssumptions {
        ExecutionAssumptions(basis: .calibrated(calibration))
    }

    public static func hardware(
        _ part: Hardware, precision: Precision, mfu: Double, devices: Int
    ) throws(ImpactError) -> ExecutionAssumptions {
        guard part.peakFLOPsPerSecond[precision] != nil else {
            let offered = part.peakFLOPsPerSecond.keys.map(\.rawValue).sorted().joined(separator: ", ")
            throw .invalidText(
                field: "precision", value: precision.rawValue, expected: "one \(part.name) supports: \(offered)")
        }
        guard mfu.isFinite, mfu >= 0.001, mfu <= 1 else {
            throw .invalidValue(
                field: "mfu", value: mfu, expected: "a fraction of peak from 0.001 to 1 (typical 0.3-0.5)")
        }
        guard devices >= 1, devices <= 1_000_000 else {
            throw .invalidValue(field: "devices", value: Double(devices), expected: "a device count from 1")
        }
        return ExecutionAssumptions(basis: .hardware(part, precision: precision, mfu: mfu, devices: devices))
    }
}

/// An estimate of a workload: time, energy, carbon and cost, with every assumption listed.
public struct Estimate: Sendable {
    public struct Assumption: Sendable, Hashable {
        public var name: String
        public var value: String
        public var note: String
    }

    public var workload: Workload
    public var flops: FLOPs
    public var seconds: Double
    public var energy: Joules
    public var carbon: CarbonAssessment
    public var assumptions: [Assumption]

    public init(workload: Workload, execution: ExecutionAssumptions, carbon settings: CarbonSettings)
        throws(ImpactError)
    {
        let flops = try workload.flops()
        var assumptions = [Assumption(name: "formula", value: workload.formula, note: "")]
        assumptions += workload.inputs.map { Assumption(name: $0.0, value: Self.number($0.1), note: "given") }
        switch execution.basis {
        case .hardware(let part, let precision, let mfu, let devices):
            let peak = part.peakFLOPsPerSecond[precision] ?? 0
            seconds = flops.value / (peak * mfu * Double(devices))
            energy = Joules(part.power * Double(devices) * seconds)
            assumptions += [
                Assumption(name: "hardware", value: part.name, note: part.source),
                Assumption(name: "precision", value: precision.rawValue, note: "dense peak \(peak / 1e12) TFLOP/s"),
                Assumption(name: "mfu", value: "\(mfu)", note: "achieved ÷ peak throughput"),
                Assumption(name: "devices", value: "\(devices)", note: "perfect scaling assumed"),
                Assumption(
                    name: "power", value: "\(part.power) W per device",
                    note: "board power (TDP) for the whole run; host CPU, memory and network not included"),
            ]
        case .calibrated(let calibration):
            seconds = flops.value * calibration.secondsPerFLOP
            energy = Joules(flops.value * calibration.joulesPerFLOP)
            assumptions += [
                Assumption(
                    name: "calibration", value: "\(calibration.joulesPerFLOP) J/FLOP",
                    note: "measured in \(calibration.source): energy and time scale linearly with FLOPs")
            ]
        }
        guard seconds.isFinite, energy.value.isFinite else {
            throw .invalidValue(
                field: "estimate", value: energy.value,
                expected: "a finite time and energy (check the inputs' exponents)")
        }
        self.workload = workload
        self.flops = flops
        carbon = CarbonAssessment(energy: energy, settings: settings)
        assumptions += [
            Assumption(name: "pue", value: "\(settings.pue.value)", note: "facility ÷ IT energy"),
            Assumption(
                name: "intensity", value: "\(settings.intensity.gramsPerKilowattHour) gCO2e/kWh",
                note:
                    "\(settings.intensity.basis.rawValue); \(settings.intensitySource); from \(settings.origin.rawValue)"
            ),
        ]
        if let price = settings.price {
            assumptions.append(
                Assumption(name: "price", value: "\(price.perKilowattHour) \(price.currency)/kWh", note: "given"))
        }
        self.assumptions = assumptions
    }

    /// A whole number without a decimal point (`7000000000`), anything else as Swift prints it (`2.5e+22`).
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}
