import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Testing

@testable import Daemon
@testable import Meter
@testable import Reports
@testable import SustainCore

/// The phase accounting, on a manual clock at exactly 100 W (no root, no waiting): crossing phases nest and add
/// up, marks that arrive late are placed at their own instants, a flood of distinct names stays bounded, and a
/// service job's window ends when its command did however late the stop comes.
@Suite(.serialized)
struct PhaseLogTests {
    struct Meter {
        let clock = ManualClock()
        let sampler: Sampler
        let log: PhaseLog

        init() throws {
            let source = ConstantPowerSource(watts: 100, clock: clock)
            sampler = try Sampler(
                sources: [source], requestedInterval: .milliseconds(10), publishesCheckpoints: true, clock: clock,
                logger: Logger(label: "test"))
            try sampler.start()
            clock.advance(.milliseconds(10))
            let first = try #require(sampler.checkpointNow())
            log = PhaseLog(sampler: sampler, first: first)
        }

        /// Advances the clock and records `line` at the new now.
        func mark(_ line: String, after seconds: Double = 0) {
            clock.advance(.seconds(seconds))
            log.record(Array(line.utf8))
        }

        func finish(after seconds: Double) throws -> PhaseSummary {
            clock.advance(.seconds(seconds))
            let end = try #require(sampler.checkpointNow())
            _ = sampler.stop()
            return log.finish(at: end)
        }
    }

    @Test func crossingPhasesNestAndAddUp() throws {
        let meter = try Meter()
        meter.mark("begin a", after: 0.5)
        meter.mark("begin b", after: 1)
        meter.mark("end a", after: 1)
        meter.mark("end b", after: 1)
        let summary = try meter.finish(after: 1)
        let a = try #require(summary.phases.first { $0.name == "a" })
        let b = try #require(summary.phases.first { $0.name == "b" })
        #expect(abs((a.joules ?? 0) - 200) < 1e-6 && abs((b.joules ?? 0) - 100) < 1e-6, "\(summary.phases)")
        #expect(b.parent == "a" && b.end == a.end)
        // 0.5 s before a, 2 s after it: 250 J outside; with a's 200 J, the job's 450 J.
        #expect(abs((summary.outsideJoules ?? 0) - 250) < 1e-6, "\(String(describing: summary.outsideJoules))")
        #expect(summary.warnings.contains { $0.contains("closed with it: b") }, "\(summary.warnings)")
        #expect(!summary.warnings.contains { $0.contains("\"end b\"") }, "\(summary.warnings)")
    }

    @Test func lateMarksArePlacedAtTheirOwnInstants() throws {
        let meter = try Meter()
        let origin = meter.clock.now
        meter.clock.advance(.seconds(1))
        _ = meter.sampler.checkpointNow()
        meter.log.record(Array("begin x".utf8), at: origin + .milliseconds(250))
        meter.log.record(Array("end x".utf8), at: origin + .milliseconds(750))
        let summary = try meter.finish(after: 0)
        let x = try #require(summary.phases.first)
        #expect(abs(x.end - x.start - 0.5) < 1e-9 && abs((x.joules ?? 0) - 50) < 1e-6, "\(x)")
        #expect(abs((summary.outsideJoules ?? 0) - 50) < 1e-6, "0.25 s before and after")
    }

    @Test func aFloodOfDistinctUnmatchedEndsStaysBounded() throws {
        let meter = try Meter()
        for index in 0..<20_000 { meter.log.record(Array("end n\(index)".utf8)) }
        let summary = try meter.finish(after: 1)
        let listed = summary.warnings.filter { $0.contains("with no open phase of that name") }
        #expect(listed.count == PhaseLog.maximumUnmatchedNames, "\(listed.count)")
        #expect(summary.warnings.contains { $0.hasPrefix("19990 more end mark(s)") }, "\(summary.warnings)")
    }

    /// Through the registry: a stop that arrives 0.4 s after the command ended (a flood of marks before it) ends
    /// the window at the command's end: exactly 0.6 s and 60 J.
    @Test func aLateStopEndsTheWindowWhenTheCommandEnded() async throws {
        let clock = ManualClock()
        let fixture = try APITests.fixture(watts: 100, clock: clock)
        defer { _ = fixture.sampler.stop() }
        try await withServedRouter(fixture.router) { client in
            let started = try await client.execute(
                uri: "/v1/jobs", method: .post, headers: APITests.headers(uid: 1000),
                body: APITests.body(#"{"command": ["flood"]}"#))
            let id = try #require(try APITests.json(started)["id"] as? String)
            let origin = clock.now
            clock.advance(.milliseconds(600))
            let exited = clock.now
            _ = fixture.sampler.checkpointNow()
            clock.advance(.milliseconds(400))
            let stopped = try await client.execute(
                uri: "/v1/jobs/\(id)/stop", method: .post, headers: APITests.headers(uid: 1000),
                body: APITests.body(
                    #"{"exit_code": 0, "ended_at_monotonic_ns": \#(exited.nanoseconds), "marks_shed": 12}"#))
            #expect(stopped.status == .ok)
            let report = try Report.decode(Data(buffer: stopped.body))
            #expect(abs(report.durationSeconds - origin.seconds(to: exited)) < 1e-9, "\(report.durationSeconds)")
            #expect(abs((report.energy.joules ?? 0) - 60) < 1e-6, "\(String(describing: report.energy.joules))")
            #expect(report.warnings.contains { $0.hasPrefix("12 phase mark(s) were shed") }, "\(report.warnings)")
        }
    }
}
