import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The paths of the HTTP API (version 1) on the service's Unix socket, for the daemon's router and for its
/// clients alike.
public enum APIRoute {
    /// `POST` a `JobStart` (201, a `RunningJob`); `GET` with `JobQuery` parameters: a `JobList`.
    public static let jobs = "/v1/jobs"
    /// `GET`: a finished job's report, or a `RunningJob`.
    public static func job(_ id: String) -> String { "/v1/jobs/\(percentEncoded(id))" }
    /// `POST` a `JobStop`: the job's report.
    public static func stop(_ id: String) -> String { "/v1/jobs/\(percentEncoded(id))/stop" }
    /// `POST` a `JobMarks`: the job's phase marks, each taken as a fresh reading when it arrives.
    public static func marks(_ id: String) -> String { "/v1/jobs/\(percentEncoded(id))/marks" }
    /// `GET`: `Health` (503 while the store fails).
    public static let health = "/v1/health"
    /// `GET`: `Snapshot`.
    public static let snapshot = "/v1/snapshot"
    /// `GET`: `AttributionView`, the machine's energy shared among jobs since the service started.
    public static let attribution = "/v1/attribution"
    /// `GET`: Prometheus text.
    public static let metrics = "/metrics"
    /// `GET`: `WatchList`, the watched servers now.
    public static let watches = "/v1/watches"
    /// `POST` a `WatchUnitsCount`: units a watched server's application counted.
    public static func watchUnits(_ name: String) -> String { "/v1/watches/\(percentEncoded(name))/units" }

    /// The router's patterns.
    public enum Pattern {
        public static let job = "/v1/jobs/{id}"
        public static let stop = "/v1/jobs/{id}/stop"
        public static let marks = "/v1/jobs/{id}/marks"
        public static let watchUnits = "/v1/watches/{name}/units"
    }

    /// `text` with everything but unreserved characters percent-encoded (RFC 3986), for a path segment or a query
    /// value (`=` kept, for `label=key=value`).
    public static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"), UInt8(ascii: ":"), UInt8(ascii: "="):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                result += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return result
    }
}

/// The filters of `GET /v1/jobs?user=&since=&label=key=value&limit=`: rendered by clients (`target`), parsed and
/// checked by the service (`init(parameters:)`), so that both read the same query.
public struct JobQuery: Sendable, Equatable {
    public struct Label: Sendable, Equatable {
        public var key: String
        public var value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    public static let limits = 1...10_000
    public static let defaultLimit = 1000

    public var user: String?
    public var since: Date?
    public var label: Label?
    public var limit: Int?

    public init(user: String? = nil, since: Date? = nil, label: Label? = nil, limit: Int? = nil) {
        self.user = user
        self.since = since
        self.label = label
        self.limit = limit
    }

    /// From a command line's words: `since` in ISO 8601, `label` as `key=value`; each checked as the service does.
    public init(user: String?, since: String?, label: String?, limit: Int?) throws(QueryError) {
        var parameters: [String: String] = [:]
        parameters["user"] = user
        parameters["since"] = since
        parameters["label"] = label
        parameters["limit"] = limit.map(String.init)
        try self.init(parameters: parameters)
    }

    /// The query's parameters, checked.
    public init(parameters: [String: String]) throws(QueryError) {
        user = parameters["user"]
        if let text = parameters["since"] {
            guard let date = ISODate.parse(text) else {
                throw QueryError("since must be an ISO 8601 date-time (2026-01-31T00:00:00Z), got \(text.prefix(40))")
            }
            since = date
        }
        if let text = parameters["label"] {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw QueryError("label must be key=value") }
            label = Label(key: parts[0], value: parts[1])
        }
        if let text = parameters["limit"] {
            guard let value = Int(text), Self.limits.contains(value) else {
                throw QueryError("limit must be from 1 to 10000")
            }
            limit = value
        }
    }

    /// `/v1/jobs?…`.
    public var target: String {
        var query: [String] = []
        if let limit { query.append("limit=\(limit)") }
        if let user { query.append("user=\(APIRoute.percentEncoded(user))") }
        if let since { query.append("since=\(APIRoute.percentEncoded(ISODate.string(since)))") }
        if let label { query.append("label=\(APIRoute.percentEncoded(label.key + "=" + label.value))") }
        return query.isEmpty ? APIRoute.jobs : APIRoute.jobs + "?" + query.joined(separator: "&")
    }
}

/// `GET /v1/attribution?from=&to=`: the attribution over a range (both absent: since the service started).
public struct AttributionQuery: Sendable, Equatable {
    public var from: Date?
    public var to: Date?

    public init(from: Date? = nil, to: Date? = nil) {
        self.from = from
        self.to = to
    }

    /// The query's parameters, checked: ISO 8601 times, `from` not after `to`.
    public init(parameters: [String: String]) throws(QueryError) {
        func time(_ name: String) throws(QueryError) -> Date? {
            guard let text = parameters[name] else { return nil }
            guard let date = ISODate.parse(text) else {
                throw QueryError("\(name): an ISO 8601 time (2026-11-30T04:00:00Z), got \(text.prefix(40))")
            }
            return date
        }
        from = try time("from")
        to = try time("to")
        if let from, let to, from > to { throw QueryError("from must not be after to") }
    }

    /// Whether a range was asked for.
    public var isRange: Bool { from != nil || to != nil }

    /// `/v1/attribution?…`.
    public var target: String {
        var query: [String] = []
        if let from { query.append("from=\(APIRoute.percentEncoded(ISODate.string(from)))") }
        if let to { query.append("to=\(APIRoute.percentEncoded(ISODate.string(to)))") }
        return query.isEmpty ? APIRoute.attribution : APIRoute.attribution + "?" + query.joined(separator: "&")
    }
}

/// A query that cannot be applied, and why (the service answers it with 400).
public struct QueryError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// ISO 8601 date-times of queries: parsed as `UTCTimestamp` reads them (with or without seconds, fractions or a
/// zone), written in UTC to the millisecond.
enum ISODate {
    static func parse(_ text: String) -> Date? {
        UTCTimestamp.seconds(parsing: text).map { Date(timeIntervalSince1970: $0) }
    }

    static func string(_ date: Date) -> String { UTCTimestamp.string(secondsSince1970: date.timeIntervalSince1970) }
}
