/// A simulated machine: powercap zones and hwmon chips in the real kernel layout, each energy channel driven at a
/// known power.
struct Scenario: Sendable {
    struct Zone: Sendable {
        var controlType: String
        /// Zone indices from the top: [0] is `intel-rapl:0`, [0, 2] is `intel-rapl:0:2`.
        var path: [Int]
        var name: String
        var watts: Double
        var maxEnergyRangeMicrojoules: UInt64
        /// `constraint_0_max_power_uw`, when the zone has one.
        var maxPowerMicrowatts: UInt64?
        var startMicrojoules: UInt64
        /// Another zone whose counter this one repeats exactly (AMD multi-die): its id.
        var sameCounterAs: String?
        var mode: UInt32 = 0o400

        var id: String { ([controlType] + path.map { String($0, radix: 16) }).joined(separator: ":") }
    }

    struct Chip: Sendable {
        enum Bus: Sendable {
            case virtual
            case acpi(device: String)
            case pci(address: String)
            case platform(device: String)
        }
        var name: String
        var bus: Bus
        /// Power features driven at a constant power: file stem (`power1_average`) → watts.
        var power: [(file: String, watts: Double)] = []
        /// Energy counters in µJ: file stem (`energy1_input`) → watts.
        var energy: [(file: String, watts: Double)] = []
        /// Static files: name → contents (`temp1_input` → `45000`).
        var files: [(name: String, value: String)] = []
    }

    /// A fault injected at a time after the start.
    enum Fault: Sendable {
        /// The zone's `energy_uj` holds non-numeric text for a while.
        case garbage(zone: String, at: Double, for: Double)
        /// The zone's `energy_uj` is empty for a while.
        case empty(zone: String, at: Double, for: Double)
        /// The zone's counter jumps back to 0 and continues from there.
        case reset(zone: String, at: Double)
        /// A hwmon attribute file disappears for a while (renamed away).
        case vanish(chip: Int, file: String, at: Double, for: Double)
    }

    var name: String
    var zones: [Zone] = []
    var chips: [Chip] = []
    var faults: [Fault] = []
}

extension Scenario {
    static let intelRange: UInt64 = 262_143_328_850
    static let intelDRAMRange: UInt64 = 65_712_999_613

    static func named(_ name: String) -> Scenario? {
        switch name {
        case "two-socket": twoSocket
        case "amd": amd
        case "laptop": laptop
        case "wrap": wrap
        case "unreadable": unreadable
        case "faults": faults
        case "empty": Scenario(name: "empty")
        default: nil
        }
    }

    static let all = ["two-socket", "amd", "laptop", "wrap", "unreadable", "faults", "empty"]

    /// A 2-socket Intel server with package, dram and core zones, and an ACPI power meter at the wall.
    static var twoSocket: Scenario {
        var s = Scenario(name: "two-socket")
        for socket in 0..<2 {
            let watts = socket == 0 ? 85.0 : 70.0
            s.zones.append(
                Zone(
                    controlType: "intel-rapl", path: [socket], name: "package-\(socket)", watts: watts,
                    maxEnergyRangeMicrojoules: intelRange, maxPowerMicrowatts: 300_000_000,
                    startMicrojoules: 100_000_000_000 + UInt64(socket) * 37_000_000_123))
            s.zones.append(
                Zone(
                    controlType: "intel-rapl", path: [socket, 0], name: "core", watts: watts * 0.6,
                    maxEnergyRangeMicrojoules: intelRange, startMicrojoules: 5_000_000_000))
            s.zones.append(
                Zone(
                    controlType: "intel-rapl", path: [socket, 1], name: "dram",
                    watts: socket == 0 ? 12 : 9, maxEnergyRangeMicrojoules: intelDRAMRange,
                    startMicrojoules: 40_000_000_000 + UInt64(socket) * 1_234_567))
        }
        s.chips.append(
            Chip(
                name: "power_meter", bus: .acpi(device: "ACPI000D:00"),
                power: [("power1_average", 250)],
                files: [("power1_average_interval", "1000"), ("power1_is_battery", "0")]))
        s.chips.append(
            Chip(
                name: "coretemp", bus: .platform(device: "coretemp.0"),
                files: [("temp1_input", "48000"), ("temp1_label", "Package id 0")]))
        return s
    }

