import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import Meter
import Reports
import SustainAPI
import SustainCore

/// The HTTP/JSON API (version 1), served on the Unix socket. Routes:
///
/// - `POST /v1/jobs` `{"command": [..], "pid": N, "cgroup": "...", "labels": {..}}` → 201, the running job
/// - `POST /v1/jobs/{id}/marks` `{"marks": ["begin train", ...]}` → how many were taken
/// - `POST /v1/jobs/{id}/stop` `{"exit_code": N, "signal": N, "signals_received": [..], "interrupted": b}` → the report
/// - `GET /v1/jobs/{id}` → the report of a finished job, or the running job
/// - `GET /v1/jobs?user=&since=&label=key=value&limit=` → running and finished jobs (own, or all for admins)
/// - `GET /v1/snapshot` → power and energy per domain now
/// - `GET /v1/attribution` → the machine's energy shared among jobs by cgroup CPU time, and the remainder
/// - `GET /v1/watches` → the watched servers (`[[watch]]`) now
/// - `POST /v1/watches/{name}/units` `{"count": N}` → units a watched server's application counted
/// - `GET /v1/health`, `GET /metrics` (Prometheus text)
public enum API {
    public static func router(
        registry: JobRegistry, store: JobStore, sampler: Sampler, metrics: MetricsExporter, identity: IdentitySource
    ) -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: IdentityMiddleware(source: identity))

        router.get(RouterPath(APIRoute.health)) { _, _ -> EditedResponse<Health> in
            let store = await registry.storeHealth
            let health = Health(
                status: store.failure == nil ? "ok" : "degraded", openJobs: await registry.openJobs,
                intervalSeconds: sampler.interval / .seconds(1), store: store.failure.map { "failing: \($0)" } ?? "ok",
                pendingJobs: store.pendingJobs)
            return EditedResponse(status: store.failure == nil ? .ok : .serviceUnavailable, response: health)
        }
        router.post(RouterPath(APIRoute.jobs)) { request, context -> EditedResponse<RunningJob> in
            let start = try await decode(StrictJobStart.self, request, context).value
            let job = try await jobError { try await registry.start(start, by: context.requireIdentity()) }
            return EditedResponse(status: .created, response: job)
        }
        router.post(RouterPath(APIRoute.Pattern.stop)) { request, context -> ReportResponse in
            let id = try context.parameters.require("id")
            let stop = try await decode(StrictJobStop.self, request, context).value
            let report = try await jobError { try await registry.stop(id, stop, by: context.requireIdentity()) }
            return ReportResponse(report: report)
        }
        router.post(RouterPath(APIRoute.Pattern.marks)) { request, context -> MarksAccepted in
            let id = try context.parameters.require("id")
            let marks = try await decode(StrictJobMarks.self, request, context).value
            let accepted = try await jobError {
                try await registry.mark(id, marks.marks, at: marks.at, by: context.requireIdentity())
            }
            return MarksAccepted(accepted: accepted)
        }
        router.get(RouterPath(APIRoute.Pattern.job)) { _, context -> Response in
            let id = try context.parameters.require("id")
            let identity = try context.requireIdentity()
            if let running = try await jobError({ try await registry.running(id, by: identity) }) {
                return try json(running)
            }
            let found = try await registry.pendingReport(id) ?? store.job(id: id)
            guard let record = found else { throw HTTPError(.notFound, message: "no job \(id)") }
            guard record.uid == Int64(identity.uid) || identity.isAdmin else {
                throw HTTPError(.forbidden, message: "job \(id) belongs to another user")
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: record.report)))
        }
        router.get(RouterPath(APIRoute.jobs)) { request, context -> JobList in
            let identity = try context.requireIdentity()
            var filter = try jobFilter(request.uri.queryParameters)
            if !identity.isAdmin { filter.uid = identity.uid }
            let records = try store.jobs(filter)
            let finished = records.map { JobSummary($0) }
            let running = await registry.runningJobs(by: identity).filter { job in
                (filter.user == nil || job.user == filter.user) && (filter.since.map { job.startedAt >= $0 } ?? true)
                    && (filter.label.map { job.labels[$0.key] == $0.value } ?? true)
            }
            return JobList(running: running, finished: finished)
        }
        router.get(RouterPath(APIRoute.snapshot)) { _, _ in Snapshot(sampler: sampler) }
        router.get(RouterPath(APIRoute.watches)) { _, _ in await registry.watchList() }
        router.post(RouterPath(APIRoute.Pattern.watchUnits)) { request, context -> WatchUnitsCount in
            let name = try context.parameters.require("name")
            let count = try await decode(StrictWatchUnitsCount.self, request, context).value
            try await jobError { try await registry.countUnits(name, count.count, by: context.requireIdentity()) }
            return count
        }
        router.get(RouterPath(APIRoute.attribution)) { request, context -> Response in
            // Totals for everyone; job ids, users and cgroups only for their owners (and root and admins).
            let identity = try context.requireIdentity()
            let query: AttributionQuery
            do {
                query = try AttributionQuery(parameters: parameters(request.uri.queryParameters))
            } catch let error as QueryError {
                throw HTTPError(.badRequest, message: error.description)
            }
            guard query.isRange else { return try json(await registry.attributionView(by: identity)) }
            let to = query.to?.timeIntervalSince1970 ?? Date().timeIntervalSince1970
            let from = query.from?.timeIntervalSince1970 ?? to - 3600
            guard from <= to else { throw HTTPError(.badRequest, message: "from must not be after to") }
            return try json(await registry.attributionRange(from: from, to: to, by: identity))
        }
        router.get(RouterPath(APIRoute.metrics)) { _, context in
            // Per-job series name jobs and users: root and admins see every job's, a user their own.
            let identity = try context.requireIdentity()
            return await metricsResponse(metrics, jobs: identity.isAdmin ? .all : .ofUser(identity.uid))
        }
        return router
    }

    /// `GET /metrics` alone, on a TCP address (`[daemon] metrics_address`) for a Prometheus server: the same
    /// exposition as on the socket. Nothing else is served there.
    /// Any local user can connect to a TCP port: per-job series there only with `perJob` (`[daemon]
    /// per_job_metrics`).
    public static func metricsApplication(
        metrics: MetricsExporter, perJob: Bool, host: String, port: Int, logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get(RouterPath(APIRoute.metrics)) { _, _ in await metricsResponse(metrics, jobs: perJob ? .all : .none) }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "sustain-measured"),
            onServerRunning: { _ in logger.info("serving /metrics", metadata: ["address": "\(host):\(port)"]) },
            logger: logger)
    }

    static func metricsResponse(_ metrics: MetricsExporter, jobs: MetricsExporter.JobSeries) async -> Response {
        let text = await metrics.exposition(jobs: jobs)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// `GET /v1/jobs?…` and `GET /v1/jobs/{id}` answered from the database alone, as root sees them, for
    /// `sustain-measure report` when the daemon is down (`sustain-measured query`). Only finished jobs are listed.
    public static func offline(_ target: String, store: JobStore) throws -> String {
        let uri = URI(target)
        let parts = uri.path.split(separator: "/").map(String.init)
        switch parts.count {
        case 2 where parts == ["v1", "jobs"]:
            let filter = try jobFilter(uri.queryParameters)
            let list = JobList(running: [], finished: try store.jobs(filter).map { JobSummary($0) })
            return String(decoding: try APICoding.encode(list), as: UTF8.self)
        case 3 where parts[0] == "v1" && parts[1] == "jobs":
            guard let record = try store.job(id: parts[2]) else {
                throw HTTPError(.notFound, message: "no finished job \(parts[2]) in \(store.path)")
            }
            return record.report
        default:
            throw HTTPError(.notFound, message: "no such query: \(uri.path)")
        }
    }

    /// The query's filters; a bad one is a 400.
    /// A request's query parameters (the first of each name).
    static func parameters(_ parameters: Parameters) -> [String: String] {
        var query: [String: String] = [:]
        for (key, value) in parameters where query[String(key)] == nil { query[String(key)] = String(value) }
        return query
    }

    static func jobFilter(_ parameters: Parameters) throws -> JobFilter {
        do {
            return JobFilter(try JobQuery(parameters: Self.parameters(parameters)))
        } catch {
            throw HTTPError(.badRequest, message: error.description)
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: APIContext) async throws -> T {
        do {
            return try await request.decode(as: type, context: context)
        } catch let error as HTTPError {
            throw error
        } catch let error as any HTTPResponseError {
            throw HTTPError(error.status, message: "request body larger than \(context.maxUploadSize) bytes")
        } catch let error as DecodingError {
            throw HTTPError(.badRequest, message: "invalid JSON body: \(describe(error))")
        } catch {
            throw HTTPError(.badRequest, message: "invalid JSON body: \(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "missing field \(key.stringValue)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            (context.codingPath.map(\.stringValue).joined(separator: ".").isEmpty
                ? "" : "field \(context.codingPath.map(\.stringValue).joined(separator: ".")): ")
                + context.debugDescription
        @unknown default: "\(error)"
        }
    }

    static func jobError<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as JobError {
            switch error {
            case .notFound: throw HTTPError(.notFound, message: error.description)
            case .forbidden, .notYourProcess, .notAllowed: throw HTTPError(.forbidden, message: error.description)
            case .alreadyStopped: throw HTTPError(.conflict, message: error.description)
            case .invalid: throw HTTPError(.badRequest, message: error.description)
            case .unavailable: throw HTTPError(.serviceUnavailable, message: error.description)
            case .tooMany: throw HTTPError(.tooManyRequests, message: error.description)
            }
        }
    }

    static func json<T: Encodable>(_ value: T) throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try APICoding.encode(value))))
    }
}

extension APIContext {
    func requireIdentity() throws -> Identity {
        guard let identity else { throw HTTPError(.forbidden, message: "no peer credentials") }
        return identity
    }
}

/// Turns anything unexpected into a JSON 500 and every HTTPError into a JSON body with its message.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = APIContext

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            return errorResponse(error.status, error.body ?? error.status.reasonPhrase)
        } catch let error as any HTTPResponseError {
            return errorResponse(error.status, "\(error)")
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            return errorResponse(.internalServerError, "internal error")
        }
    }

    func errorResponse(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let body = (try? APICoding.encode(APIErrorBody(error: message))) ?? []
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}
