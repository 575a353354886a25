import Testing

@testable import SustainCore

struct DomainPolicyTests {
    static let intelRange = CounterRange(maxMicrojoules: 262_143_328_850, plausibleMaxPower: Watts(1000))

    static func zone(_ id: String, _ name: String, group: String = "intel-rapl", unreadable: String? = nil)
        -> ChannelDescriptor
    {
        ChannelDescriptor(
            id: ChannelID(id), source: .powercap, name: name, kind: .powercapZone(named: name),
            quantity: .energyCounter(intelRange), group: group, path: "/sys/class/powercap/\(id)/energy_uj",
            unreadable: unreadable)
    }

    static func hwmon(_ chip: String, _ feature: String, power: Bool = true) -> ChannelDescriptor {
        let prefix = String(chip.split(separator: "-").first ?? "")
        return ChannelDescriptor(
            id: ChannelID("\(chip)/\(feature)"), source: .hwmon, name: feature, kind: .hwmonChip(prefix: prefix),
            quantity: power ? .power : .energyCounter(CounterRange(maxMicrojoules: nil, plausibleMaxPower: Watts(1e4))),
            group: chip, path: "/sys/class/hwmon/hwmon0/\(feature)")
    }

    static func counted(_ decisions: [ChannelID: DomainDecision]) -> Set<String> {
        Set(decisions.filter(\.value.counted).map(\.key.rawValue))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var channels: [ChannelDescriptor]
        var readings: [String: UInt64] = [:]
        var counted: Set<String>
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(
            label: "2-socket server: package + dram per socket, core inside",
            channels: [
                zone("intel-rapl:0", "package-0"), zone("intel-rapl:0:0", "core"), zone("intel-rapl:0:1", "dram"),
                zone("intel-rapl:1", "package-1"), zone("intel-rapl:1:0", "core"), zone("intel-rapl:1:1", "dram"),
            ],
            counted: ["intel-rapl:0", "intel-rapl:0:1", "intel-rapl:1", "intel-rapl:1:1"]),
        Case(
            label: "laptop: psys is the total, mmio mirror and the rest inside",
            channels: [
                zone("intel-rapl:0", "package-0"), zone("intel-rapl:0:0", "core"), zone("intel-rapl:0:1", "uncore"),
                zone("intel-rapl:0:2", "dram"), zone("intel-rapl:1", "psys"),
                zone("intel-rapl-mmio:0", "package-0", group: "intel-rapl-mmio"),
            ],
            counted: ["intel-rapl:1"]),
        Case(
            label: "mmio mirror without psys: counted once, through MSR",
            channels: [
                zone("intel-rapl:0", "package-0"), zone("intel-rapl-mmio:0", "package-0", group: "intel-rapl-mmio"),
            ],
            counted: ["intel-rapl:0"]),
        Case(
            label: "mmio zone with no MSR twin is counted",
            channels: [zone("intel-rapl-mmio:0", "package-0", group: "intel-rapl-mmio")],
            counted: ["intel-rapl-mmio:0"]),
        Case(
            label: "unreadable psys: fall back to package + dram",
            channels: [
                zone("intel-rapl:0", "package-0"), zone("intel-rapl:0:0", "dram"),
                zone("intel-rapl:1", "psys", unreadable: "permission denied"),
            ],
            counted: ["intel-rapl:0", "intel-rapl:0:0"]),
        Case(
            label: "AMD: dies fed by one counter counted once per package",
            channels: [
                zone("intel-rapl:0", "package-0-die-0"), zone("intel-rapl:1", "package-0-die-1"),
                zone("intel-rapl:2", "package-1-die-0"), zone("intel-rapl:3", "package-1-die-1"),
            ],
            readings: [
                "intel-rapl:0": 60_000_000_000, "intel-rapl:1": 60_000_000_000,
                "intel-rapl:2": 40_000_000_000, "intel-rapl:3": 40_000_000_500,
            ],
            counted: ["intel-rapl:0", "intel-rapl:2"]),
        Case(
            label: "Intel multi-die: separate counters are all counted",
            channels: [zone("intel-rapl:0", "package-0-die-0"), zone("intel-rapl:1", "package-0-die-1")],
            readings: ["intel-rapl:0": 60_000_000_000, "intel-rapl:1": 71_234_000_000],
            counted: ["intel-rapl:0", "intel-rapl:1"]),
        Case(
            label: "power meter beside RAPL is not added",
            channels: [zone("intel-rapl:0", "package-0"), hwmon("power_meter-acpi-0", "power1")],
            counted: ["intel-rapl:0"]),
        Case(
            label: "power meter alone is the total",
            channels: [
                zone("intel-rapl:0", "package-0", unreadable: "permission denied"),
                hwmon("power_meter-acpi-0", "power1"),
            ],
            counted: ["power_meter-acpi-0/power1"]),
        Case(
            label: "GPU counted beside packages, not beside psys",
            channels: [zone("intel-rapl:0", "package-0"), hwmon("amdgpu-pci-0900", "power1")],
            counted: ["intel-rapl:0", "amdgpu-pci-0900/power1"]),
        Case(
            label: "GPU inside psys",
            channels: [
                zone("intel-rapl:0", "package-0"), zone("intel-rapl:1", "psys"), hwmon("amdgpu-pci-0900", "power1"),
            ],
            counted: ["intel-rapl:1"]),
        Case(
            label: "a chip's energy counter wins over its power channel",
            channels: [hwmon("amdgpu-pci-0900", "power1"), hwmon("amdgpu-pci-0900", "energy1", power: false)],
            counted: ["amdgpu-pci-0900/energy1"]),
        Case(
            label: "unknown hwmon power is shown, not counted; nothing readable means nothing counted",
            channels: [hwmon("ina3221-i2c-1-40", "power1"), zone("intel-rapl:0", "package-0", unreadable: "denied")],
            counted: []),
    ]