    /// An AMD Zen server: package zones only, two dies per package fed by one counter, small counter range, and
    /// two amdgpu boards.
    static var amd: Scenario {
        var s = Scenario(name: "amd")
        let range: UInt64 = 65_532_610_987
        for package in 0..<2 {
            let watts = package == 0 ? 120.0 : 100.0
            let start = 60_000_000_000 - UInt64(package) * 20_000_000_000
            for die in 0..<2 {
                let index = package * 2 + die
                s.zones.append(
                    Zone(
                        controlType: "intel-rapl", path: [index], name: "package-\(package)-die-\(die)",
                        watts: watts, maxEnergyRangeMicrojoules: range, maxPowerMicrowatts: 280_000_000,
                        startMicrojoules: start,
                        sameCounterAs: die == 0 ? nil : "intel-rapl:\(package * 2)"))
            }
        }
        s.chips.append(
            Chip(
                name: "k10temp", bus: .pci(address: "0000:00:18.3"),
                files: [("temp1_input", "61250"), ("temp1_label", "Tctl")]))
        // Two AMD GPUs: one reports power only, one has an energy counter (and a power channel beside it).
        s.chips.append(
            Chip(
                name: "amdgpu", bus: .pci(address: "0000:03:00.0"), power: [("power1_average", 150)],
                files: [("temp1_input", "70000"), ("temp1_label", "edge")]))
        s.chips.append(
            Chip(
                name: "amdgpu", bus: .pci(address: "0000:43:00.0"), power: [("power1_input", 100)],
                energy: [("energy1_input", 100)]))
        return s
    }

    /// A laptop: package with core, uncore and dram, psys, the package mirrored through MMIO, and an amdgpu.
    static var laptop: Scenario {
        var s = Scenario(name: "laptop")
        s.zones = [
            Zone(
                controlType: "intel-rapl", path: [0], name: "package-0", watts: 15,
                maxEnergyRangeMicrojoules: intelRange,
                maxPowerMicrowatts: 64_000_000, startMicrojoules: 7_000_000_000),
            Zone(
                controlType: "intel-rapl", path: [0, 0], name: "core", watts: 8, maxEnergyRangeMicrojoules: intelRange,
                startMicrojoules: 3_000_000_000),
            Zone(
                controlType: "intel-rapl", path: [0, 1], name: "uncore", watts: 2,
                maxEnergyRangeMicrojoules: intelRange,
                startMicrojoules: 1_000_000_000),
            Zone(
                controlType: "intel-rapl", path: [0, 2], name: "dram", watts: 3, maxEnergyRangeMicrojoules: intelRange,
                startMicrojoules: 2_000_000_000),
            Zone(
                controlType: "intel-rapl", path: [1], name: "psys", watts: 25, maxEnergyRangeMicrojoules: intelRange,
                startMicrojoules: 9_000_000_000),
            Zone(
                controlType: "intel-rapl-mmio", path: [0], name: "package-0", watts: 15,
                maxEnergyRangeMicrojoules: intelRange, maxPowerMicrowatts: 64_000_000, startMicrojoules: 7_000_000_000),
        ]
        s.chips.append(
            Chip(
                name: "coretemp", bus: .platform(device: "coretemp.0"),
                files: [("temp1_input", "55000"), ("temp1_label", "Package id 0")]))
        s.chips.append(
            Chip(
                name: "amdgpu", bus: .pci(address: "0000:09:00.0"), power: [("power1_average", 40)],
                files: [("temp1_input", "62000"), ("temp1_label", "edge")]))
        return s
    }

    /// One package with a tiny counter range that wraps about every 0.5 s, and a limit that lets the sampler know.
    static var wrap: Scenario {
        Scenario(
            name: "wrap",
            zones: [
                Zone(
                    controlType: "intel-rapl", path: [0], name: "package-0", watts: 40,
                    maxEnergyRangeMicrojoules: 20_000_000,
                    maxPowerMicrowatts: 60_000_000, startMicrojoules: 15_000_000)
            ])
    }

    /// A server after Linux 5.10: energy_uj readable by root only, names world-readable, and an ACPI power meter.
    static var unreadable: Scenario {
        var s = twoSocket
        s.name = "unreadable"
        s.chips.removeAll { $0.name == "coretemp" }
        return s
    }

    /// Garbage, an empty file and a counter reset on package-0; a hwmon file that vanishes for a while.
    static var faults: Scenario {
        var s = twoSocket
        s.name = "faults"
        s.faults = [
            .garbage(zone: "intel-rapl:0", at: 0.8, for: 0.25),
            .empty(zone: "intel-rapl:0", at: 1.4, for: 0.25),
            .reset(zone: "intel-rapl:1", at: 1.9),
            .vanish(chip: 0, file: "power1_average", at: 1.1, for: 0.3),
        ]
        return s
    }
}
