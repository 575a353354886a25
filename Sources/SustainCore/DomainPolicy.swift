/// Whether a channel's energy goes into the counted total, and why.
public struct DomainDecision: Sendable, Hashable {
    public var counted: Bool
    public var note: String
    public init(counted: Bool, note: String) {
        self.counted = counted
        self.note = note
    }
}

/// Decides which energy channels are counted so that no energy is counted twice and none is missed.
///
/// - Per socket, `package` and `dram` are counted; `core` and `uncore` are inside the package.
/// - A readable `psys` covers the platform: it becomes the counted total and every other RAPL domain is inside it.
/// - A zone of another control type (`intel-rapl-mmio`) that repeats an `intel-rapl` zone's name mirrors it.
/// - Zones `package-N-die-M` of one package whose counters read the same value are one counter (AMD multi-die).
/// - A hwmon whole-system meter (`platform`) is shown beside RAPL; it is counted only when no RAPL domain is.
/// - A GPU board (`gpu`) is separate hardware and is counted, unless psys is counted (psys is the power the
///   platform draws from its supply, GPU included); a chip's power channel is not counted when the same
///   chip has a readable energy counter.
/// - Unreadable channels are never counted; channels of unknown coverage are shown, not counted.
public enum DomainPolicy {
    /// The primary powercap control type; others that repeat its zones are mirrors.
    public static let primaryControlType = "intel-rapl"
    /// Two die zones whose first readings differ by at most this much are one counter.
    public static let sameCounterTolerance: UInt64 = 1_000_000  // 1 J in µJ

    public static func decide(
        _ channels: [ChannelDescriptor],
        firstReadings: [ChannelID: MicrojouleCounter] = [:]
    ) -> [ChannelID: DomainDecision] {
        var decisions: [ChannelID: DomainDecision] = [:]
        let energy = channels.filter(\.isEnergy)
        let readable = energy.filter { $0.unreadable == nil }
        let rapl = readable.filter { $0.source == .powercap }

        for channel in energy where channel.unreadable != nil {
            decisions[channel.id] = DomainDecision(
                counted: false, note: "unreadable: \(channel.unreadable ?? "unknown error"); not measured")
        }

        // Mirrors: a zone of another control type with the same name as a primary zone.
        let primaryNames = Set(rapl.filter { $0.group == primaryControlType }.map(\.name))
        var mirrors: Set<ChannelID> = []
        for channel in rapl where channel.group != primaryControlType && primaryNames.contains(channel.name) {
            mirrors.insert(channel.id)
            let twin = rapl.first { $0.group == primaryControlType && $0.name == channel.name }
            decisions[channel.id] = DomainDecision(
                counted: false,
                note: "mirror of \(twin?.id.rawValue ?? channel.name) (the same energy through \(channel.group)); "
                    + "never counted twice")
        }
        let raplCandidates = rapl.filter { !mirrors.contains($0.id) }

        if let psys = raplCandidates.first(where: { $0.kind == .psys }) {
            for channel in raplCandidates {
                decisions[channel.id] =
                    channel.id == psys.id
                    ? DomainDecision(counted: true, note: "psys covers the whole platform: the counted total")
                    : DomainDecision(counted: false, note: "inside psys (\(psys.id)); reported, not counted")
            }
        } else {
            decideSockets(raplCandidates, firstReadings: firstReadings, into: &decisions)
        }

        let raplCounted = raplCandidates.contains { decisions[$0.id]?.counted == true }
        let psys = raplCandidates.first { $0.kind == .psys }
        decideDevices(
            readable.filter { $0.source == .hwmon || $0.source == .nvml }, raplCounted: raplCounted, psys: psys,
            into: &decisions)
        return decisions
    }

    private static func decideSockets(
        _ zones: [ChannelDescriptor],
        firstReadings: [ChannelID: MicrojouleCounter],
        into decisions: inout [ChannelID: DomainDecision]
    ) {
        var countedDies: [String: [ChannelDescriptor]] = [:]  // "<group>/<package>" → counted die zones
        for zone in zones.sorted(by: { $0.id < $1.id }) {
            switch zone.kind {
            case .package:
                if let die = PackageDie(zoneName: zone.name), die.die != nil {
                    let key = "\(zone.group)/\(die.package)"
                    if let twin = countedDies[key, default: []].first(where: {
                        sameCounter($0, zone, firstReadings: firstReadings)
                    }) {
                        decisions[zone.id] = DomainDecision(
                            counted: false,
                            note: "same counter as \(twin.id) (identical reading, one counter for the package); "
                                + "counted once there")
                        continue
                    }
                    countedDies[key, default: []].append(zone)
                }
                decisions[zone.id] = DomainDecision(counted: true, note: "CPU package energy")
            case .dram:
                decisions[zone.id] = DomainDecision(counted: true, note: "memory energy, not part of the package")
            case .core, .uncore:
                decisions[zone.id] = DomainDecision(
                    counted: false, note: "\(zone.kind.rawValue) is part of the package; reported, not counted")
            case .psys, .platform, .gpu, .other:
                decisions[zone.id] = DomainDecision(
                    counted: false, note: "unknown coverage (\(zone.name)); reported, not counted")
            }
        }
    }

    private static func sameCounter(
        _ a: ChannelDescriptor, _ b: ChannelDescriptor, firstReadings: [ChannelID: MicrojouleCounter]
    ) -> Bool {
        guard a.quantity == b.quantity, let ra = firstReadings[a.id], let rb = firstReadings[b.id] else {
            return false
        }
        let difference = ra > rb ? ra.microjoules - rb.microjoules : rb.microjoules - ra.microjoules
        return difference <= sameCounterTolerance
    }

    private static func decideDevices(
        _ channels: [ChannelDescriptor], raplCounted: Bool, psys: ChannelDescriptor?,
        into decisions: inout [ChannelID: DomainDecision]
    ) {
        let chipsWithCounter = Set(
            channels.filter {
                if case .energyCounter = $0.quantity { return true }
                return false
            }.map(\.group))
        for channel in channels {
            if case .power = channel.quantity, chipsWithCounter.contains(channel.group),
                channel.kind != .other
            {
                decisions[channel.id] = DomainDecision(
                    counted: false, note: "\(channel.group) also has an energy counter, counted instead")
                continue
            }
            switch channel.kind {
            case .platform:
                decisions[channel.id] =
                    raplCounted
                    ? DomainDecision(
                        counted: false,
                        note: "whole-system meter (\(channel.group)); shown beside RAPL, not added to it")
                    : DomainDecision(
                        counted: true, note: "whole-system meter (\(channel.group)); no RAPL domain is counted")
            case .gpu:
                decisions[channel.id] =
                    if let psys {
                        DomainDecision(
                            counted: false,
                            note: "GPU board (\(channel.group)); psys (\(psys.id)) covers the platform power "
                                + "delivered to it, so it is shown, not added")
                    } else {
                        DomainDecision(
                            counted: true,
                            note: "GPU board (\(channel.source == .nvml ? channel.name : channel.group)), separate "
                                + "from the CPU domains")
                    }
            default:
                decisions[channel.id] = DomainDecision(
                    counted: false, note: "unknown coverage (\(channel.group)); reported, not counted")
            }
        }
    }
}