    @Test(arguments: cases)
    func decide(_ c: Case) {
        let readings = c.readings.reduce(into: [ChannelID: MicrojouleCounter]()) {
            $0[ChannelID($1.key)] = MicrojouleCounter($1.value)
        }
        let decisions = DomainPolicy.decide(c.channels, firstReadings: readings)
        #expect(Self.counted(decisions) == c.counted, "\(c.label)")
        // Every energy channel gets a decision with a reason.
        for channel in c.channels {
            let decision = decisions[channel.id]
            #expect(decision != nil && decision?.note.isEmpty == false, "\(channel.id) has no reason")
        }
    }

    @Test func unreadableIsNeverCounted() {
        let decisions = DomainPolicy.decide([Self.zone("intel-rapl:0", "package-0", unreadable: "permission denied")])
        #expect(decisions[ChannelID("intel-rapl:0")]?.counted == false)
        #expect(decisions[ChannelID("intel-rapl:0")]?.note.contains("permission denied") == true)
    }

    @Test(arguments: [
        ("package-0", DomainKind.package), ("package-1-die-0", .package), ("core", .core), ("uncore", .uncore),
        ("dram", .dram), ("psys", .psys), ("mystery", .other),
    ])
    func zoneKinds(name: String, kind: DomainKind) {
        #expect(DomainKind.powercapZone(named: name) == kind)
    }

    @Test func packageDieNames() {
        #expect(PackageDie(zoneName: "package-1-die-3") == PackageDie(zoneName: "package-1-die-3"))
        #expect(PackageDie(zoneName: "package-1-die-3")?.die == 3)
        #expect(PackageDie(zoneName: "package-2")?.die == nil)
        #expect(PackageDie(zoneName: "package-2")?.package == 2)
        #expect(PackageDie(zoneName: "psys") == nil)
    }
}

struct SamplingIntervalTests {
    @Test func standardWhenNothingLimits() {
        let choice = SamplingInterval.choose(for: [DomainPolicyTests.intelRange])
        #expect(choice.interval == SamplingInterval.standard)
        #expect(choice.capped == false)
    }

    @Test func shorterWhenACounterCouldWrapSooner() {
        // 20 J at 60 W wraps in 1/3 s: sample at least 4 times per wrap.
        let small = CounterRange(maxMicrojoules: 20_000_000, plausibleMaxPower: Watts(60))
        let choice = SamplingInterval.choose(for: [DomainPolicyTests.intelRange, small])
        #expect(abs(choice.interval.seconds - 1.0 / 12) < 1e-6)
        #expect(choice.limit == choice.interval)
    }

    @Test func requestedLongerIntervalIsCapped() {
        let small = CounterRange(maxMicrojoules: 20_000_000, plausibleMaxPower: Watts(60))
        let choice = SamplingInterval.choose(for: [small], requested: .seconds(1))
        #expect(choice.capped)
        #expect(choice.interval < .seconds(1))
    }

    @Test func requestedShorterIntervalIsHonouredDownToTheMinimum() {
        #expect(SamplingInterval.choose(for: [], requested: .milliseconds(5)).interval == .milliseconds(5))
        #expect(SamplingInterval.choose(for: [], requested: .microseconds(10)).interval == SamplingInterval.minimum)
    }
}
