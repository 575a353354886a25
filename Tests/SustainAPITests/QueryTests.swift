import FoundationEssentials
import LinuxSupport
import SustainAPI
import Testing

/// The queries clients render and the service parses, the API's one JSON coding, and the client's errors.
struct QueryTests {
    @Test func aJobQueryRendersWhatItParses() throws {
        let query = JobQuery(
            user: "ana maría", since: Date(timeIntervalSince1970: 1_790_000_000.25),
            label: .init(key: "team", value: "a&b=c"), limit: 50)
        #expect(
            query.target
                == "/v1/jobs?limit=50&user=ana%20mar%C3%ADa&since=2026-09-21T14:13:20.250Z&label=team=a%26b=c")
        // The service's side, once the percent-encoding is undone by its router.
        let parsed = try JobQuery(parameters: [
            "limit": "50", "user": "ana maría", "since": "2026-09-21T14:13:20.250Z", "label": "team=a&b=c",
        ])
        #expect(parsed == query)
        #expect(JobQuery().target == "/v1/jobs")
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var parameters: [String: String]
        var message: String
        var testDescription: String { message }
    }

    static let refusals = [
        Refusal(parameters: ["since": "yesterday"], message: "since must be an ISO 8601 date-time"),
        Refusal(parameters: ["since": "2026-02-30T00:00:00Z"], message: "since must be an ISO 8601 date-time"),
        Refusal(parameters: ["label": "team"], message: "label must be key=value"),
        Refusal(parameters: ["label": "=x"], message: "label must be key=value"),
        Refusal(parameters: ["limit": "0"], message: "limit must be from 1 to 10000"),
        Refusal(parameters: ["limit": "10001"], message: "limit must be from 1 to 10000"),
        Refusal(parameters: ["limit": "ten"], message: "limit must be from 1 to 10000"),
    ]

    @Test(arguments: refusals) func aBadJobQueryIsRefusedWithItsReason(_ refusal: Refusal) {
        #expect {
            try JobQuery(parameters: refusal.parameters)
        } throws: { error in
            (error as? QueryError)?.description.hasPrefix(refusal.message) == true
        }
    }

    @Test func anAttributionQueryRendersWhatItParsesAndKeepsItsOrder() throws {
        let from = Date(timeIntervalSince1970: 1_790_000_000)
        let query = AttributionQuery(from: from, to: from.addingTimeInterval(3600))
        #expect(query.target == "/v1/attribution?from=2026-09-21T14:13:20.000Z&to=2026-09-21T15:13:20.000Z")
        #expect(
            try AttributionQuery(parameters: ["from": "2026-09-21T14:13:20Z", "to": "2026-09-21T15:13:20Z"]) == query)
        #expect(AttributionQuery().target == "/v1/attribution" && !AttributionQuery().isRange)
        #expect(throws: QueryError("from must not be after to")) {
            try AttributionQuery(parameters: ["from": "2026-09-21T15:00:00Z", "to": "2026-09-21T14:00:00Z"])
        }
        #expect(throws: QueryError.self) { try AttributionQuery(parameters: ["to": "now"]) }
    }

    @Test func theCodingIsOneAndStable() throws {
        let stop = JobStop(exitCode: 3)
        let bytes = try APICoding.encode(stop)
        #expect(try APICoding.decode(JobStop.self, from: bytes) == stop)
        #expect(try APICoding.encode(stop) == bytes, "the same value is the same bytes")
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("\"exit_code\":3"), "\(text)")
    }

    @Test func theClientSaysWhatFailedAndOnWhat() throws {
        let client = ServiceClient(socketPath: "/nonexistent/sustain-test.sock", timeoutSeconds: 1)
        #expect(!client.isReachable)
        do {
            _ = try client.jobs(JobQuery())
            Issue.record("a job list from no service")
        } catch {
            #expect(error.description.contains("/nonexistent/sustain-test.sock"), "\(error)")
            #expect(error.description.contains("did not answer"), "\(error)")
        }
        #expect(
            ServiceClient.message(Array(#"{"error": "no job x\u001b[2J"}"#.utf8)) == "no job x\\u{1B}[2J",
            "control characters are escaped")
        #expect(ServiceClient.message(Array("plain".utf8)) == "plain")
    }
}
