import Foundation
import Hummingbird
import Meter
import Reports
import SustainCore

extension RunningJob: ResponseEncodable {}

struct Health: ResponseEncodable {
    /// "ok", or "degraded" while the store fails (answered with 503).
    var status: String
    var openJobs: Int
    var intervalSeconds: Double
    /// "ok", or "failing: REASON".
    var store: String
    /// Finished jobs kept in memory until the store takes them.
    var pendingJobs: Int

    enum CodingKeys: String, CodingKey {
        case status
        case openJobs = "open_jobs"
        case intervalSeconds = "interval_seconds"
        case store
        case pendingJobs = "pending_jobs"
    }
}

/// A finished job in a listing (the full report is at `/v1/jobs/{id}`).
struct JobSummary: Codable, Sendable {
    var id: String
    var uid: Int64
    var user: String
    var command: [String]
    var startedAt: Date
    var endedAt: Date
    var exitCode: Int64?
    var joules: Double?
    var kgCo2e: Double?
    var labels: [String: String]
    var state: String

    enum CodingKeys: String, CodingKey {
        case id, uid, user, command
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case exitCode = "exit_code"
        case joules
        case kgCo2e = "kg_co2e"
        case labels, state
    }

    init(_ record: JobRecord) {
        id = record.id
        uid = record.uid
        user = record.user
        command = (try? JSONDecoder().decode([String].self, from: Data(record.command.utf8))) ?? []
        startedAt = record.startedAt
        endedAt = record.endedAt
        exitCode = record.exitCode
        joules = record.joules
        kgCo2e = record.kgCo2e
        labels = (try? JSONDecoder().decode([String: String].self, from: Data(record.labels.utf8))) ?? [:]
        state = record.state
    }
}

struct JobList: ResponseEncodable {
    var running: [RunningJob]
    var finished: [JobSummary]
}

/// Power and energy per domain now, from the sampler's running totals.
struct Snapshot: ResponseEncodable {
    struct Domain: Codable {
        var id: String
        var name: String
        var kind: String
        var source: String
        var counted: Bool
        var watts: Double
        var joulesSinceStart: Double

        enum CodingKeys: String, CodingKey {
            case id, name, kind, source, counted, watts
            case joulesSinceStart = "joules_since_start"
        }
    }

    var domains: [Domain]
    var countedWatts: Double

    enum CodingKeys: String, CodingKey {
        case domains
        case countedWatts = "counted_watts"
    }

    init(sampler: Sampler) {
        let checkpoint = sampler.checkpoint()
        var domains: [Domain] = []
        for channel in sampler.channels where channel.isEnergy && channel.unreadable == nil {
            guard let checkpoint, let index = checkpoint.channels.firstIndex(of: channel.id) else { continue }
            domains.append(
                Domain(
                    id: channel.id.rawValue, name: channel.name, kind: channel.kind.rawValue,
                    source: channel.source.rawValue, counted: sampler.decisions[channel.id]?.counted ?? false,
                    watts: checkpoint.watts[index], joulesSinceStart: checkpoint.joules[index]))
        }
        self.domains = domains
        countedWatts = domains.filter(\.counted).reduce(0) { $0 + $1.watts }
    }
}

/// A report as the response body, in its own schema.
struct ReportResponse: ResponseGenerator {
    var report: Report

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(data: try report.jsonData())))
    }
}

/// Decodes a JSON object, refusing keys other than `allowed`: a misspelt field is an error, not ignored.
struct StrictObject<Value: Decodable & Sendable>: Decodable, Sendable {
    var value: Value

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

protocol AllowedKeys { static var allowedKeys: Set<String> { get } }

typealias StrictJobStart = Strict<JobStart>
typealias StrictJobStop = Strict<JobStop>

struct Strict<Value: Decodable & Sendable & AllowedKeys>: Decodable, Sendable {
    var value: Value

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: StrictObject<Value>.AnyKey.self)
        for key in container.allKeys where !Value.allowedKeys.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: [key],
                    debugDescription: "unknown field (allowed: \(Value.allowedKeys.sorted().joined(separator: ", ")))"))
        }
        value = try Value(from: decoder)
    }
}

extension JobStart: AllowedKeys {
    static let allowedKeys: Set<String> = ["command", "command_base64", "command_words", "pid", "cgroup", "labels"]
}
extension JobStop: AllowedKeys {
    static let allowedKeys: Set<String> = ["exit_code", "signal", "signals_received", "interrupted"]
}
