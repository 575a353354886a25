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

    /// One life of the daemon: a sampler on `clock` (time moves when the test says), a store, a registry.
    static func life(origin: MonotonicInstant, clock: ManualClock, database: String, bootID: String) throws -> Life {
        let logger = Logger(label: "test")
        let source = ConstantPowerSource(watts: 100, origin: origin, clock: clock)
        let sampler = try Sampler(
            sources: [source], requestedInterval: .milliseconds(10), publishesCheckpoints: true, clock: clock,
            logger: logger)
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
        let clock = ManualClock()
        let origin = clock.now
        let alive = try Self.sleeper()
        let doomed = try Self.sleeper()
        defer { kill(alive.processIdentifier, SIGKILL) }

        let first = try Self.life(origin: origin, clock: clock, database: database, bootID: "boot-a")
        clock.advance(.milliseconds(50))
        let live = try await first.registry.start(
            JobStart(command: ["live"], pid: alive.processIdentifier), by: Self.identity)
        let dead = try await first.registry.start(
            JobStart(command: ["dead"], pid: doomed.processIdentifier), by: Self.identity)
        clock.advance(.milliseconds(400))
        _ = first.sampler.checkpointNow()  // the sampler's tick at the new time
        await first.registry.saveCheckpoint()
        let savedBy = Date()
        clock.advance(.milliseconds(100))  // energy after the last save, before the "crash"
        _ = first.sampler.stop()  // the crash: nothing more is saved
        kill(doomed.processIdentifier, SIGKILL)  // SIGKILL: the test runner's threads may block SIGTERM
        doomed.waitUntilExit()
        clock.advance(.milliseconds(300))  // nobody samples

        let second = try Self.life(origin: origin, clock: clock, database: database, bootID: "boot-a")
        let baseline = try #require(second.sampler.latestCheckpoint)
        let summary = await second.registry.recover(baseline: baseline)
        #expect(summary.continued == [live.id])
        #expect(summary.closed == [dead.id])
        clock.advance(.milliseconds(300))
        let report = try await second.registry.stop(live.id, JobStop(exitCode: 0), by: Self.identity)
        _ = second.sampler.stop()

        // The whole window at 100 W, exactly (the manual clock): 0.4 s before the save, 0.1 s after it, 0.3 s
        // down (recovered from the counter), 0.3 s after the restart.
        let joules = try #require(report.energy.joules)
        #expect(abs(report.durationSeconds - 1.1) < 1e-9, "\(report.durationSeconds) s")
        #expect(abs(joules - 110) < 1e-6, "\(joules) J")
        let gap = try #require(report.gaps?.first)
        #expect(report.gaps?.count == 1)
        #expect(gap.recovered == ["intel-rapl:0"])
        #expect(gap.missing.isEmpty)
        #expect(abs(gap.seconds - 0.4) < 1e-9, "\(gap.seconds) s: from the last save to the restart")
        #expect(report.warnings.contains { $0.contains("daemon was down") && $0.contains("intel-rapl:0") })

        // The dead job: closed as incomplete at the last save, its energy that of the window it was seen in.
        let closed = try #require(try second.store.job(id: dead.id))
        #expect(closed.state == "incomplete")
        #expect(closed.exitCode == nil)
        let closedReport = try Report.decode(Data(closed.report.utf8))
        let closedJoules = try #require(closedReport.energy.joules)
        #expect(abs(closedReport.durationSeconds - 0.4) < 1e-9, "it ends at the last save")
        // Reports carry milliseconds (rounded): the save and `savedBy` can be closer than that.
        #expect(
            closedReport.endedAt <= savedBy.addingTimeInterval(0.001), "it ends at the last save, not at the restart")
        #expect(abs(closedJoules - 40) < 1e-6, "\(closedJoules) J")
        #expect(closedReport.warnings.contains { $0.contains("closed as incomplete") })

        #expect(try second.store.recoveryState().open.isEmpty, "no job left open")
        #expect(try second.store.integrityCheck() == "ok")
    }

    @Test func afterARebootEveryOpenJobIsClosedAndNoneIsZero() async throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("sustain-rec-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("jobs.sqlite").path
        let clock = ManualClock()
        let origin = clock.now
        let first = try Self.life(origin: origin, clock: clock, database: database, bootID: "boot-a")
        clock.advance(.milliseconds(50))
        let seen = try await first.registry.start(JobStart(command: ["seen"], pid: nil), by: Self.identity)
        clock.advance(.milliseconds(200))
        _ = first.sampler.checkpointNow()
        await first.registry.saveCheckpoint()
        // Started after the last save: nothing of it was ever saved.
        let unseen = try await first.registry.start(JobStart(command: ["unseen"], pid: nil), by: Self.identity)
        _ = first.sampler.stop()

        let second = try Self.life(origin: origin, clock: clock, database: database, bootID: "boot-b")
        let summary = await second.registry.recover(baseline: try #require(second.sampler.latestCheckpoint))
        _ = second.sampler.stop()
        #expect(summary.continued.isEmpty)
        #expect(Set(summary.closed) == [seen.id, unseen.id])
        let seenReport = try Report.decode(Data(try #require(try second.store.job(id: seen.id)).report.utf8))
        #expect(seenReport.energy.joules.map { abs($0 - 20) < 1e-6 } == true, "the saved window is kept, exactly")
        #expect(seenReport.warnings.contains { $0.contains("rebooted") })
        let unseenReport = try Report.decode(Data(try #require(try second.store.job(id: unseen.id)).report.utf8))
        #expect(unseenReport.energy.joules == nil, "nothing measured is null, never 0 J")
    }
}
