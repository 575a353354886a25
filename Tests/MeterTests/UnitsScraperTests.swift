import Foundation
import LinuxSupport
import Meter
import SustainCore
import SustainTestSupport
import Testing

/// A watched server's units through an injected transport (every failure a scrape can meet) and the real one
/// against Python's HTTP server: an answer that is down, slow, garbage, NaN, huge, or a counter that goes back.
struct UnitsScraperTests {
    struct Table: ScrapeTransport {
        let answers: [Result<String, ScrapeError>]
        let index = LockedCounter()
        func get(_ url: PlainHTTPURL, timeoutSeconds: Int, maximumBytes: Int) throws(ScrapeError) -> String {
            try answers[min(index.next(), answers.count - 1)].get()
        }
    }

    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Result<Double, ScrapeError>] = []
        func set(_ new: [Result<Double, ScrapeError>]) {
            lock.lock()
            values = new
            lock.unlock()
        }
        func get() -> [Result<Double, ScrapeError>] {
            lock.lock()
            defer { lock.unlock() }
            return values
        }
    }

    final class LockedCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value - 1
        }
    }

    @Test(arguments: [
        ("http://127.0.0.1:8000/metrics", "127.0.0.1", 8000 as UInt16, "/metrics"),
        ("http://localhost/metrics?x=1", "localhost", 80, "/metrics?x=1"),
        ("http://[::1]:9090", "::1", 9090, "/"),
    ])
    func urlsParse(text: String, host: String, port: UInt16, target: String) throws {
        let url = try PlainHTTPURL(text)
        #expect(url.host == host && url.port == port && url.target == target)
    }

    @Test(arguments: ["https://x/m", "http://", "http://:80/m", "http://h:99999/m", "http://h:x/m", "ftp://h/m"])
    func badURLsAreRefused(text: String) {
        // (`[::1]junk` too: after the brackets only a port may come.)
        #expect(throws: PlainHTTPURL.Malformed.self) { try PlainHTTPURL(text) }
    }

    @Test func everyFailureIsSaidAndTheCountGoesOnAcrossIt() throws {
        let answers: [Result<String, ScrapeError>] = [
            .success("requests_total 100\n"),
            .failure(.unreachable("Connection refused")),
            .success("requests_total 130\n"),
            .failure(.timedOut(seconds: 2)),
            .success("requests_total NaN\n"),
            .success("<html>garbage</html>\n"),
            .failure(.tooLarge(bytes: 8 * 1_048_576)),
            .success("requests_total 10\n"),  // the server restarted: 10 new
            .success("requests_total 25\n"),
        ]
        let scraper = UnitsScraper(
            url: try PlainHTTPURL("http://127.0.0.1:1/m"), selector: try UnitsSelector("requests_total"),
            transport: Table(answers: answers))
        var units = WatchUnits()
        var reasons: [String] = []
        for _ in answers {
            units.record(scraper.scrape())
            if let error = units.lastError { reasons.append(error.description) }
        }
        #expect(units.total == 30 + 10 + 15)
        #expect(units.scrapes == 9 && units.failures == 5 && units.counter.resets == 1)
        #expect(units.lastError == nil)
        #expect(reasons.contains("the metrics endpoint does not answer (Connection refused)"))
        #expect(reasons.contains { $0.hasPrefix("unusable counter:") })
        #expect(reasons.contains("no series matches requests_total in the answer"))
        #expect(reasons.contains { $0.contains("over 8 MiB") })
    }

    /// The real transport against Python's HTTP server: a counter, a huge answer, a 404, a port nothing listens on.
    @Test func theNetworkTransportIsBounded() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "# TYPE requests_total counter\nrequests_total{code=\"200\"} 42\n".write(
            to: directory.appendingPathComponent("metrics"), atomically: true, encoding: .utf8)
        let huge = String(repeating: "x", count: 9 * 1_048_576)
        try huge.write(to: directory.appendingPathComponent("huge"), atomically: true, encoding: .utf8)
        let port = UInt16.random(in: 20_000...40_000)
        let selector = try UnitsSelector("requests_total{code=\"200\"}")
        @Sendable func scrape(_ path: String, port: UInt16 = port) -> Result<Double, ScrapeError> {
            guard let url = try? PlainHTTPURL("http://127.0.0.1:\(port)\(path)") else { return .failure(.notText) }
            return UnitsScraper(url: url, selector: selector).scrape()
        }
        let results = Results()
        // Spawned by the harness (a clean signal mask, its own process group), killed once scraped.
        _ = try Harness.run(
            ["/usr/bin/python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", directory.path],
            timeout: .seconds(60)
        ) { pid in
            var first = scrape("/metrics")
            for _ in 0..<50 where first != .success(42) {
                Thread.sleep(forTimeInterval: 0.1)
                first = scrape("/metrics")
            }
            results.set([first, scrape("/huge"), scrape("/absent")])
            kill(pid, SIGKILL)
        }
        let got = results.get()
        #expect(got.count == 3)
        #expect(got.first == .success(42))
        #expect(got.dropFirst().first == .failure(.tooLarge(bytes: UnitsScraper.maximumBytes)))
        #expect(got.last == .failure(.status(404)))
        if case .failure(.unreachable) = scrape("/metrics", port: 1) {} else { Issue.record("port 1 answered") }
    }
}
