import SustainCore
import Testing

@testable import Meter

/// Marks and stops the service learns of late are placed between the readings around their instant
/// (`SamplerCheckpoint.interpolated`, `RecentReadings`); the windows between such points rest on real readings
/// and add up to the readings' own window.
struct InterpolationTests {
    static func reading(_ seconds: Double, joules: Double, readings: Int) -> SamplerCheckpoint {
        RestartTests.checkpoint(
            seconds: seconds, joules: [joules, joules / 2], counter: nil, readings: readings, samples: readings)
    }

    @Test(arguments: [
        (1.0, 100.0), (1.25, 125.0), (1.5, 150.0), (1.999, 199.9), (0.5, 100.0), (2.0, 200.0), (3.0, 200.0),
    ])
    func totalsAreOnTheLineBetweenTheTwoReadings(seconds: Double, expected: Double) throws {
        let point = SamplerCheckpoint.interpolated(
            between: Self.reading(1, joules: 100, readings: 10), and: Self.reading(2, joules: 200, readings: 11),
            at: MonotonicInstant(nanoseconds: UInt64(seconds * 1e9)))
        let package = try #require(point[RestartTests.package.id])
        #expect(abs(package.joules - expected) < 1e-9)
        #expect(abs((point[RestartTests.meter.id]?.joules ?? 0) - expected / 2) < 1e-9)
    }

    /// Two points between the same readings: their window is measured (it rests on both readings), the pieces
    /// of a span add up to it exactly, and a window of no time is 0 J.
    @Test func windowsBetweenInterpolatedPointsAddUp() throws {
        let before = Self.reading(1, joules: 100, readings: 10)
        let after = Self.reading(2, joules: 200, readings: 11)
        let points = [1.1, 1.4, 1.4, 1.9].map {
            SamplerCheckpoint.interpolated(
                between: before, and: after, at: MonotonicInstant(nanoseconds: UInt64($0 * 1e9)))
        }
        let channels = [RestartTests.package, RestartTests.meter]
        let decisions = [RestartTests.package.id: DomainDecision(counted: true, note: "test")]
        let pieces = zip([before] + points, points + [after]).map { start, end in
            Sampler.window(from: start, to: end, channels: channels, decisions: decisions).channels[0].energy?.value
        }
        #expect(pieces.allSatisfy { $0 != nil }, "\(pieces)")
        #expect(abs(pieces.compactMap { $0 }.reduce(0, +) - 100) < 1e-9)
        #expect(pieces[2] == 0)
    }

    /// Fresh readings closer than the ring's spacing replace the newest: a flood of them keeps the seconds before.
    @Test func aFloodOfReadingsDoesNotPushThePastOut() throws {
        var recent = RecentReadings()
        for index in 0..<100 {
            recent.append(Self.reading(Double(index) * 0.1, joules: Double(index) * 10, readings: index))
        }
        for index in 0..<20_000 {
            let seconds = 10 + Double(index) * 0.0001
            recent.append(Self.reading(seconds, joules: seconds * 100, readings: 100 + index))
        }
        let at = { (seconds: Double) in recent.checkpoint(at: MonotonicInstant(nanoseconds: UInt64(seconds * 1e9))) }
        #expect(abs((at(5.05)?[RestartTests.package.id]?.joules ?? 0) - 505) < 1e-6, "5 s back is still bracketed")
        #expect(recent.oldest?.instant == MonotonicInstant(nanoseconds: 0))
    }

    @Test func recentReadingsFindTheBracketAndForgetTheOldest() throws {
        var recent = RecentReadings()
        for index in 0..<(RecentReadings.capacity + 10) {
            recent.append(Self.reading(Double(index), joules: Double(index) * 10, readings: index))
        }
        let at = { (seconds: Double) in recent.checkpoint(at: MonotonicInstant(nanoseconds: UInt64(seconds * 1e9))) }
        #expect(abs((at(100.5)?[RestartTests.package.id]?.joules ?? 0) - 1005) < 1e-9)
        #expect(at(265)?[RestartTests.package.id]?.joules == 2650)
        #expect(at(5) == nil, "older than every kept reading")
        #expect(at(Double(RecentReadings.capacity + 20)) == nil, "newer than every kept reading")
        #expect(recent.oldest?.instant == MonotonicInstant(nanoseconds: 10_000_000_000))
    }
}
