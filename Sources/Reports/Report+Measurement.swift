import Impact
import LinuxSupport
import Meter
import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The facts about a job that the wrapper knows and the sampler does not.
public struct JobFacts: Sendable {
    public var id: String
    public var command: RecordedCommand
    public var exitCode: Int32?
    public var signal: Int32?
    public var signalsReceived: [String]
    public var interrupted: Bool
    public var startedAt: Date
    public var endedAt: Date
    public var host: Report.Host
    /// CPU time and peak memory of the command's process tree.
    public var usage: ResourceUsage?

    public init(
        id: String, command: RecordedCommand, exitCode: Int32?, signal: Int32?, signalsReceived: [String],
        interrupted: Bool, startedAt: Date, endedAt: Date, host: Report.Host, usage: ResourceUsage? = nil
    ) {
        self.id = id
        self.command = command
        self.exitCode = exitCode
        self.signal = signal
        self.signalsReceived = signalsReceived
        self.interrupted = interrupted
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.host = host
        self.usage = usage
    }
}

/// One source as the report describes it.
public struct SourceSummary: Sendable {
    public var name: String
    public var channels: [ChannelDescriptor]
    public var diagnostics: [String]
    public init(name: String, channels: [ChannelDescriptor], diagnostics: [String]) {
        self.name = name
        self.channels = channels
        self.diagnostics = diagnostics
    }
}

extension Report {
    public static let toolVersion = "0.1.0"

    /// A report from what the sampler measured and what the wrapper knows. `fallback` is used only when nothing
    /// was measured, and then the report says "estimated" everywhere it matters.
    public init(
        job: JobFacts, measurement: MeasurementResult, sources: [SourceSummary], carbon settings: CarbonSettings,
        fallback: FallbackEstimate? = nil, gpus: [GPUDescription] = []
    ) {
        var warnings: [String] = []
        let unreadable = measurement.channels.filter { $0.descriptor.isEnergy && $0.descriptor.unreadable != nil }
        if !unreadable.isEmpty {
            warnings.append(Self.unreadableWarning(unreadable.map(\.descriptor)))
        }
        warnings += measurement.warnings
        let measured = measurement.countedEnergy
        if measured == nil {
            warnings.append(Self.nothingMeasuredWarning(measurement: measurement, sources: sources))
        }
        let estimate = measured == nil ? fallback : nil
        if let estimate {
            warnings.append(
                "Energy is ESTIMATED from the command's CPU time and memory, not measured; the estimate/* domains "
                    + "give the figures and conventions. Use --no-estimate to report no energy instead.")
        }
        let total = measured ?? estimate?.total
        let method = measured != nil ? "measured" : estimate != nil ? "estimated" : "none"

        var domains = measurement.channels.filter(\.descriptor.isEnergy).map { channel in
            Domain(
                source: channel.descriptor.source.rawValue, id: channel.descriptor.id.rawValue,
                name: channel.descriptor.name, kind: channel.descriptor.kind.rawValue,
                joules: channel.energy?.value, counted: channel.decision?.counted ?? false,
                note: channel.decision?.note ?? "not decided", method: channel.method.rawValue,
                readable: channel.descriptor.unreadable == nil, path: channel.descriptor.path,
                samples: channel.readings, errors: channel.errors, wraps: channel.wraps, resets: channel.resets)
        }
        if let estimate {
            domains += [
                Domain(
                    source: "estimate", id: "estimate/cpu", name: "CPU (job CPU time × TDP share)", kind: "package",
                    joules: estimate.cpu.value, counted: true, note: estimate.cpuNote, method: "estimated",
                    readable: true, path: "/proc (rusage of the command's process tree)", samples: 0, errors: 0,
                    wraps: 0, resets: 0),
                Domain(
                    source: "estimate", id: "estimate/memory", name: "memory (peak RSS × W/GB)", kind: "dram",
                    joules: estimate.memory.value, counted: true, note: estimate.memoryNote, method: "estimated",
                    readable: true, path: "/proc (rusage of the command's process tree)", samples: 0, errors: 0,
                    wraps: 0, resets: 0),
            ]
        }
        let temperatures = measurement.channels.compactMap { channel -> Temperature? in
            guard let statistics = channel.temperature else { return nil }
            return Temperature(
                id: channel.descriptor.id.rawValue, chip: channel.descriptor.group, label: channel.descriptor.name,
                minCelsius: statistics.minimum?.value, maxCelsius: statistics.maximum?.value,
                meanCelsius: statistics.mean?.value)
        }
        self.init(
            schema: Self.schemaVersion, id: job.id, command: job.command.text, exitCode: job.exitCode,
            signal: job.signal,
            interrupted: job.interrupted, signalsReceived: job.signalsReceived, startedAt: job.startedAt,
            endedAt: job.endedAt, durationSeconds: measurement.duration.seconds, host: job.host,
            energy: Energy(joules: total?.value, method: method, domains: domains),
            power: Power(
                meanWatts: total.flatMap { $0 / measurement.duration }?.value,
                // Only a peak that was observed: never the mean standing in for it (the service keeps running
                // totals, not per-job peaks, and a run too short for a clean interval has none).
                peakWatts: measured == nil ? nil : measurement.peakPower?.value),
            carbon: Carbon(CarbonAssessment(energy: total, settings: settings)),
            usage: job.usage.map {
                Usage(
                    cpuSeconds: $0.cpuSeconds, userSeconds: $0.userSeconds, systemSeconds: $0.systemSeconds,
                    maxRssBytes: $0.maxResidentBytes)
            },
            sampling: Sampling(
                intervalSeconds: measurement.interval.seconds,
                intervalLimitSeconds: measurement.intervalLimit?.seconds, samples: measurement.samples,
                wraps: measurement.wraps, resets: measurement.resets, errors: measurement.errors,
                cpuSeconds: measurement.samplerCPUSeconds),
            temperatures: temperatures,
            gpus: gpus.map { gpu in
                let decision = measurement.channels.first { $0.descriptor.id == gpu.channel }?.decision
                return GPU(
                    index: gpu.index, name: gpu.name, uuid: gpu.uuid, driverVersion: gpu.driverVersion,
                    domain: gpu.channel.rawValue, method: gpu.method.rawValue, counted: decision?.counted ?? false,
                    note: decision?.note ?? "not measured")
            },
            sources: sources.map { source in
                Source(
                    name: source.name, channels: source.channels.count,
                    readable: source.channels.filter { $0.unreadable == nil }.count,
                    diagnostics: source.diagnostics)
            },
            warnings: job.command.warnings + warnings, tool: Tool(name: "sustain-measure", version: Self.toolVersion))
        commandBase64 = job.command.base64
        commandWords = job.command.truncatedFrom
        if measured != nil { timeline = measurement.timeline.flatMap { Timeline($0, channels: measurement.channels) } }
    }

