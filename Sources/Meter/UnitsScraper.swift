import Glibc
import LinuxSupport
import SustainCore

/// Why a scrape gave no units: said in the watch's report and metrics; the watch goes on with its energy.
public enum ScrapeError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreachable(String)
    case timedOut(seconds: Int)
    case status(Int)
    case tooLarge(bytes: Int)
    case notText
    case noSuchCounter(String)
    case garbled(String)

    public var description: String {
        switch self {
        case .unreachable(let reason): "the metrics endpoint does not answer (\(reason))"
        case .timedOut(let seconds): "the metrics endpoint did not answer within \(seconds) s"
        case .status(let code): "the metrics endpoint answered HTTP \(code)"
        case .tooLarge(let bytes): "the metrics endpoint's answer is over \(bytes / 1_048_576) MiB: not read"
        case .notText: "the metrics endpoint's answer is not UTF-8 text"
        case .noSuchCounter(let selector): "no series matches \(selector) in the answer"
        case .garbled(let reason): "unusable counter: \(reason)"
        }
    }
}

/// How a scrape reaches the endpoint: the network (`HTTPScrapeTransport`), or a table in tests.
public protocol ScrapeTransport: Sendable {
    func get(_ url: PlainHTTPURL, timeoutSeconds: Int, maximumBytes: Int) throws(ScrapeError) -> String
}

/// GET over plain TCP, one connection per scrape, bounded in time (one deadline for the whole answer) and size.
/// Written here, not with AsyncHTTPClient: that would bring swift-nio-ssl and BoringSSL into the service for a
/// plain-HTTP GET on the node, and the bounded client the wrapper already uses for the service's socket does it.
public struct HTTPScrapeTransport: ScrapeTransport {
    public init() {}

    public func get(_ url: PlainHTTPURL, timeoutSeconds: Int, maximumBytes: Int) throws(ScrapeError) -> String {
        let client = UnixHTTPClient(
            host: url.host, port: url.port, timeoutSeconds: timeoutSeconds, maximumBytes: maximumBytes)
        let response: UnixHTTPClient.Response
        do {
            response = try client.send("GET", url.target, headers: [("Accept", "text/plain")], body: nil)
        } catch {
            switch error.errno {
            case ETIMEDOUT, EAGAIN: throw .timedOut(seconds: timeoutSeconds)
            case EFBIG: throw .tooLarge(bytes: maximumBytes)
            case EAFNOSUPPORT, EPERM, EACCES:
                throw .unreachable(
                    "TCP is not allowed to this process: the service's unit needs the watch.conf drop-in, "
                        + "docs/deployed.md")
            default: throw .unreachable(error.reason)
            }
        }
        guard response.status == 200 else { throw .status(response.status) }
        guard let text = String(validating: response.body, as: UTF8.self) else { throw .notText }
        return text
    }
}

/// One watched server's units: scrapes its endpoint and counts its counter across resets.
public struct UnitsScraper: Sendable {
    public let url: PlainHTTPURL
    public let selector: UnitsSelector
    public let transport: any ScrapeTransport
    public static let timeoutSeconds = 2
    public static let maximumBytes = 8 * 1_048_576

    public init(url: PlainHTTPURL, selector: UnitsSelector, transport: any ScrapeTransport = HTTPScrapeTransport()) {
        self.url = url
        self.selector = selector
        self.transport = transport
    }

    /// The counter's value now (the matching series summed), or why there is none.
    public func scrape() -> Result<Double, ScrapeError> {
        let text: String
        do {
            text = try transport.get(url, timeoutSeconds: Self.timeoutSeconds, maximumBytes: Self.maximumBytes)
        } catch {
            return .failure(error)
        }
        switch selector.value(in: text) {
        case .success(let value?): return .success(value)
        case .success(nil): return .failure(.noSuchCounter(selector.description))
        case .failure(let error): return .failure(.garbled(error.description))
        }
    }
}

/// A watch's units over its life: the counter across resets, and what the last scrapes said.
public struct WatchUnits: Sendable, Equatable {
    public private(set) var counter = UnitsCounter()
    public private(set) var scrapes = 0
    public private(set) var failures = 0
    /// The last failure's reason, nil once a scrape works again.
    public private(set) var lastError: ScrapeError?

    public init() {}

    public var total: Double { counter.total }

    public mutating func record(_ result: Result<Double, ScrapeError>) {
        scrapes += 1
        switch result {
        case .success(let value):
            counter.add(scraped: value)
            lastError = nil
        case .failure(let error):
            failures += 1
            lastError = error
        }
    }
}
