#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The report of one measured job, schema `sustain.report.v1` (documented in the README). Field names are the
/// JSON keys; a nil field is written as `null`, never left out and never written as 0.
public struct Report: Codable, Sendable, Equatable {
    public static let schemaVersion = "sustain.report.v1"

    public var schema: String
    public var id: String
    public var command: [String]
    /// The child's exit code; nil when it was killed by a signal.
    public var exitCode: Int32?
    /// The signal that killed the child; nil when it exited.
    public var signal: Int32?
    /// True when the wrapper received SIGINT, SIGTERM, SIGHUP or SIGQUIT while the job ran.
    public var interrupted: Bool
    /// The signals the wrapper received, by name, in order.
    public var signalsReceived: [String]
    public var startedAt: Date
    public var endedAt: Date
    public var durationSeconds: Double
    public var host: Host
    public var energy: Energy
    public var power: Power
    public var sampling: Sampling
    public var temperatures: [Temperature]
    public var sources: [Source]
    public var warnings: [String]
    public var tool: Tool

    public struct Host: Codable, Sendable, Equatable {
        public var hostname: String
        public var kernel: String
        public init(hostname: String, kernel: String) {
            self.hostname = hostname
            self.kernel = kernel
        }
    }

    public struct Energy: Codable, Sendable, Equatable {
        /// The counted total; nil when nothing was measured.
        public var joules: Double?
        /// "measured" | "estimated" | "none".
        public var method: String
        public var domains: [Domain]
    }

    public struct Domain: Codable, Sendable, Equatable {
        /// "powercap" | "hwmon".
        public var source: String
        /// `intel-rapl:0:2`, `power_meter-acpi-0/power1`.
        public var id: String
        public var name: String
        /// package | core | uncore | dram | psys | platform | gpu | other.
        public var kind: String
        /// Energy measured on this domain; nil when not measured.
        public var joules: Double?
        public var counted: Bool
        /// Why it is counted or not.
        public var note: String
        /// "counter" | "power-integration" | "none".
        public var method: String
        public var readable: Bool
        public var path: String
        public var samples: Int
        public var errors: Int
        public var wraps: Int
        public var resets: Int
    }

    public struct Power: Codable, Sendable, Equatable {
        public var meanWatts: Double?
        public var peakWatts: Double?
    }

    public struct Sampling: Codable, Sendable, Equatable {
        public var intervalSeconds: Double
        /// The longest interval that keeps every counter from wrapping unseen; nil when no counter limits it.
        public var intervalLimitSeconds: Double?
        public var samples: Int
        public var wraps: Int
        public var resets: Int
        public var errors: Int
        /// CPU time the sampling thread used: what measuring cost.
        public var cpuSeconds: Double
    }

    public struct Temperature: Codable, Sendable, Equatable {
        public var id: String
        public var chip: String
        public var label: String
        public var minCelsius: Double?
        public var maxCelsius: Double?
        public var meanCelsius: Double?
    }

    public struct Source: Codable, Sendable, Equatable {
        public var name: String
        public var channels: Int
        public var readable: Int
        public var diagnostics: [String]
    }

    public struct Tool: Codable, Sendable, Equatable {
        public var name: String
        public var version: String
    }
}

extension Report {
    enum CodingKeys: String, CodingKey {
        case schema, id, command
        case exitCode = "exit_code"
        case signal, interrupted
        case signalsReceived = "signals_received"
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case durationSeconds = "duration_seconds"
        case host, energy, power, sampling, temperatures, sources, warnings, tool
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(id, forKey: .id)
        try c.encode(command, forKey: .command)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(signal, forKey: .signal)
        try c.encode(interrupted, forKey: .interrupted)
        try c.encode(signalsReceived, forKey: .signalsReceived)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(endedAt, forKey: .endedAt)
        try c.encode(durationSeconds, forKey: .durationSeconds)
        try c.encode(host, forKey: .host)
        try c.encode(energy, forKey: .energy)
        try c.encode(power, forKey: .power)
        try c.encode(sampling, forKey: .sampling)
        try c.encode(temperatures, forKey: .temperatures)
        try c.encode(sources, forKey: .sources)
        try c.encode(warnings, forKey: .warnings)
        try c.encode(tool, forKey: .tool)
    }
}

extension Report.Energy {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(joules, forKey: .joules)
        try c.encode(method, forKey: .method)
        try c.encode(domains, forKey: .domains)
    }
}

extension Report.Domain {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(source, forKey: .source)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(kind, forKey: .kind)
        try c.encode(joules, forKey: .joules)
        try c.encode(counted, forKey: .counted)
        try c.encode(note, forKey: .note)
        try c.encode(method, forKey: .method)
        try c.encode(readable, forKey: .readable)
        try c.encode(path, forKey: .path)
        try c.encode(samples, forKey: .samples)
        try c.encode(errors, forKey: .errors)
        try c.encode(wraps, forKey: .wraps)
        try c.encode(resets, forKey: .resets)
    }
}

extension Report.Power {
    enum CodingKeys: String, CodingKey {
        case meanWatts = "mean_watts"
        case peakWatts = "peak_watts"
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(meanWatts, forKey: .meanWatts)
        try c.encode(peakWatts, forKey: .peakWatts)
    }
}

extension Report.Sampling {
    enum CodingKeys: String, CodingKey {
        case intervalSeconds = "interval_seconds"
        case intervalLimitSeconds = "interval_limit_seconds"
        case samples, wraps, resets, errors
        case cpuSeconds = "cpu_seconds"
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(intervalSeconds, forKey: .intervalSeconds)
        try c.encode(intervalLimitSeconds, forKey: .intervalLimitSeconds)
        try c.encode(samples, forKey: .samples)
        try c.encode(wraps, forKey: .wraps)
        try c.encode(resets, forKey: .resets)
        try c.encode(errors, forKey: .errors)
        try c.encode(cpuSeconds, forKey: .cpuSeconds)
    }
}

extension Report.Temperature {
    enum CodingKeys: String, CodingKey {
        case id, chip, label
        case minCelsius = "min_celsius"
        case maxCelsius = "max_celsius"
        case meanCelsius = "mean_celsius"
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(chip, forKey: .chip)
        try c.encode(label, forKey: .label)
        try c.encode(minCelsius, forKey: .minCelsius)
        try c.encode(maxCelsius, forKey: .maxCelsius)
        try c.encode(meanCelsius, forKey: .meanCelsius)
    }
}
