import Glibc
import LinuxSupport
import Synchronization

/// Advances every simulated counter and power file at its scenario's power, about every millisecond, by
/// `pwrite` of a fixed-width, space-padded decimal at offset 0 (never truncating, never zero-padded), and injects
/// the scenario's faults.
final class Simulator: @unchecked Sendable {
    static let period: Duration = .microseconds(500)
    static let width = 20

    private let scenario: Scenario
    private let tree: FakeTree
    private let start = ContinuousClock.now
    private var timer: PeriodicTimer?
    private var thread: NativeThread?
    private let statistics = Mutex((updates: 0, maxGap: Duration.zero))

    init(scenario: Scenario, tree: FakeTree) throws {
        self.scenario = scenario
        self.tree = tree
        update(at: 0)  // every live file holds a value before anyone reads
    }

    func run() throws {
        let timer = try PeriodicTimer(interval: Self.period)
        self.timer = timer
        thread = try NativeThread(name: "fakesys-sim") { [self] in
            // The counters are the tests' ground truth: a simulator that lags under load (50 wrappers starting
            // on 2 cores) would make a reading look early. Real-time priority keeps its 0.5 ms period (as root).
            NativeThread.makeCurrentThreadRealtime(priority: 50)
            var last = ContinuousClock.now
            while case .tick = timer.next() {
                let now = ContinuousClock.now
                update(at: start.duration(to: now).seconds)
                let gap = last.duration(to: now)
                last = now
                statistics.withLock { stats in
                    stats.updates += 1
                    stats.maxGap = max(stats.maxGap, gap)
                }
            }
        }
    }

    func stop() -> (updates: Int, maxGap: Duration) {
        timer?.stop()
        thread?.join()
        return statistics.withLock { $0 }
    }

    /// The counter value of `zone` at `t` seconds after the start, in µJ, wrapped into `0...max`.
    func counterValue(_ zone: Scenario.Zone, at t: Double) -> UInt64 {
        var base = Double(zone.startMicrojoules)
        var elapsed = t
        for fault in scenario.faults {
            if case .reset(let id, let at) = fault, id == zone.id, t >= at {
                base = 0
                elapsed = t - at
            }
        }
        let total = UInt64(base + zone.watts * elapsed * 1_000_000)
        return total % (zone.maxEnergyRangeMicrojoules + 1)
    }

    private func update(at t: Double) {
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
                let text = pad(String(UInt64(watts * 1_000_000)))
                _ = pwrite(file.fd, text, text.utf8.count, 0)
            }
            for (name, watts) in chip.energy {
                guard let file = tree.chipFiles["\(index)/\(name)"] else { continue }
                let text = pad(String(UInt64(watts * t * 1_000_000)))
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