    /// The one message about unreadable counters, grouped by reason, with the fix.
    public static func unreadableWarning(_ channels: [ChannelDescriptor]) -> String {
        var reasons: [String] = []
        var byReason: [String: [String]] = [:]
        for channel in channels {
            let reason = channel.unreadable ?? "unreadable"
            if byReason[reason] == nil { reasons.append(reason) }
            byReason[reason, default: []].append(channel.id.rawValue)
        }
        let list = reasons.map { "\(byReason[$0, default: []].joined(separator: ", ")) (\($0))" }
            .joined(separator: "; ")
        let permission = channels.contains { $0.unreadable?.contains("permission") == true }
        let fix =
            permission
            ? " Since Linux 5.10 RAPL energy_uj is readable by root only: run as root, or start the "
                + "sustain-measured service (see README); do not chmod sysfs."
            : ""
        return "Not measured, unreadable: \(list).\(fix)"
    }

    static func nothingMeasuredWarning(measurement: MeasurementResult, sources: [SourceSummary]) -> String {
        let energyChannels = measurement.channels.filter(\.descriptor.isEnergy)
        if energyChannels.isEmpty {
            let reasons = sources.flatMap(\.diagnostics)
            return "Nothing was measured: this machine offers no readable energy counter or power sensor"
                + (reasons.isEmpty ? "." : " (" + reasons.joined(separator: "; ") + ").")
        }
        return "Nothing was measured: no counted domain gave two good readings; energy.joules is null, not 0."
    }

    /// A new report id: UTC time and 6 random hex digits, sortable by time.
    public static func newID(at date: Date = Date()) -> String {
        // 20261129T061907Z from the ISO 8601 timestamp, without a formatter (they are slow to set up).
        let stamp = timestamp(date).filter { $0 != "-" && $0 != ":" }.prefix(15)
        let random = String(UInt32.random(in: 0..<0x100_0000), radix: 16)
        return stamp + "Z-" + String(repeating: "0", count: 6 - random.count) + random
    }
}

extension Report.Carbon {
    /// The report's view of an assessment.
    public init(_ assessment: CarbonAssessment) {
        let settings = assessment.settings
        self.init(
            kgCo2e: assessment.emissions?.kilograms, intensityGPerKwh: settings.intensity.gramsPerKilowattHour,
            intensitySource: settings.intensitySource, intensityBasis: settings.intensity.basis.rawValue,
            region: settings.region?.requested, regionCode: settings.region?.factor.code,
            regionName: settings.region?.factor.name, regionVia: settings.region?.via,
            resolvedFrom: settings.origin.rawValue, pue: settings.pue.value, kwhAtMeter: assessment.atMeter?.value,
            kwhFacility: assessment.facility?.value,
            cost: settings.price.flatMap { price in
                assessment.cost.map {
                    Report.Cost(amount: $0, currency: price.currency, pricePerKwh: price.perKilowattHour)
                }
            },
            equivalents: assessment.equivalents.map {
                Report.Equivalent(
                    item: $0.item, quantity: $0.quantity, gramsPerItem: $0.gramsPerItem, source: $0.source)
            })
    }
}
