import Testing

@testable import Meter

struct CounterParsingTests {
    @Test(arguments: [
        ("7000016854\n", UInt64?.some(7_000_016_854)),
        ("      123\n", 123),
        ("0\n", 0),
        ("0123\n", 123),  // decimal, never octal
        ("18446744073709551615\n", UInt64.max),
        ("18446744073709551616\n", nil),  // overflow
        ("", nil),
        ("\n", nil),
        ("garbage\n", nil),
        ("12abc\n", nil),
        ("-5\n", nil),
    ])
    func parse(text: String, expected: UInt64?) {
        let bytes = Array(text.utf8)
        let value = bytes.withUnsafeBufferPointer { PowercapSource.parseCounter($0) }
        #expect(value == expected, "\(text.debugDescription)")
    }
}

struct PlausibleMaxPowerTests {
    @Test func kindDefaultUnlessTheZoneAllowsMore() {
        // A 125 W TDP part bursting to 253 W (PL2) must not look like a reset: 4 × 125 W < 1 kW default.
        #expect(PowercapSource.plausibleMaxPower(kind: .package, constraintMaximum: .init(125)) == .init(1000))
        #expect(PowercapSource.plausibleMaxPower(kind: .package, constraintMaximum: .init(400)) == .init(1600))
        #expect(PowercapSource.plausibleMaxPower(kind: .dram, constraintMaximum: nil) == .init(500))
        #expect(PowercapSource.plausibleMaxPower(kind: .psys, constraintMaximum: nil) == .init(2000))
        #expect(PowercapSource.plausibleMaxPower(kind: .other, constraintMaximum: nil) == .init(1000))
    }
}
