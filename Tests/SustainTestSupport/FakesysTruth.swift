import Foundation

/// What `sustain-fakesys --truth FILE` wrote: each channel's power, how often the counters moved, and every time
/// they stood still. One reader for every test that compares readings with the injected energy.
public struct FakesysTruth: Decodable, Sendable {
    public struct Channel: Decodable, Sendable {
        public var id: String
        public var name: String
        public var watts: Double
    }

    /// A time the counters stood still for two periods or more (both simulator threads held up: the host not
    /// running the VM's CPUs), in wall-clock seconds since 1970. A reading taken then is behind the injected energy
    /// by up to the stall: the counters' fault, not the reader's.
    public struct Stall: Decodable, Sendable {
        public var from: Double
        public var to: Double
    }

    public var zones: [Channel]
    public var chips: [Channel]
    public var updates: Int
    public var maxGapSeconds: Double
    public var stalls: [Stall]

    public static func read(_ path: String) throws -> FakesysTruth {
        try JSONDecoder().decode(FakesysTruth.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
