import Testing

@testable import SustainCore

/// The mark protocol's lines, good and bad.
struct MarkTests {
    @Test(arguments: [
        ("begin train", Mark.begin("train")), ("end train", .end("train", units: nil, unit: nil)),
        ("end epoch units=4096 unit=tokens", .end("epoch", units: 4096, unit: "tokens")),
        ("end epoch  units=4096.0", .end("epoch", units: 4096, unit: nil)), ("event checkpoint", .event("checkpoint")),
        ("checkpoint", .event("checkpoint")), ("begin époque", .begin("époque")),
    ])
    func goodLines(line: String, expected: Mark) throws {
        #expect(try Mark.parse(Array(line.utf8)) == expected)
    }

    @Test(arguments: [
        "", "begin", "begin two words", "end x units=-1", "end x units=nan", "end x units=1e30", "end x colour=red",
        "begin " + String(repeating: "x", count: 129), "begin a\u{1B}b", "a b",
    ])
    func badLines(line: String) {
        #expect(throws: MarkError.self) { try Mark.parse(Array(line.utf8)) }
    }

    @Test func bytesThatAreNotUTF8AreRefused() {
        #expect(throws: MarkError.notUTF8) { try Mark.parse(Array("begin ".utf8) + [0xE9]) }
    }
}
