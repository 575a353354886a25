import SustainCore
import Testing

/// The arbitration of power caps: the highest lease wins, and the last release restores the original.
struct PowerLeasesTests {
    static let package0 = PowerLeases.Device(id: "intel-rapl:0")
    static let package1 = PowerLeases.Device(id: "intel-rapl:1")

    @Test func oneJobCapsAndItsEndRestoresTheOriginal() {
        var leases = PowerLeases()
        #expect(
            leases.acquire(Self.package0, by: "a", microwatts: 100_000_000, current: 150_000_000)
                == .apply(Self.package0, microwatts: 100_000_000))
        #expect(leases.applied(on: Self.package0) == 100_000_000)
        #expect(leases.originals == [Self.package0: 150_000_000])
        #expect(leases.release("a") == [.restore(Self.package0, microwatts: 150_000_000)])
        #expect(leases.applied(on: Self.package0) == nil && !leases.holds("a"))
    }

    @Test func theHighestLimitWinsAndTheOriginalComesBackAfterTheLast() {
        var leases = PowerLeases()
        _ = leases.acquire(Self.package0, by: "a", microwatts: 150, current: 250)
        // A higher request raises the cap; a lower one changes nothing.
        #expect(
            leases.acquire(Self.package0, by: "b", microwatts: 200, current: 150)
                == .apply(Self.package0, microwatts: 200))
        #expect(leases.acquire(Self.package0, by: "c", microwatts: 120, current: 200) == nil)
        #expect(leases.applied(on: Self.package0) == 200)
        // b leaves: the highest left is a's 150.
        #expect(leases.release("b") == [.apply(Self.package0, microwatts: 150)])
        #expect(leases.release("c") == [])
        #expect(leases.release("a") == [.restore(Self.package0, microwatts: 250)], "the original, not a's current")
    }

    @Test func aJobOnSeveralDevicesReleasesEach() {
        var leases = PowerLeases()
        _ = leases.acquire(Self.package0, by: "a", microwatts: 90, current: 100)
        _ = leases.acquire(Self.package1, by: "a", microwatts: 90, current: 110)
        #expect(leases.holds("a") && !leases.holds("b"))
        #expect(
            leases.release("a") == [.restore(Self.package0, microwatts: 100), .restore(Self.package1, microwatts: 110)])
        #expect(leases.release("a").isEmpty)
    }

    @Test func askingAgainReplacesTheHoldersLease() {
        var leases = PowerLeases()
        _ = leases.acquire(Self.package0, by: "a", microwatts: 90, current: 100)
        #expect(
            leases.acquire(Self.package0, by: "a", microwatts: 80, current: 90) == .apply(Self.package0, microwatts: 80)
        )
        #expect(leases.acquire(Self.package0, by: "a", microwatts: 80, current: 80) == nil)
        #expect(leases.release("a") == [.restore(Self.package0, microwatts: 100)])
    }

    @Test func releasingAllRestoresEveryDevice() {
        var leases = PowerLeases()
        _ = leases.acquire(Self.package1, by: "a", microwatts: 90, current: 110)
        _ = leases.acquire(Self.package0, by: "b", microwatts: 90, current: 100)
        _ = leases.acquire(Self.package0, by: "c", microwatts: 95, current: 90)
        #expect(
            leases.releaseAll() == [.restore(Self.package0, microwatts: 100), .restore(Self.package1, microwatts: 110)])
        #expect(leases.originals.isEmpty)
    }

    @Test func boundsRefuseWithTheRangeInTheMessage() {
        let bounds = PowerLimitBounds(minimum: Watts(60), maximum: Watts(205))
        #expect(bounds.check(Watts(150), on: Self.package0) == .success(150_000_000))
        #expect(
            bounds.check(Watts(40), on: Self.package0)
                == .failure(PowerLimitError("40.0 W is outside intel-rapl:0's allowed limits, 60.0–205.0 W")))
        #expect(
            bounds.check(Watts(300), on: PowerLeases.Device(id: "nvidia:0", constraint: 1))
                == .failure(PowerLimitError("300.0 W is outside nvidia:0 constraint 1's allowed limits, 60.0–205.0 W")))
        #expect(
            bounds.check(Watts(.nan), on: Self.package0)
                == .failure(PowerLimitError("a power limit is a positive number of watts, got nan")))
    }
}
