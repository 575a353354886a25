import Testing

@testable import SustainCore

struct CounterAccumulatorTests {
    /// 100 J range, at most 50 W: the counter cannot wrap in less than 2 s.
    static let range = CounterRange(maxMicrojoules: 100_000_000, plausibleMaxPower: Watts(50))

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var previous: UInt64
        var current: UInt64
        var seconds: Double
        var range: CounterRange = CounterAccumulatorTests.range
        var expected: CounterStep
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "advance", previous: 10_000_000, current: 30_000_000, seconds: 1, expected: .advanced(Joules(20))),
        Case(label: "no change", previous: 5, current: 5, seconds: 1, expected: .advanced(.zero)),
        Case(
            label: "wrap across the maximum", previous: 95_000_000, current: 5_000_000, seconds: 0.5,
            expected: .wrapped(Joules(10))),
        Case(
            label: "wrap exactly to zero", previous: 99_000_000, current: 0, seconds: 0.1,
            expected: .wrapped(Joules(1))),
        Case(
            label: "backwards by an implausible amount is a reset", previous: 60_000_000, current: 1_000_000,
            seconds: 0.1, expected: .reset),
        Case(
            label: "forward jump beyond any plausible power is a glitch", previous: 1_000_000, current: 90_000_000,
            seconds: 0.1, expected: .reset),
        Case(
            label: "a µs-apart read may show a whole 1 ms update", previous: 1_000_000, current: 1_050_000,
            seconds: 0.000_01, expected: .advanced(Joules(0.05))),
        Case(
            label: "longer than the wrap period is ambiguous", previous: 10_000_000, current: 20_000_000,
            seconds: 2.5, expected: .ambiguous(Joules(10))),
        Case(
            label: "no range: backwards is a reset", previous: 50, current: 10, seconds: 1,
            range: CounterRange(maxMicrojoules: nil, plausibleMaxPower: Watts(50)), expected: .reset),
        Case(
            label: "previous above the range: inconsistent, reset", previous: 200_000_000, current: 10, seconds: 1,
            expected: .reset),
    ]

    @Test(arguments: cases)
    func step(_ c: Case) {
        let step = CounterAccumulator.step(
            from: MicrojouleCounter(c.previous), to: MicrojouleCounter(c.current), seconds: c.seconds,
            range: c.range)
        switch (step, c.expected) {
        case (.advanced(let a), .advanced(let b)), (.wrapped(let a), .wrapped(let b)),
            (.ambiguous(let a), .ambiguous(let b)):
            #expect(abs(a.value - b.value) < 1e-9, "\(c.label): \(step) vs \(c.expected)")
            #expect(step.energy.value >= 0)
        default:
            #expect(step == c.expected, "\(c.label)")
        }
    }

    @Test func sequenceWithWrapsAndAResetNeverGoesNegative() {
        var accumulator = CounterAccumulator(range: Self.range)
        let t0 = MonotonicInstant(nanoseconds: 5_000_000_000)
        // 40 W for 6 s sampled every 0.5 s: 20 J per step, wrapping every 2.5 s, then a reset at 4 s.
        var injected = 0.0
        var value: UInt64 = 90_000_000
        #expect(accumulator.record(MicrojouleCounter(value), at: t0) == .baseline)
        for step in 1...12 {
            let t = t0 + .milliseconds(500 * step)
            if step == 8 {
                value = 3_000_000  // reset: the interval's energy is unknown
            } else {
                value = (value + 20_000_000) % 100_000_001
                injected += 20
            }
            accumulator.record(MicrojouleCounter(value), at: t)
            #expect(accumulator.total.value >= 0)
        }
        #expect(accumulator.resets == 1)
        #expect(accumulator.wraps == 2)
        #expect(abs(accumulator.total.value - injected) < 0.001 * Double(accumulator.wraps + 1))
    }

    @Test func shortestWrapPeriod() {
        #expect(Self.range.shortestWrapPeriod == .seconds(2))
        #expect(CounterRange(maxMicrojoules: nil, plausibleMaxPower: Watts(1)).shortestWrapPeriod == nil)
        // turbostat on Zen 5: "234 sec. Joule Counter Range, at 280 Watts".
        let zen = CounterRange(maxMicrojoules: 65_532_610_987, plausibleMaxPower: Watts(280))
        #expect(abs((zen.shortestWrapPeriod?.seconds ?? 0) - 234.04) < 0.01)
    }
}

struct PowerIntegratorTests {
    @Test(arguments: [
        (0.0, 0.0, 1.0, 0.0),
        (10.0, 10.0, 2.0, 20.0),
        (0.0, 100.0, 1.0, 50.0),
        (30.0, 10.0, 0.5, 10.0),
        (10.0, 10.0, 0.0, 0.0),
    ])
    func trapezoid(start: Double, end: Double, seconds: Double, joules: Double) {
        let energy = PowerIntegrator.trapezoid(Watts(start), Watts(end), seconds: seconds)
        #expect(abs(energy.value - joules) < 1e-9)
    }

    @Test func rampIsIntegratedExactly() {
        var integrator = PowerIntegrator()
        let t0 = MonotonicInstant(nanoseconds: 1)
        // Power ramps 0 → 100 W over 10 s, sampled at 10 Hz: exact for a linear ramp, 500 J.
        for step in 0...100 {
            integrator.record(Watts(Double(step)), at: t0 + .milliseconds(100 * step))
        }
        #expect(abs(integrator.total.value - 500) < 1e-6)
        #expect(integrator.peak == Watts(100))
    }

    @Test func firstReadingAddsNothing() {
        var integrator = PowerIntegrator()
        #expect(integrator.record(Watts(300), at: MonotonicInstant(nanoseconds: 42)) == .zero)
        #expect(integrator.total == .zero)
    }
}

struct UnitsTests {
    @Test func conversions() {
        #expect(Joules(microjoules: 262_143_328_850).value == 262_143.328_85)
        #expect(Watts(microwatts: 205_000_000) == Watts(205))
        #expect(Joules(3_600_000).kilowattHours == 1)
        #expect((Watts(40) * .seconds(3)) == Joules(120))
        #expect((Joules(120) / .seconds(3)) == Watts(40))
        #expect((Joules(1) / .zero) == nil)
        #expect(Duration.seconds(fractional: 0.25) == .milliseconds(250))
        let t0 = MonotonicInstant(nanoseconds: 1_000_000_000)
        let t1 = t0 + .milliseconds(1500)
        #expect(t0.seconds(to: t1) == 1.5)
        #expect(t1.seconds(to: t0) == -1.5)
        #expect(t0.duration(to: t1) == .milliseconds(1500))
    }
}
