import LinuxSupport
import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The one client of sustain-measured's API, used by every command that talks to it: typed requests and answers
/// in `APICoding`, the routes of `APIRoute`, each refusal turned into a `ServiceError` that says what the service
/// answered. Reports come back as their JSON bytes: `Reports` decodes and checks them (`Report.decode`).
public struct ServiceClient: Sendable {
    public let http: UnixHTTPClient
    public var socketPath: String { http.socketPath }

    public init(_ http: UnixHTTPClient) { self.http = http }

    public init(socketPath: String, timeoutSeconds: Int = 30) {
        http = UnixHTTPClient(socketPath: socketPath, timeoutSeconds: timeoutSeconds)
    }

    /// Whether something answers on the socket; `checkReachable` says why not.
    public var isReachable: Bool { http.isReachable() }

    public func checkReachable() throws(SystemError) { try http.checkReachable() }

    /// `POST /v1/jobs`: the job is the service's from now.
    public func start(_ start: JobStart) throws(ServiceError) -> RunningJob {
        try decode(RunningJob.self, exchange("POST", APIRoute.jobs, start, expecting: 201))
    }

    /// `POST /v1/jobs/{id}/marks`.
    @discardableResult
    public func mark(_ marks: JobMarks, job id: String) throws(ServiceError) -> MarksAccepted {
        try decode(MarksAccepted.self, exchange("POST", APIRoute.marks(id), marks, expecting: 200))
    }

    /// `POST /v1/jobs/{id}/stop`: the finished job's report, as JSON.
    public func stop(_ id: String, _ stop: JobStop) throws(ServiceError) -> [UInt8] {
        try exchange("POST", APIRoute.stop(id), stop, expecting: 200)
    }

    /// `GET /v1/jobs/{id}`: a finished job's report or a `RunningJob`, as JSON.
    public func job(_ id: String) throws(ServiceError) -> [UInt8] { try get(APIRoute.job(id)) }

    /// `GET /v1/jobs?…`.
    public func jobs(_ query: JobQuery) throws(ServiceError) -> JobList {
        try decode(JobList.self, get(query.target))
    }

    /// `GET /v1/attribution`: since the service started.
    public func attribution() throws(ServiceError) -> AttributionView {
        try decode(AttributionView.self, get(APIRoute.attribution))
    }

    /// `GET /v1/attribution?from=…&to=…`: over a range of whole minutes.
    public func attribution(_ query: AttributionQuery) throws(ServiceError) -> AttributionRange {
        try decode(AttributionRange.self, get(query.target))
    }

    /// `GET /v1/watches`.
    public func watches() throws(ServiceError) -> WatchList { try decode(WatchList.self, get(APIRoute.watches)) }

    /// `POST /v1/watches/{name}/units`: units the application counted.
    public func count(_ units: Double, watch name: String) throws(ServiceError) {
        _ = try exchange("POST", APIRoute.watchUnits(name), WatchUnitsCount(count: units), expecting: 200)
    }

    /// `GET /v1/health`.
    public func health() throws(ServiceError) -> Health { try decode(Health.self, get(APIRoute.health)) }

    /// `GET /metrics`: Prometheus text.
    public func metrics() throws(ServiceError) -> String {
        String(decoding: try get(APIRoute.metrics), as: UTF8.self)
    }

    /// `GET target`, answered 200: its body.
    public func get(_ target: String) throws(ServiceError) -> [UInt8] {
        try answer(of: "GET", target, body: nil, expecting: 200)
    }

    private func exchange(_ method: String, _ target: String, _ value: some Encodable, expecting status: Int)
        throws(ServiceError) -> [UInt8]
    {
        let body: [UInt8]
        do {
            body = try APICoding.encode(value)
        } catch {
            throw ServiceError(target: target, kind: .malformed("the request could not be encoded: \(error)"))
        }
        return try answer(of: method, target, body: body, expecting: status)
    }

    private func answer(of method: String, _ target: String, body: [UInt8]?, expecting status: Int)
        throws(ServiceError) -> [UInt8]
    {
        let response: UnixHTTPClient.Response
        do {
            response = try http.send(method, target, json: body)
        } catch {
            throw ServiceError(target: target, kind: .unreachable(socketPath, error))
        }
        guard response.status == status else {
            throw ServiceError(
                target: target, kind: .refused(status: response.status, message: Self.message(response.body)))
        }
        return response.body
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws(ServiceError) -> T {
        do {
            return try APICoding.decode(type, from: body)
        } catch {
            throw ServiceError(target: "", kind: .malformed("an answer that is not a \(type): \(error)"))
        }
    }

    /// The service's error message from an error body, else the body's first 200 bytes; control characters
    /// escaped (it goes to a terminal).
    public static func message(_ body: [UInt8]) -> String {
        ((try? APICoding.decode(APIErrorBody.self, from: body))?.error
            ?? String(decoding: body.prefix(200), as: UTF8.self)).escapingControlCharacters
    }
}

/// What went wrong talking to sustain-measured, and on what.
public struct ServiceError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// Nothing answered (or the exchange broke off): the socket and why.
        case unreachable(String, SystemError)
        /// The service answered with an error status: what it said.
        case refused(status: Int, message: String)
        /// The answer (or the request) was not what the API says.
        case malformed(String)
    }

    public let target: String
    public let kind: Kind

    public var description: String {
        switch kind {
        case .unreachable(let socket, let error):
            "sustain-measured at \(socket) did not answer (\(error)); is it running? (systemctl status sustain-measured)"
        case .refused(let status, let message): "sustain-measured answered \(status): \(message)"
        case .malformed(let what): "sustain-measured sent \(what)"
        }
    }
}
