import Foundation
import PowerControl
import Reports
import SustainAPI
import SustainCore
import Testing

/// A machine's limits in memory: two CPU packages (max 150 W, limit 150 W) and two GPUs (100–300 W, limit
/// 300 W); writes are recorded, and a device can be made to refuse them.
final class TableHardware: PowerHardware, @unchecked Sendable {
    var limits: [PowerLeases.Device: UInt64]
    var writes: [(PowerLeases.Device, UInt64)] = []
    var refusing: Set<PowerLeases.Device> = []
    let gpuRange: (UInt64, UInt64)? = (100_000_000, 300_000_000)

    init() {
        limits = [
            PowerLeases.Device(id: "intel-rapl:0"): 150_000_000, PowerLeases.Device(id: "intel-rapl:1"): 150_000_000,
            PowerLeases.Device(id: "nvidia:0"): 300_000_000, PowerLeases.Device(id: "nvidia:1"): 300_000_000,
        ]
    }

    func devices(_ kind: PowerLimitRequest.Kind) -> [ControlledDevice] {
        limits.keys.filter { $0.id.hasPrefix(kind == .cpu ? "intel-rapl" : "nvidia") }.sorted { $0.id < $1.id }.map {
            ControlledDevice(
                device: $0, kind: kind, constraintName: kind == .cpu ? "long_term" : "power_management_limit",
                limitMicrowatts: limits[$0] ?? 0, minimumMicrowatts: kind == .gpu ? gpuRange?.0 : nil,
                maximumMicrowatts: kind == .gpu ? gpuRange?.1 : 150_000_000)
        }
    }

    func write(_ device: PowerLeases.Device, microwatts: UInt64) throws(PowerLimitError) {
        guard !refusing.contains(device) else { throw PowerLimitError("\(device): write refused") }
        writes.append((device, microwatts))
        limits[device] = microwatts
    }

    func watts(_ id: String) -> Double { Double(limits[PowerLeases.Device(id: id)] ?? 0) / 1e6 }
}

@Suite struct PowerControllerTests {
    static func journal() -> PowerJournal {
        PowerJournal(path: NSTemporaryDirectory() + "power-journal-\(UUID().uuidString).json")
    }

    @Test func aJobsCapHoldsWhileItRunsAndTheOriginalComesBack() throws {
        let hardware = TableHardware()
        let journal = Self.journal()
        let controller = PowerController(hardware: hardware, journal: journal)
        let records = try controller.acquire([PowerLimitRequest(device: .cpu, watts: 80)], for: "a", requestedBy: "u")
        #expect(records.map(\.device) == ["intel-rapl:0", "intel-rapl:1"])
        #expect(records.allSatisfy { $0.originalWatts == 150 && $0.appliedWatts == 80 && $0.requestedWatts == 80 })
        #expect(hardware.watts("intel-rapl:0") == 80 && hardware.watts("intel-rapl:1") == 80)
        #expect(hardware.watts("nvidia:0") == 300)
        // The originals were on disk before the first write, and are still there.
        #expect(try journal.read().map(\.originalMicrowatts) == [150_000_000, 150_000_000])
        let (done, notes) = controller.release("a")
        #expect(notes.isEmpty)
        #expect(done.allSatisfy { $0.restoredAt != nil && $0.leftAtWatts == 150 && $0.restoreError == nil })
        #expect(hardware.watts("intel-rapl:0") == 150 && hardware.watts("intel-rapl:1") == 150)
        #expect(try journal.read().isEmpty)
        #expect(!controller.holds("a"))
    }

    @Test func theHigherLimitWinsAndTheLastJobRestores() throws {
        let hardware = TableHardware()
        let controller = PowerController(hardware: hardware, journal: Self.journal())
        try controller.acquire([PowerLimitRequest(device: .gpu, watts: 150, gpus: [0])], for: "a", requestedBy: "u")
        #expect(hardware.watts("nvidia:0") == 150 && hardware.watts("nvidia:1") == 300)
        let second = try controller.acquire(
            [PowerLimitRequest(device: .gpu, watts: 200, gpus: [0])], for: "b", requestedBy: "v")
        #expect(second.first?.appliedWatts == 200 && second.first?.originalWatts == 300)
        #expect(hardware.watts("nvidia:0") == 200)
        // b ends first: back to a's 150 W; a is told of b's limit.
        let b = controller.release("b")
        #expect(b.records.first?.leftAtWatts == 150 && b.records.first?.restoredAt == nil)
        #expect(hardware.watts("nvidia:0") == 150)
        let a = controller.release("a")
        #expect(a.notes.contains { $0.contains("200.0 W") || $0.contains("200 W") })
        #expect(a.records.first?.restoredAt != nil && a.records.first?.leftAtWatts == 300)
        #expect(hardware.watts("nvidia:0") == 300)
    }

    @Test func aLowerSecondLimitChangesNothingAndNeverOutlivesTheJobs() throws {
        let hardware = TableHardware()
        let controller = PowerController(hardware: hardware, journal: nil)
        try controller.acquire([PowerLimitRequest(device: .cpu, watts: 120)], for: "a", requestedBy: "u")
        let writes = hardware.writes.count
        let b = try controller.acquire([PowerLimitRequest(device: .cpu, watts: 60)], for: "b", requestedBy: "v")
        #expect(hardware.writes.count == writes)
        #expect(b.allSatisfy { $0.appliedWatts == 120 && $0.requestedWatts == 60 && $0.originalWatts == 150 })
        _ = controller.release("a")
        #expect(hardware.watts("intel-rapl:0") == 60)
        _ = controller.release("b")
        #expect(hardware.watts("intel-rapl:0") == 150 && hardware.watts("intel-rapl:1") == 150)
    }

