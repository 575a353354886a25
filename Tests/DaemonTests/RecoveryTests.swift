import Foundation
import Logging
import SustainAPI
import Testing

@testable import Daemon
@testable import Impact
@testable import LinuxSupport
@testable import Meter
@testable import Reports
@testable import SustainCore

/// A daemon that stops without closing its jobs (a crash), and its successor on the same database: live jobs
/// continue with the gap recovered from the counter, dead ones are closed as incomplete. In process, with a counter
/// at 100 W that keeps running while no daemon reads it.
@Suite(.serialized)
struct RecoveryTests {
    struct Life {
        let sampler: Sampler
        let store: JobStore
        let registry: JobRegistry
    }

    /// Root: the jobs name this test's own (root's) child processes.
    static let identity = Identity.of(uid: 0, gid: 0, pid: 1, adminGroup: nil)

    static func life(origin: MonotonicInstant, database: String, bootID: String) throws -> Life {
        let logger = Logger(label: "test")
        let source = ConstantPowerSource(watts: 100, origin: origin)
        let sampler = try Sampler(
            sources: [source], requestedInterval: .milliseconds(10), publishesCheckpoints: true, logger: logger)
        try sampler.start()
        let store = try JobStore(path: database)
        let registry = JobRegistry(
            sampler: sampler, sources: [SourceSummary(name: "test", channels: source.channels, diagnostics: [])],
            store: store, carbon: .worldAverage(), bootID: bootID, logger: logger)
        return Life(sampler: sampler, store: store, registry: registry)
    }

    /// A process that runs until killed.
    static func sleeper() throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["30"]
        try process.run()
        return process
    }

    @Test func aRestartCarriesLiveJobsOverAndClosesDeadOnes() async throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("sustain-rec-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("jobs.sqlite").path
        let origin = MonotonicInstant.now
        let alive = try Self.sleeper()
        let doomed = try Self.sleeper()
        defer { kill(alive.processIdentifier, SIGKILL) }

        let first = try Self.life(origin: origin, database: database, bootID: "boot-a")
        try await Task.sleep(for: .milliseconds(50))
        let live = try await first.registry.start(
            JobStart(command: ["live"], pid: alive.processIdentifier), by: Self.identity)
        let dead = try await first.registry.start(
            JobStart(command: ["dead"], pid: doomed.processIdentifier), by: Self.identity)
        try await Task.sleep(for: .milliseconds(400))
        await first.registry.saveCheckpoint()
        let savedBy = Date()
        try await Task.sleep(for: .milliseconds(100))  // energy after the last save, before the "crash"
        _ = first.sampler.stop()  // the crash: nothing more is saved
        kill(doomed.processIdentifier, SIGKILL)  // SIGKILL: the test runner's threads may block SIGTERM
        doomed.waitUntilExit()
        try await Task.sleep(for: .milliseconds(300))  // nobody samples

        let second = try Self.life(origin: origin, database: database, bootID: "boot-a")
        let baseline = try #require(second.sampler.latestCheckpoint)
        let summary = await second.registry.recover(baseline: baseline)
        #expect(summary.continued == [live.id])
        #expect(summary.closed == [dead.id])
        try await Task.sleep(for: .milliseconds(300))
        let report = try await second.registry.stop(live.id, JobStop(exitCode: 0), by: Self.identity)
        _ = second.sampler.stop()

        // The whole window at 100 W: before the crash, across the gap (from the counter), and after.
        let joules = try #require(report.energy.joules)
        let injected = 100 * report.durationSeconds
        #expect(report.durationSeconds > 1.0)
        #expect(abs(joules - injected) / injected < 0.005, "\(joules) J vs \(injected) J")
        let gap = try #require(report.gaps?.first)
        #expect(report.gaps?.count == 1)
        #expect(gap.recovered == ["intel-rapl:0"])
        #expect(gap.missing.isEmpty)
        #expect(gap.seconds > 0.35 && gap.seconds < 10, "\(gap.seconds) s")
        #expect(report.warnings.contains { $0.contains("daemon was down") && $0.contains("intel-rapl:0") })

        // The dead job: closed as incomplete at the last save, its energy that of the window it was seen in.
        let closed = try #require(try second.store.job(id: dead.id))
        #expect(closed.state == "incomplete")
        #expect(closed.exitCode == nil)
        let closedReport = try Report.decode(Data(closed.report.utf8))
        let closedJoules = try #require(closedReport.energy.joules)
        #expect(closedReport.durationSeconds > 0.35)
        #expect(closedReport.endedAt <= savedBy, "it ends at the last save, not at the restart")
        #expect(abs(closedJoules - 100 * closedReport.durationSeconds) < 0.005 * closedJoules)
        #expect(closedReport.warnings.contains { $0.contains("closed as incomplete") })

        #expect(try second.store.recoveryState().open.isEmpty, "no job left open")
        #expect(try second.store.integrityCheck() == "ok")
    }

    @Test func afterARebootEveryOpenJobIsClosedAndNoneIsZero() async throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("sustain-rec-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("jobs.sqlite").path
        let origin = MonotonicInstant.now
        let first = try Self.life(origin: origin, database: database, bootID: "boot-a")
        try await Task.sleep(for: .milliseconds(50))
        let seen = try await first.registry.start(JobStart(command: ["seen"], pid: nil), by: Self.identity)
        try await Task.sleep(for: .milliseconds(200))
        await first.registry.saveCheckpoint()
        // Started after the last save: nothing of it was ever saved.
        let unseen = try await first.registry.start(JobStart(command: ["unseen"], pid: nil), by: Self.identity)
        _ = first.sampler.stop()

        let second = try Self.life(origin: origin, database: database, bootID: "boot-b")
        let summary = await second.registry.recover(baseline: try #require(second.sampler.latestCheckpoint))
        _ = second.sampler.stop()
        #expect(summary.continued.isEmpty)
        #expect(Set(summary.closed) == [seen.id, unseen.id])
        let seenReport = try Report.decode(Data(try #require(try second.store.job(id: seen.id)).report.utf8))
        #expect((seenReport.energy.joules ?? 0) > 15, "the saved window is kept")
        #expect(seenReport.warnings.contains { $0.contains("rebooted") })
        let unseenReport = try Report.decode(Data(try #require(try second.store.job(id: unseen.id)).report.utf8))
        #expect(unseenReport.energy.joules == nil, "nothing measured is null, never 0 J")
    }
}
