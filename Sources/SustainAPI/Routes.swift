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

    /// The router's patterns.
    public enum Pattern {
        public static let job = "/v1/jobs/{id}"
        public static let stop = "/v1/jobs/{id}/stop"
        public static let marks = "/v1/jobs/{id}/marks"
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

/// The filters of `GET /v1/jobs`, as a client sends them.
public struct JobQuery: Sendable, Equatable {
    public var user: String?
    /// ISO 8601.
    public var since: String?
    /// `key=value`.
    public var label: String?
    public var limit: Int?

    public init(user: String? = nil, since: String? = nil, label: String? = nil, limit: Int? = nil) {
        self.user = user
        self.since = since
        self.label = label
        self.limit = limit
    }

    /// `/v1/jobs?…`.
    public var target: String {
        var query: [String] = []
        if let limit { query.append("limit=\(limit)") }
        if let user { query.append("user=\(APIRoute.percentEncoded(user))") }
        if let since { query.append("since=\(APIRoute.percentEncoded(since))") }
        if let label { query.append("label=\(APIRoute.percentEncoded(label))") }
        return query.isEmpty ? APIRoute.jobs : APIRoute.jobs + "?" + query.joined(separator: "&")
    }
}
