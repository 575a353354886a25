import SustainCore
import Testing

/// The unit of work of a deployed model from its server's own Prometheus counter: selectors, expositions of the
/// shapes vLLM and a plain HTTP server print, garbage, and counters across resets.
struct UnitsCounterTests {
    static let exposition = """
        # HELP vllm:generation_tokens_total Number of generation tokens processed.
        # TYPE vllm:generation_tokens_total counter
        vllm:generation_tokens_total{model_name="llama-3-8b"} 12345.0
        vllm:generation_tokens_total{model_name="mistral-7b"} 55.0
        vllm:generation_tokens_total_created{model_name="llama-3-8b"} 1.7e9
        http_requests_total{code="200",method="POST",path="/v1/completions"} 300
        http_requests_total{code="500",method="POST",path="/v1/completions"} 2
        http_requests_total{code="200",method="GET",path="/a,b"} 7 1733150000000
        requests 41
        requests_other 9
        """

    @Test(arguments: [
        ("vllm:generation_tokens_total", 12400.0 as Double?),
        ("vllm:generation_tokens_total{model_name=\"llama-3-8b\"}", 12345),
        ("http_requests_total{code=\"200\"}", 307),
        ("http_requests_total{code=\"200\", method=\"POST\"}", 300),
        ("http_requests_total{path=\"/a,b\"}", 7),
        ("http_requests_total", 309),
        ("requests", 41),
        ("http_requests_total{code=\"404\"}", nil),
        ("absent_total", nil),
    ])
    func theMatchingSeriesAreSummed(selector: String, expected: Double?) throws {
        let parsed = try UnitsSelector(selector)
        #expect(try parsed.value(in: Self.exposition).get() == expected)
    }

    @Test(arguments: ["", "9lives", "a b", "m{code=200}", "m{code=\"200\"", "m{=\"x\"}", "m{c-d=\"x\"}"])
    func aBadSelectorIsRefused(text: String) {
        #expect(throws: UnitsSelector.Malformed.self) { try UnitsSelector(text) }
    }

    @Test(arguments: ["m NaN", "m -4", "m +Inf", "m{a=\"b\"} garbage", "m"])
    func aGarbledValueMakesTheScrapeUnusable(line: String) throws {
        let selector = try UnitsSelector("m")
        #expect(throws: UnitsSelector.Malformed.self) { try selector.value(in: "# x\n\(line)\n").get() }
    }

    @Test func countsAcrossResetsAsIncreaseDoes() {
        var counter = UnitsCounter()
        for value in [100.0, 150, 150, 30, 80, 80, 0, 5] { counter.add(scraped: value) }
        // 50, then a reset to 30 (30 counted), 50, a reset to 0, 5.
        #expect(counter.total == 50 + 30 + 50 + 0 + 5)
        #expect(counter.resets == 2)
    }

    @Test func theFirstScrapeIsTheBase() {
        var counter = UnitsCounter()
        counter.add(scraped: 1e6)
        #expect(counter.total == 0)
        counter.add(scraped: 1e6 + 300)
        #expect(counter.total == 300)
    }
}
