import Foundation
import SustainCore
import Testing

@testable import Meter

/// Carrying a job's window across a daemon restart, with invented totals: a 1000 J counter (shortest wrap 2 s at
/// 500 W) and a power meter.
struct RestartTests {
    static let package = ChannelDescriptor(
        id: ChannelID("intel-rapl:0"), source: .powercap, name: "package-0", kind: .package,
        quantity: .energyCounter(CounterRange(maxMicrojoules: 1_000_000_000, plausibleMaxPower: Watts(500))),
        group: "intel-rapl", path: "test")
    static let meter = ChannelDescriptor(
        id: ChannelID("power_meter-acpi-0/power1"), source: .hwmon, name: "power1", kind: .platform,
        quantity: .power, group: "power_meter-acpi-0", path: "test")
    static let ids = [package.id, meter.id]

    static func checkpoint(seconds: Double, joules: [Double], counter: UInt64?, readings: Int, samples: Int)
        -> SamplerCheckpoint
    {
        SamplerCheckpoint(
            instant: MonotonicInstant(nanoseconds: UInt64(seconds * 1e9)),
            channels: ids.indices.map { index in
                ChannelTotal(
                    id: ids[index], joules: joules[index], measured: true, watts: [100, 99][index], readings: readings,
                    errors: 0, wraps: 0, resets: 0, counter: index == 0 ? counter : nil)
            }, samples: samples)
    }

    /// The job started at 10 s; the last save was at 20 s (1000 J later, counter at `savedCounter`); the new
    /// sampler's first reading is at `20 + gap` s with the counter at `newCounter`.
    static func carry(
        gap: Double, savedCounter: UInt64 = 500_000_000, newCounter: UInt64, sameBoot: Bool = true,
        jobStart: SamplerCheckpoint = checkpoint(
            seconds: 10, joules: [100, 90], counter: nil, readings: 100, samples: 100)
    ) -> CarriedWindow {
        let saved = checkpoint(seconds: 20, joules: [1100, 1080], counter: savedCounter, readings: 200, samples: 200)
        let baseline = checkpoint(seconds: 20 + gap, joules: [0, 0], counter: newCounter, readings: 1, samples: 1)
        return jobStart.carried(saved: saved, to: baseline, channels: [package, meter], sameBoot: sameBoot)
    }

    @Test func aCounterDeltaRecoversTheGapExactly() {
        let window = Self.carry(gap: 1.5, newCounter: 650_000_000)
        #expect(window.recovered == [Self.package.id])
        #expect(window.missing == [Self.meter.id])
        // 1000 J before the crash + 150 J across the gap: the new sampler's totals start 1150 J "late".
        #expect(window.start.channels[0].joules == -1150)
        // The meter's 990 J before the crash are kept; its gap is unknown.
        #expect(window.start.channels[1].joules == -990)
        #expect(window.start.channels.map(\.readings) == [-99, -99])
        #expect(window.start.samples == -99)
        #expect(window.start.channels.map(\.wraps) == [0, 0])
        #expect(window.start.instant == MonotonicInstant(nanoseconds: 10_000_000_000), "the job's own start")
    }

    @Test func oneWrapAcrossTheGapIsRecovered() {
        let window = Self.carry(gap: 1.5, savedCounter: 990_000_000, newCounter: 140_000_000)
        #expect(window.recovered == [Self.package.id])
        #expect(abs(window.start.channels[0].joules - -1150) < 1e-9)
        #expect(window.start.channels[0].wraps == -1)
    }

    @Test(arguments: [
        (3.0, UInt64(650_000_000), true, "longer than the shortest wrap: a whole wrap may hide in the delta"),
        (0.5, UInt64(100_000_000), true, "back by more than a plausible wrap in 0.5 s: a reset"),
        (1.5, UInt64(650_000_000), false, "another boot: the counters started again"),
    ])
    func anUnsoundDeltaIsAGapNotAGuess(gap: Double, newCounter: UInt64, sameBoot: Bool, why: String) {
        let window = Self.carry(gap: gap, newCounter: newCounter, sameBoot: sameBoot)
        #expect(window.recovered.isEmpty, "\(why)")
        #expect(window.missing == Self.ids, "\(why)")
        #expect(window.start.channels[0].joules == -1000, "only the energy before the crash: \(why)")
    }

    @Test func aJobStartedAfterTheLastSaveCountsOnlyItsOwnShare() {
        // Started 50 ms after the save (5 J later on the counter, 4.95 J on the meter).
        let jobStart = Self.checkpoint(
            seconds: 20.05, joules: [1105, 1084.95], counter: nil, readings: 200, samples: 200)
        let window = Self.carry(gap: 1.5, newCounter: 650_000_000, jobStart: jobStart)
        // The counter's gap (150 J) less the 5 J before the job started.
        #expect(abs(window.start.channels[0].joules - -145) < 1e-9)
        // The meter knows nothing of the job before the restart: nothing carried, never negative.
        #expect(window.start.channels[1].joules == 0)
    }

    @Test func aChannelNewSinceTheRestartIsMissingBeforeIt() {
        let gpu = ChannelDescriptor(
            id: ChannelID("nvml:0"), source: .nvml, name: "GPU 0", kind: .gpu,
            quantity: .energyCounter(CounterRange(maxMicrojoules: nil, plausibleMaxPower: Watts(1000))),
            group: "nvml", path: "test")
        let job = Self.checkpoint(seconds: 10, joules: [100, 90], counter: nil, readings: 100, samples: 100)
        let saved = Self.checkpoint(
            seconds: 20, joules: [1100, 1080], counter: 500_000_000, readings: 200, samples: 200)
        var baseline = Self.checkpoint(seconds: 21, joules: [0, 0], counter: 600_000_000, readings: 1, samples: 1)
        baseline.channels.append(
            ChannelTotal(
                id: gpu.id, joules: 0, measured: true, watts: 0, readings: 1, errors: 0, wraps: 0, resets: 0, counter: 7
            ))
        let window = job.carried(saved: saved, to: baseline, channels: [Self.package, Self.meter, gpu], sameBoot: true)
        #expect(window.missing == [Self.meter.id, gpu.id])
        #expect(window.start.channels[2].joules == 0)
    }

    /// A checkpoint persisted by the first version (parallel per-channel arrays) still reads after an upgrade, as
    /// the same totals; a malformed one is refused.
    @Test func aFirstVersionCheckpointStillDecodes() throws {
        let old = #"""
            {"instant": {"nanoseconds": 20000000000}, "channels": ["intel-rapl:0", "power_meter-acpi-0/power1"], "joules": [1100, 1080],
             "measured": [true, true], "watts": [100, 99], "readings": [200, 200], "errors": [0, 0], "wraps": [0, 0],
             "resets": [0, 0], "counters": [500000000, null], "samples": 200}
            """#
        let decoded = try JSONDecoder().decode(SamplerCheckpoint.self, from: Data(old.utf8))
        #expect(
            decoded
                == Self.checkpoint(
                    seconds: 20, joules: [1100, 1080], counter: 500_000_000, readings: 200, samples: 200))
        let roundTrip = try JSONDecoder().decode(SamplerCheckpoint.self, from: JSONEncoder().encode(decoded))
        #expect(roundTrip == decoded)
        let short = old.replacingOccurrences(of: #""wraps": [0, 0]"#, with: #""wraps": [0]"#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SamplerCheckpoint.self, from: Data(short.utf8)) }
    }
}
