import Glibc
import LinuxSupport
import Synchronization

/// Advances every simulated counter and power file at its scenario's power, about every millisecond, by
/// `pwrite` of a fixed-width, space-padded decimal at offset 0 (never truncating, never zero-padded), and injects
/// the scenario's faults.
///
/// Power can change while it runs: every channel's power is its scenario figure times a load factor read each
/// tick from `loadFile` (a decimal, `1` when the file is absent or unreadable), so a test can step the machine's
/// power between phases and know the power of each window. Counters integrate that power tick by tick.
final class Simulator: @unchecked Sendable {
    /// How often the counters move: 1 ms by default, as real RAPL does (finer with `--period-microseconds`).
    let period: Duration
    static let width = 20

    private let scenario: Scenario
    private let tree: FakeTree
    private let start = ContinuousClock.now
    private var timers: [PeriodicTimer] = []
    private var threads: [NativeThread] = []
    /// Orders the two threads' updates: one at a time, at most one per period.
    private let updating = Mutex(ContinuousClock.Instant?.none)
    private let statistics = Mutex((updates: 0, maxGap: Duration.zero, stalls: [Stall]()))

    /// A time the counters stood still for two periods or more (both threads held up: the host did not run the
    /// VM's CPUs), in wall-clock seconds since 1970, so that a test can tell a reading taken then from a fault of
    /// the reader: a counter read during a stall is behind the energy injected by then.
    struct Stall: Codable, Equatable {
        var from: Double
        var to: Double
    }
    /// At most this many stalls are kept (the first ones).
    static let keptStalls = 10_000
    private let loadFile: String?
    /// Energy injected into each zone since the start (µJ, before wrapping), and into each hwmon energy channel.
    private var zoneMicrojoules: [String: Double] = [:]
    private var chipMicrojoules: [String: Double] = [:]
    private var resetDone: Set<String> = []
    private var lastT = 0.0
    private var loadFactor = 1.0

    /// With `followsCPU`, power also follows the machine's CPU use (`/proc/stat`, every 10 ms): each channel runs
    /// at 30 % of its power when every CPU idles and 100 % when all are busy, linearly between.
    private let followsCPU: Bool
    private var cpuFactor = 1.0
    private var lastCPU: (busy: Double, total: Double)?
    private var ticksSinceCPU = 0

    init(
        scenario: Scenario, tree: FakeTree, loadFile: String? = nil, followsCPU: Bool = false,
        period: Duration = .microseconds(1000)
    ) throws {
        self.period = period
        self.scenario = scenario
        self.tree = tree
        self.loadFile = loadFile
        self.followsCPU = followsCPU
        for zone in scenario.zones { zoneMicrojoules[zone.id] = 0 }
        update(at: 0)  // every live file holds a value before anyone reads
    }

    /// Each package's sustained limit (W) as last read from its `constraint_0_power_limit_uw`; read every 5 ms.
    private var limitWatts: [String: Double] = [:]
    private var ticksSinceLimits = 0

    private func readLimits() {
        ticksSinceLimits += 1
        guard ticksSinceLimits >= 10 || limitWatts.isEmpty else { return }
        ticksSinceLimits = 0
        for (id, path) in tree.limits {
            guard let (microwatts, canonical) = Self.readLimit(path) else { continue }
            limitWatts[id] = Double(microwatts) / 1_000_000
            // sysfs shows what the kernel parsed, whatever bytes were written (libpowercap writes its whole
            // buffer, NUL and all): the file is written back as the kernel would show it.
            if !canonical { Self.writeCanonical(path, microwatts) }
        }
    }

    /// A package capped by its limit runs at min(demand, limit): the factor on its power, and on its core and
    /// uncore sub-zones' (part of the package's power); DRAM and other zones are not capped by it.
    private func capFactor(of zone: Scenario.Zone) -> Double {
        let packageID = zone.path.count == 1 ? zone.id : "\(zone.controlType):\(String(zone.path[0], radix: 16))"
        guard zone.path.count == 1 || zone.name == "core" || zone.name == "uncore",
            let limit = limitWatts[packageID],
            let package = scenario.zones.first(where: { $0.id == packageID })
        else { return 1 }
        let demand = package.watts * loadFactor
        return demand > limit && demand > 0 ? limit / demand : 1
    }

