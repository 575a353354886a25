extension DomainKind {
    /// The kind of a powercap zone from its `name` file: `package-0`, `package-1-die-0`, `core`, `uncore`, `dram`,
    /// `psys`.
    public static func powercapZone(named name: String) -> DomainKind {
        switch name {
        case "core": .core
        case "uncore": .uncore
        case "dram": .dram
        case "psys": .psys
        default: name.hasPrefix("package") ? .package : .other
        }
    }

    /// The kind of a hwmon power or energy feature from its chip prefix (the driver name).
    public static func hwmonChip(prefix: String) -> DomainKind {
        switch prefix {
        case "power_meter": .platform
        case "amdgpu": .gpu
        default: .other
        }
    }
}

/// The package and die numbers in a zone name such as `package-1-die-0`.
public struct PackageDie: Hashable, Sendable {
    public var package: Int
    public var die: Int?

    public init?(zoneName: String) {
        let parts = zoneName.split(separator: "-")
        guard parts.count >= 2, parts[0] == "package", let package = Int(parts[1]) else { return nil }
        self.package = package
        if parts.count == 4, parts[2] == "die", let die = Int(parts[3]) {
            self.die = die
        } else if parts.count == 2 {
            self.die = nil
        } else {
            return nil
        }
    }
}