    /// Refusals change nothing and say the bounds.
    @Test(arguments: [
        (PowerLimitRequest(device: .cpu, watts: 30), nil as Double?, "37.5–150.0 W"),
        (PowerLimitRequest(device: .cpu, watts: 151), nil, "37.5–150.0 W"),
        (PowerLimitRequest(device: .cpu, watts: 60), 70, "70.0–150.0 W"),
        (PowerLimitRequest(device: .gpu, watts: 99), nil, "100.0–300.0 W"),
        (PowerLimitRequest(device: .gpu, watts: 0), nil, "positive number of watts"),
        (PowerLimitRequest(device: .gpu, watts: .nan), nil, "positive number of watts"),
        (PowerLimitRequest(device: .gpu, watts: 200, gpus: [7]), nil, "no GPU whose power limit NVML can set"),
    ])
    func outOfBoundsIsRefusedWithTheBoundsAndNothingChanges(
        request: PowerLimitRequest, minimum: Double?, message: String
    ) throws {
        let hardware = TableHardware()
        let journal = Self.journal()
        let controller = PowerController(hardware: hardware, journal: journal)
        #expect {
            try controller.acquire([request], for: "a", requestedBy: "u") { _ in minimum }
        } throws: { error in
            "\(error)".contains(message)
        }
        #expect(hardware.writes.isEmpty)
        #expect(try journal.read().isEmpty)
        #expect(!controller.holds("a"))
    }

    @Test func aWriteThatFailsHalfwayPutsBackWhatWasWritten() throws {
        let hardware = TableHardware()
        hardware.refusing = [PowerLeases.Device(id: "intel-rapl:1")]
        let journal = Self.journal()
        let controller = PowerController(hardware: hardware, journal: journal)
        #expect(throws: PowerLimitError.self) {
            try controller.acquire([PowerLimitRequest(device: .cpu, watts: 80)], for: "a", requestedBy: "u")
        }
        #expect(hardware.watts("intel-rapl:0") == 150 && hardware.watts("intel-rapl:1") == 150)
        #expect(try journal.read().isEmpty)
        #expect(!controller.holds("a"))
    }

    /// A service killed with limits set: the next one's controller finds the journal and writes the originals.
    @Test func aJournalLeftByACrashIsReplayed() throws {
        let hardware = TableHardware()
        let journal = Self.journal()
        let crashed = PowerController(hardware: hardware, journal: journal)
        try crashed.acquire(
            [PowerLimitRequest(device: .cpu, watts: 90), PowerLimitRequest(device: .gpu, watts: 120)], for: "job-1",
            requestedBy: "u")
        #expect(hardware.watts("intel-rapl:0") == 90 && hardware.watts("nvidia:1") == 120)
        // No release: the process died. A new controller on the same machine and journal.
        let next = PowerController(hardware: hardware, journal: journal)
        let lines = next.replayJournal()
        #expect(lines.count == 4, "\(lines)")
        #expect(lines.allSatisfy { $0.contains("job-1") })
        #expect(hardware.watts("intel-rapl:0") == 150 && hardware.watts("intel-rapl:1") == 150)
        #expect(hardware.watts("nvidia:0") == 300 && hardware.watts("nvidia:1") == 300)
        #expect(try journal.read().isEmpty)
        #expect(next.replayJournal().isEmpty)
    }

    /// A restore that fails stays in the journal, so the next start tries again; the record says why.
    @Test func aRestoreThatFailsStaysJournalled() throws {
        let hardware = TableHardware()
        let journal = Self.journal()
        let controller = PowerController(hardware: hardware, journal: journal)
        try controller.acquire([PowerLimitRequest(device: .gpu, watts: 150, gpus: [1])], for: "a", requestedBy: "u")
        hardware.refusing = [PowerLeases.Device(id: "nvidia:1")]
        let (records, _) = controller.release("a")
        #expect(records.first?.restoredAt == nil)
        #expect(records.first?.restoreError?.contains("write refused") == true)
        #expect(try journal.read().map(\.device) == ["nvidia:1"])
        hardware.refusing = []
        let next = PowerController(hardware: hardware, journal: journal)
        _ = next.replayJournal()
        #expect(hardware.watts("nvidia:1") == 300)
        #expect(try journal.read().isEmpty)
    }

    @Test func releaseAllRestoresEveryDevice() throws {
        let hardware = TableHardware()
        let controller = PowerController(hardware: hardware, journal: Self.journal())
        try controller.acquire([PowerLimitRequest(device: .cpu, watts: 100)], for: "a", requestedBy: "u")
        try controller.acquire([PowerLimitRequest(device: .gpu, watts: 200)], for: "b", requestedBy: "u")
        let all = controller.releaseAll()
        #expect(Set(all.keys) == ["a", "b"])
        #expect(hardware.limits.values.allSatisfy { $0 == 150_000_000 || $0 == 300_000_000 })
        #expect(hardware.watts("intel-rapl:0") == 150 && hardware.watts("nvidia:0") == 300)
        #expect(controller.holders.isEmpty)
    }
}