    /// A limit file's value as the kernel parses a write (the leading digits), and whether the file holds just
    /// that and a newline.
    static func readLimit(_ path: String) -> (UInt64, Bool)? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return nil }
        let bytes = buffer.prefix(count)
        let digits = bytes.prefix { (0x30...0x39).contains($0) }
        guard !digits.isEmpty, let value = UInt64(String(decoding: digits, as: UTF8.self)) else { return nil }
        return (value, bytes.count == digits.count + 1 && bytes.last == 0x0A)
    }

    static func writeCanonical(_ path: String, _ value: UInt64) {
        let fd = open(path, O_WRONLY | O_TRUNC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let text = Array("\(value)\n".utf8)
        _ = write(fd, text, text.count)
    }

    /// The energy injected into each zone since the start, in joules (the ground truth when power varies).
    func injectedJoules() -> [String: Double] {
        zoneMicrojoules.mapValues { $0 / 1_000_000 }
    }

    /// The counters are the tests' ground truth, and real counters never stall: a simulator whose thread is late
    /// makes every reading look early. One real-time thread was seen 7 ms late on an idle 2-vCPU VM and 28 ms under
    /// load (the vCPU not run by the host). So two threads, real-time (as root), each on its own CPU where there are
    /// two, wake every period half a period apart; whichever wakes first after a period has passed updates, the
    /// other finds it done. Counters still move once per period, and both threads must be held up for one to lag.
    func run() throws {
        let cpus = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        for index in 0..<2 {
            let timer = try PeriodicTimer(interval: period)
            timers.append(timer)
            let offset = period / 2 * index
            threads.append(
                try NativeThread(name: "fakesys-sim-\(index)") { [self] in
                    NativeThread.makeCurrentThreadRealtime(priority: 50)
                    if cpus > 1 { NativeThread.pinCurrentThread(toCPU: index % cpus) }
                    if offset > .zero { Self.sleep(offset) }
                    while case .tick = timer.next() { tick() }
                })
        }
    }

    /// One thread's wake-up: the update, unless the other thread made it within the last 0.9 period.
    private func tick() {
        updating.withLock { last in
            let now = ContinuousClock.now
            if let last, last.duration(to: now) < period * 0.9 { return }
            update(at: start.duration(to: now).seconds)
            let gap = last.map { $0.duration(to: now) } ?? .zero
            last = now
            statistics.withLock { stats in
                stats.updates += 1
                stats.maxGap = max(stats.maxGap, gap)
                if gap >= period * 2, stats.stalls.count < Self.keptStalls {
                    let to = Self.wallClockSeconds()
                    stats.stalls.append(Stall(from: to - gap.seconds, to: to))
                }
            }
        }
    }

    private static func wallClockSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
    }

    private static func sleep(_ duration: Duration) {
        var request = timespec(
            tv_sec: Int(duration.components.seconds), tv_nsec: Int(duration.components.attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    func stop() -> (updates: Int, maxGap: Duration, stalls: [Stall]) {
        for timer in timers { timer.stop() }
        for thread in threads { thread.join() }
        if loadDescriptor >= 0 { close(loadDescriptor) }
        return statistics.withLock { $0 }
    }

    /// The load file, open once it exists: tests rewrite it in place (`echo 0.5 > $SUSTAIN_FAKESYS_LOAD`), so one
    /// `pread` a tick reads the latest, where an open and a close each tick cost two more system calls.
    private var loadDescriptor: Int32 = -1

    /// The load factor in `loadFile` now: a finite, non-negative decimal, else the last good one.
    private func readLoad() -> Double {
        guard let loadFile else { return 1 }
        if loadDescriptor < 0 { loadDescriptor = open(loadFile, O_RDONLY | O_CLOEXEC) }
        let fd = loadDescriptor
        guard fd >= 0 else { return loadFactor }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = pread(fd, &buffer, buffer.count, 0)
        guard count > 0,
            let text = String(validating: buffer[..<count], as: UTF8.self),
            let value = Double(String(text.filter { !$0.isWhitespace })), value.isFinite, value >= 0
        else { return loadFactor }
        return value
    }

    /// Busy and total jiffies of all CPUs (`/proc/stat`'s first line).
    static func cpuTimes() -> (busy: Double, total: Double)? {
        let fd = open("/proc/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0, let line = buffer[..<count].split(separator: 10).first else { return nil }
        let values = line.split(separator: 32).dropFirst().compactMap { Double(String(decoding: $0, as: UTF8.self)) }
        guard values.count >= 5 else { return nil }
        let total = values.prefix(8).reduce(0, +)
        return (total - values[3] - values[4], total)
    }

    /// The counter value of `zone` now, in µJ, wrapped into `0...max`: its start value (0 after a reset fault)
    /// plus the energy integrated since.
    private func counterValue(_ zone: Scenario.Zone, at t: Double) -> UInt64 {
        var base = Double(zone.startMicrojoules)
        for fault in scenario.faults {
            if case .reset(let id, let at) = fault, id == zone.id, t >= at {
                if resetDone.insert(zone.id).inserted { zoneMicrojoules[zone.id] = 0 }
                base = 0
            }
        }
        let total = UInt64(base + (zoneMicrojoules[zone.id] ?? 0))
        return total % (zone.maxEnergyRangeMicrojoules + 1)
    }

    private func update(at t: Double) {
        // The interval since the last tick ran at the load read then; the new factor holds from now on.
        let dt = t - lastT
        lastT = t
        for zone in scenario.zones {
            zoneMicrojoules[zone.id, default: 0] += zone.watts * loadFactor * capFactor(of: zone) * dt * 1_000_000
        }
        readLimits()
        for (index, chip) in scenario.chips.enumerated() {
            for (name, watts) in chip.energy {
                chipMicrojoules["\(index)/\(name)", default: 0] += watts * loadFactor * dt * 1_000_000
            }
        }
        loadFactor = readLoad()
        if followsCPU {
            ticksSinceCPU += 1
            if ticksSinceCPU >= 20 || lastCPU == nil {
                ticksSinceCPU = 0
                if let now = Self.cpuTimes() {
                    if let last = lastCPU, now.total > last.total {
                        let busy = max(0, min(1, (now.busy - last.busy) / (now.total - last.total)))
                        cpuFactor = 0.3 + 0.7 * busy
                    }
                    lastCPU = now
                }
            }
            loadFactor *= cpuFactor
        }
        for zone in scenario.zones {
            guard let file = tree.counters[zone.id] else { continue }
            var text = pad(String(counterValue(zone, at: t)))
            for fault in scenario.faults {
                switch fault {
                case .garbage(let id, let at, let duration) where id == zone.id && t >= at && t < at + duration:
                    text = pad("garbage")
                case .empty(let id, let at, let duration) where id == zone.id && t >= at && t < at + duration:
                    ftruncate(file.fd, 0)
                    text = ""
                default: break
                }
            }
            if !text.isEmpty { _ = pwrite(file.fd, text, text.utf8.count, 0) }
        }
        for (index, chip) in scenario.chips.enumerated() {
            for (name, watts) in chip.power {
                guard let file = tree.chipFiles["\(index)/\(name)"] else { continue }
                let text = pad(String(UInt64(watts * loadFactor * 1_000_000)))
                _ = pwrite(file.fd, text, text.utf8.count, 0)
            }
            for (name, watts) in chip.energy {
                guard let file = tree.chipFiles["\(index)/\(name)"] else { continue }
                let text = pad(String(UInt64(chipMicrojoules["\(index)/\(name)", default: 0])))
                _ = pwrite(file.fd, text, text.utf8.count, 0)
            }
            for fault in scenario.faults {
                guard case .vanish(let chipIndex, let name, let at, let duration) = fault, chipIndex == index,
                    let file = tree.chipFiles["\(index)/\(name)"]
                else { continue }
                let hidden = file.path + ".hidden"
                if t >= at && t < at + duration {
                    rename(file.path, hidden)
                } else {
                    rename(hidden, file.path)
                }
            }
        }
    }

    private func pad(_ value: String) -> String {
        String(repeating: " ", count: max(0, Self.width - value.utf8.count)) + value + "\n"
    }
}
