import Foundation
import Hummingbird
import Meter
import Reports
import SustainAPI
import SustainCore

extension RunningJob: ResponseEncodable {}
extension JobList: ResponseEncodable {}
extension Health: ResponseEncodable {}
extension Snapshot: ResponseEncodable {}
extension AttributionView: ResponseEncodable {}

extension JobSummary {
    /// A finished job's row as the listing shows it.
    init(_ record: JobRecord) {
        self.init(
            id: record.id, uid: record.uid, user: record.user,
            command: (try? JSONDecoder().decode([String].self, from: Data(record.command.utf8))) ?? [],
            startedAt: record.startedAt, endedAt: record.endedAt, exitCode: record.exitCode, joules: record.joules,
            kgCo2e: record.kgCo2e,
            labels: (try? JSONDecoder().decode([String: String].self, from: Data(record.labels.utf8))) ?? [:],
            state: record.state)
    }
}

extension Snapshot {
    /// Power and energy per domain now, from the sampler's running totals.
    init(sampler: Sampler) {
        let domains = sampler.domainTotals().map { total in
            Domain(
                id: total.channel.id.rawValue, name: total.channel.name, kind: total.channel.kind.rawValue,
                source: total.channel.source.rawValue, counted: total.counted, watts: total.watts,
                joulesSinceStart: total.joules)
        }
        self.init(domains: domains)
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

protocol AllowedKeys {
    static var allowedKeys: Set<String> { get }
    /// The allowed keys of nested objects, by field.
    static var nestedKeys: [String: Set<String>] { get }
}

extension AllowedKeys {
    static var nestedKeys: [String: Set<String>] { [:] }
}

typealias StrictJobStart = Strict<JobStart>
typealias StrictJobStop = Strict<JobStop>
typealias StrictJobMarks = Strict<JobMarks>
typealias StrictWatchUnitsCount = Strict<WatchUnitsCount>

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
        for (field, allowed) in Value.nestedKeys {
            let key = StrictObject<Value>.AnyKey(stringValue: field)
            guard container.contains(key), (try? container.decodeNil(forKey: key)) == false else { continue }
            let nested = try container.nestedContainer(keyedBy: StrictObject<Value>.AnyKey.self, forKey: key)
            for inner in nested.allKeys where !allowed.contains(inner.stringValue) {
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: [key, inner],
                        debugDescription: "unknown field (allowed: \(allowed.sorted().joined(separator: ", ")))"))
            }
        }
        value = try Value(from: decoder)
    }
}

extension JobStart: AllowedKeys {
    static var allowedKeys: Set<String> { fields }
    static var nestedKeys: [String: Set<String>] { ["carbon": CarbonRequest.fields] }
}
extension JobMarks: AllowedKeys {
    static var allowedKeys: Set<String> { fields }
}
extension MarksAccepted: ResponseEncodable {}
extension WatchUnitsCount: AllowedKeys {
    static var allowedKeys: Set<String> { fields }
}
extension WatchUnitsCount: ResponseEncodable {}
extension WatchList: ResponseEncodable {}
extension JobStop: AllowedKeys {
    static var allowedKeys: Set<String> { fields }
    static var nestedKeys: [String: Set<String>] { ["units": UnitsServed.fields] }
}
