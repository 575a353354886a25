import Glibc
import LinuxSupport

/// Lays a scenario out under `/sys/class` and `/sys/devices/virtual` as a real kernel does: devices under
/// `/sys/devices/virtual`, symlinks to them in `/sys/class/powercap` and `/sys/class/hwmon`.
struct FakeTree {
    static let devices = "/sys/devices/virtual"

    /// A file the simulator rewrites: its open fd and its path.
    struct LiveFile {
        var path: String
        var fd: Int32
    }

    var counters: [String: LiveFile] = [:]  // zone id → energy_uj
    /// Zone id → its `constraint_0_power_limit_uw` (long term, PL1), which the simulator honours.
    var limits: [String: String] = [:]
    var chipFiles: [String: LiveFile] = [:]  // "<chip index>/<file>" → power or energy file
    var chipDirectories: [String] = []

    /// Mounts tmpfs over `/sys/class` and `/sys/devices/virtual`. Only inside a private mount namespace.
    static func mountTmpfs() throws {
        try mountFilesystem(type: "tmpfs", on: "/sys/class", options: "mode=0755")
        try mountFilesystem(type: "tmpfs", on: devices, options: "mode=0755")
    }

    init(_ scenario: Scenario) throws {
        try Self.makeDirectory("/sys/class/powercap")
        try Self.makeDirectory("/sys/class/hwmon")
        for type in Set(scenario.zones.map(\.controlType)) {
            let directory = "\(Self.devices)/powercap/\(type)"
            try Self.makeDirectory(directory)
            try Self.writeFile(directory + "/enabled", "1")
            try Self.writeFile(directory + "/uevent", "")
            try Self.link("../../devices/virtual/powercap/\(type)", at: "/sys/class/powercap/\(type)")
        }
        for zone in scenario.zones {
            let relative = (1...zone.path.count).map { depth in
                ([zone.controlType] + zone.path.prefix(depth).map { String($0, radix: 16) }).joined(separator: ":")
            }.joined(separator: "/")
            let directory = "\(Self.devices)/powercap/\(zone.controlType)/\(relative)"
            try Self.makeDirectory(directory)
            try Self.link(
                "../../devices/virtual/powercap/\(zone.controlType)/\(relative)",
                at: "/sys/class/powercap/\(zone.id)")
            try Self.writeFile(directory + "/name", zone.name)
            try Self.writeFile(directory + "/enabled", "1")
            try Self.writeFile(directory + "/max_energy_range_uj", String(zone.maxEnergyRangeMicrojoules))
            if let maxPower = zone.maxPowerMicrowatts {
                // As shipped: the sustained limit at the zone's maximum, so a workload runs uncapped until a limit
                // is written (the simulator honours what is written).
                try Self.writeFile(directory + "/constraint_0_name", "long_term")
                try Self.writeFile(directory + "/constraint_0_power_limit_uw", String(maxPower))
                limits[zone.id] = directory + "/constraint_0_power_limit_uw"
                try Self.writeFile(directory + "/constraint_0_time_window_us", "27983872")
                try Self.writeFile(directory + "/constraint_0_max_power_uw", String(maxPower))
                try Self.writeFile(directory + "/constraint_1_name", "short_term")
                try Self.writeFile(directory + "/constraint_1_power_limit_uw", String(maxPower))
                try Self.writeFile(directory + "/constraint_1_time_window_us", "2440")
            }
            counters[zone.id] = try Self.openLive(directory + "/energy_uj", mode: zone.mode)
        }
        for (index, chip) in scenario.chips.enumerated() {
            let hwmon = "hwmon\(index)"
            let deviceDirectory: String
            switch chip.bus {
            case .virtual:
                deviceDirectory = "\(Self.devices)/hwmon"
            case .acpi(let device):
                deviceDirectory = "\(Self.devices)/fake-acpi/\(device)"
            case .pci(let address):
                deviceDirectory = "\(Self.devices)/fake-pci/\(address)"
            case .platform(let device):
                deviceDirectory = "\(Self.devices)/fake-platform/\(device)"
            }
            let directory = "\(deviceDirectory)/hwmon/\(hwmon)"
            try Self.makeDirectory(directory)
            switch chip.bus {
            case .virtual: break
            case .acpi: try Self.link("/sys/bus/acpi", at: deviceDirectory + "/subsystem")
            case .pci: try Self.link("/sys/bus/pci", at: deviceDirectory + "/subsystem")
            case .platform: try Self.link("/sys/bus/platform", at: deviceDirectory + "/subsystem")
            }
            if case .virtual = chip.bus {} else { try Self.link("../../", at: directory + "/device") }
            try Self.link("../.." + directory.dropFirst("/sys".count), at: "/sys/class/hwmon/\(hwmon)")
            try Self.writeFile(directory + "/name", chip.name)
            for (name, value) in chip.files { try Self.writeFile(directory + "/" + name, value) }
            for (file, _) in chip.power + chip.energy {
                chipFiles["\(index)/\(file)"] = try Self.openLive(directory + "/" + file, mode: 0o444)
            }
            chipDirectories.append(directory)
        }
    }

    static func makeDirectory(_ path: String) throws {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST { throw FakeError("mkdir \(current)", errno) }
        }
    }

    static func writeFile(_ path: String, _ text: String, mode: mode_t = 0o444) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else { throw FakeError("open \(path)", errno) }
        defer { close(fd) }
        let line = text.isEmpty ? "" : text + "\n"
        guard write(fd, line, line.utf8.count) == line.utf8.count else { throw FakeError("write \(path)", errno) }
        fchmod(fd, mode)
    }

    static func link(_ target: String, at path: String) throws {
        guard symlink(target, path) == 0 else { throw FakeError("symlink \(path)", errno) }
    }

    static func openLive(_ path: String, mode: UInt32) throws -> LiveFile {
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw FakeError("open \(path)", errno) }
        fchmod(fd, mode_t(mode))
        return LiveFile(path: path, fd: fd)
    }
}

struct FakeError: Error, CustomStringConvertible {
    var description: String
    init(_ what: String, _ code: Int32) { description = "\(what): \(String(cString: strerror(code)))" }
}
