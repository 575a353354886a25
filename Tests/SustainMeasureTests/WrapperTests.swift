import Foundation
import Reports
import SustainTestSupport
import Testing

/// The built `sustain-measure` binary end to end: exit codes, signals, stdout, report file. These run on any
/// machine: with no counters the report must say "none", never 0.
struct WrapperTests {
    static let binary = Harness.product("sustain-measure")

    /// Runs `sustain-measure --report R [options] -- command` and returns the outcome and the report.
    static func measure(
        _ command: [String], options: [String] = [], stdin: Data? = nil,
        whileRunning: (@Sendable (pid_t) -> Void)? = nil
    ) throws -> (ProcessOutcome, Report?) {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("nested/report.json").path
        let outcome = try Harness.run(
            [binary, "--no-daemon", "--report", path] + options + ["--"] + command, stdin: stdin,
            whileRunning: whileRunning)
        let report = FileManager.default.contents(atPath: path).flatMap { try? Report.decode($0) }
        return (outcome, report)
    }

    @Test(arguments: [0, 1, 42, 255])
    func exitCodeIsTheChilds(code: Int32) throws {
        let (outcome, report) = try Self.measure(["/bin/sh", "-c", "exit \(code)"])
        #expect(outcome.status == code)
        #expect(report?.exitCode == code)
        #expect(report?.signal == nil)
        #expect(report?.interrupted == false)
    }

    @Test func theMeasuredWindowCoversTheWholeChild() throws {
        let (outcome, report) = try Self.measure(["/bin/sleep", "0.5"])
        #expect(outcome.status == 0)
        let duration = try #require(report?.durationSeconds)
        #expect(duration >= 0.5, "measurement started late or ended early: \(duration) s")
        #expect(duration < 0.75, "measurement window much longer than the child: \(duration) s")
    }

    @Test func killedBySIGKILLReturns137() throws {
        let (outcome, report) = try Self.measure(["/bin/sh", "-c", "kill -9 $$"])
        #expect(outcome.status == 137)
        #expect(report?.exitCode == nil)
        #expect(report?.signal == 9)
        #expect(outcome.stderr.contains("killed by signal 9"))
    }

    @Test func sigtermToTheWrapperEndsTheChildAndTheReportIsWritten() throws {
        let started = ContinuousClock.now
        let (outcome, written) = try Self.measure(["/bin/sleep", "30"]) { pid in
            usleep(500_000)
            kill(pid, SIGTERM)
        }
        #expect(started.duration(to: .now) < .seconds(10), "the child did not end on SIGTERM")
        #expect(outcome.status == 128 + SIGTERM)
        let report = try #require(written)
        #expect(report.signal == SIGTERM)
        #expect(report.interrupted)
        #expect(report.signalsReceived == ["SIGTERM"])
    }

    @Test func sigusr1IsForwardedAndIsNotAnInterruption() throws {
        // The child traps USR1 and exits 7 when it arrives.
        let script = "trap 'exit 7' USR1; i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; exit 1"
        let (outcome, report) = try Self.measure(["/bin/sh", "-c", script]) { pid in
            usleep(500_000)
            kill(pid, SIGUSR1)
        }
        #expect(outcome.status == 7)
        #expect(report?.exitCode == 7)
        #expect(report?.interrupted == false)
        #expect(report?.signalsReceived == ["SIGUSR1"])
    }

    @Test func stdoutOfTheChildIsUntouchedByteForByte() throws {
        var bytes = [UInt8](repeating: 0, count: 300_000)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        let input = Data(bytes)
        let (outcome, _) = try Self.measure(["/bin/cat"], stdin: input)
        #expect(outcome.status == 0)
        #expect(outcome.stdout == input)
    }

    @Test func environmentIsInherited() throws {
        setenv("SUSTAIN_TEST_MARKER", "marker-value", 1)
        let (outcome, _) = try Self.measure(["/bin/sh", "-c", "printf %s \"$SUSTAIN_TEST_MARKER\""])
        #expect(String(decoding: outcome.stdout, as: UTF8.self) == "marker-value")
    }

    @Test func commandNotFoundIs127WithoutReportNoise() throws {
        let (outcome, report) = try Self.measure(["definitely-not-a-command-sustain"])
        #expect(outcome.status == 127)
        #expect(outcome.stderr.contains("definitely-not-a-command-sustain: command not found"))
        #expect(!outcome.stderr.contains("energy"))
        #expect(report == nil)
    }

    @Test func notExecutableIs126() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("script.sh").path
        FileManager.default.createFile(atPath: file, contents: Data("#!/bin/sh\n".utf8))
        chmod(file, 0o644)
        let (plain, report) = try Self.measure([file])
        #expect(plain.status == 126)
        #expect(plain.stderr.contains("cannot execute"))
        #expect(report == nil)
        let (directoryOutcome, _) = try Self.measure([directory.path])
        #expect(directoryOutcome.status == 126)
    }

    @Test(arguments: [
        ["--interval", "0", "--", "true"], ["--interval", "abc", "--", "true"], ["--interval", "-1", "--", "true"],
        ["--interval", "0.0001", "--", "true"], ["--no-such-option", "--", "true"], [String](),
    ])
    func invalidOptionsExit64WithUsage(arguments: [String]) throws {
        let outcome = try Harness.run([Self.binary] + arguments)
        #expect(outcome.status == 64, "\(arguments): \(outcome.stderr)")
        #expect(outcome.stderr.contains("Usage") || outcome.stderr.contains("usage"), "\(outcome.stderr)")
    }

    @Test func reportHasTheDocumentedSchema() throws {
        let (outcome, written) = try Self.measure(["/bin/true"])
        #expect(outcome.status == 0)
        let report = try #require(written)
        #expect(report.schema == "sustain.report.v1")
        #expect(report.command == ["/bin/true"])
        #expect(report.endedAt >= report.startedAt)
        #expect(report.durationSeconds >= 0 && report.durationSeconds < 5)
        #expect(report.sampling.samples >= 2)
        #expect(report.usage != nil)
        switch report.energy.method {
        case "measured":
            #expect(report.energy.joules != nil)
        case "estimated":
            #expect(report.energy.domains.filter(\.counted).allSatisfy { $0.source == "estimate" })
            #expect(report.warnings.contains { $0.contains("ESTIMATED") })
        default:
            Issue.record("a report with an estimate fallback is never \(report.energy.method)")
        }
    }

    @Test func reportsSurviveADecodeEncodeRoundTripUnchanged() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("r.json").path
        try Harness.run([
            Self.binary, "-q", "--region", "aws:eu-west-3", "--price", "0.3", "--currency", "EUR", "--report", path,
            "--", "/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done",
        ])
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let again = try Report.decode(original).jsonData()
        let a = try JSONSerialization.jsonObject(with: original) as? NSDictionary
        let b = try JSONSerialization.jsonObject(with: again) as? NSDictionary
        #expect(a != nil && a == b, "a field was lost or changed in decoding")
    }

    @Test func rawJSONUsesTheDocumentedKeys() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("r.json").path
        try Harness.run([Self.binary, "--quiet", "--report", path, "--", "/bin/true"])
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        for key in [
            "schema", "id", "command", "exit_code", "signal", "started_at", "ended_at", "duration_seconds",
            "energy", "power", "sampling", "warnings",
        ] {
            #expect(object.keys.contains(key), "missing \(key)")
        }
        let energy = try #require(object["energy"] as? [String: Any])
        #expect(energy.keys.contains("joules") && energy.keys.contains("method") && energy.keys.contains("domains"))
        let sampling = try #require(object["sampling"] as? [String: Any])
        for key in ["interval_seconds", "samples", "wraps", "resets", "errors"] {
            #expect(sampling.keys.contains(key), "missing sampling.\(key)")
        }
        let power = try #require(object["power"] as? [String: Any])
        #expect(power.keys.contains("mean_watts") && power.keys.contains("peak_watts"))
        #expect((object["started_at"] as? String)?.hasSuffix("Z") == true)
    }

    @Test func quietPrintsNothingAndNoLiveStatusWithoutATerminal() throws {
        let (quiet, quietReport) = try Self.measure(["/bin/sleep", "1.2"], options: ["--quiet"])
        #expect(quiet.status == 0)
        #expect(quiet.stderr.isEmpty, "\(quiet.stderr)")
        #expect(quietReport != nil)
        let (loud, _) = try Self.measure(["/bin/sleep", "1.2"])
        #expect(!loud.stderr.contains("\r"), "live status must not be drawn when stderr is not a terminal")
        #expect(loud.stderr.contains("sustain: `/bin/sleep 1.2` exited 0"))
        #expect(loud.stderr.contains("report"))
    }

    @Test func defaultReportLocationFollowsXDGStateHome() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_STATE_HOME"] = directory.path
        let outcome = try Harness.run([Self.binary, "-q", "--", "/bin/true"], environment: environment)
        #expect(outcome.status == 0)
        let reports = try FileManager.default.contentsOfDirectory(
            atPath: directory.appendingPathComponent("sustain/reports").path)
        #expect(reports.count == 1)
        #expect(reports.first?.hasSuffix(".json") == true)
        #expect(reports.first?.contains(".tmp") == false)
    }

    /// A report directory that cannot be made is refused before the command runs (its directory is opened then);
    /// one that exists but takes no file still returns the child's code, and says so.
    @Test func unwritableReportPathStillReturnsTheChildsCode() throws {
        let refused = try Harness.run([
            Self.binary, "--report", "/proc/sustain/r.json", "--", "/bin/sh", "-c", "exit 3",
        ])
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--report /proc/sustain/r.json"), "\(refused.stderr)")
        let outcome = try Harness.run([Self.binary, "--report", "/proc/r.json", "--", "/bin/sh", "-c", "exit 3"])
        #expect(outcome.status == 3)
        #expect(outcome.stderr.contains("Cannot"), "\(outcome.stderr)")
    }

    @Test func withoutCountersTheEstimateFollowsItsDocumentedFormula() throws {
        let busy = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"
        let (outcome, written) = try Self.measure(["/bin/sh", "-c", busy], options: ["--cpu-tdp", "100"])
        #expect(outcome.status == 0)
        let report = try #require(written)
        guard report.energy.method == "estimated" else { return }  // this machine has counters: nothing to check
        let usage = try #require(report.usage)
        #expect(usage.cpuSeconds > 0.05)
        let cpu = try #require(report.energy.domains.first { $0.id == "estimate/cpu" })
        let logical = Double(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #expect(abs((cpu.joules ?? 0) - 100 / logical * usage.cpuSeconds) < 1e-9)
        #expect(cpu.note.contains("given with --cpu-tdp"))
        let memory = try #require(report.energy.domains.first { $0.id == "estimate/memory" })
        let expectedMemory = 0.375 * Double(usage.maxRssBytes) / 1e9 * report.durationSeconds
        #expect(abs((memory.joules ?? 0) - expectedMemory) < 1e-9)
        #expect(abs((report.energy.joules ?? 0) - (cpu.joules ?? 0) - (memory.joules ?? 0)) < 1e-9)
        #expect(outcome.stderr.contains("ESTIMATED, not measured"))
    }

    @Test func noEstimateLeavesNothingMeasuredAsNull() throws {
        let (_, written) = try Self.measure(["/bin/true"], options: ["--no-estimate"])
        let report = try #require(written)
        if report.energy.method != "measured" {
            #expect(report.energy.method == "none")
            #expect(report.energy.joules == nil)
            #expect(report.carbon.kgCo2e == nil)
        }
    }

    @Test func carbonUsesTheGivenRegionPUEAndPrice() throws {
        let (outcome, written) = try Self.measure(
            ["/bin/true"],
            options: ["--region", "aws:eu-west-3", "--pue", "1.2", "--price", "0.25", "--currency", "eur"])
        #expect(outcome.status == 0)
        let carbon = try #require(written?.carbon)
        #expect(carbon.region == "aws:eu-west-3")
        #expect(carbon.regionCode == "FR")
        #expect(carbon.intensityBasis == "lifecycle")
        #expect(carbon.intensityGPerKwh == 44.18)
        #expect(carbon.resolvedFrom == "--region")
        #expect(carbon.pue == 1.2)
        if let joules = written?.energy.joules {
            let kwh = joules / 3_600_000
            let kilograms = try #require(carbon.kgCo2e)
            #expect(abs((carbon.kwhFacility ?? 0) - kwh * 1.2) <= 1e-12 * kwh)
            #expect(abs(kilograms - kwh * 1.2 * 44.18 / 1000) <= 1e-12 * kilograms)
            #expect(carbon.cost?.currency == "EUR")
        } else {
            #expect(carbon.kgCo2e == nil, "nothing measured: no carbon, not 0")
            #expect(carbon.kwhAtMeter == nil)
            #expect(carbon.cost == nil)
        }
    }

    @Test func defaultIntensityIsTheWorldAverageAndSaysSo() throws {
        let (_, written) = try Self.measure(["/bin/true"])
        let carbon = try #require(written?.carbon)
        #expect(carbon.resolvedFrom == "default (world average)")
        #expect(carbon.regionCode == "WORLD")
        #expect(carbon.intensitySource.contains("Ember"))
    }

    @Test(arguments: [
        ["--region", "frnce"], ["--pue", "0.5"], ["--pue", "nan"], ["--intensity", "-3"], ["--price", "0.2"],
        ["--price", "-1", "--currency", "EUR"], ["--intensity", "300", "--intensity-basis", "average"],
    ])
    func badImpactInputIsRejectedBeforeTheCommandRuns(options: [String]) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let marker = directory.appendingPathComponent("ran").path
        let path = directory.appendingPathComponent("r.json").path
        let outcome = try Harness.run(
            [Self.binary, "--report", path] + options + ["--", "/usr/bin/touch", marker])
        #expect(outcome.status == 64, "\(options): \(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the command must not run")
        #expect(!FileManager.default.fileExists(atPath: path), "no report for rejected input")
        if options.first == "--region" { #expect(outcome.stderr.contains("FR (France)")) }
    }

    @Test func configurationFileSitsBetweenDefaultsAndFlags() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("sustain.toml")
        try "[impact]\nregion = \"DE\"\npue = 1.3\n".write(to: config, atomically: true, encoding: .utf8)
        let (_, fromFile) = try Self.measure(["/bin/true"], options: ["--config", config.path])
        #expect(fromFile?.carbon.regionCode == "DE")
        #expect(fromFile?.carbon.resolvedFrom == "config")
        #expect(fromFile?.carbon.pue == 1.3)
        let (_, fromFlag) = try Self.measure(["/bin/true"], options: ["--config", config.path, "--region", "FR"])
        #expect(fromFlag?.carbon.regionCode == "FR")
        #expect(fromFlag?.carbon.resolvedFrom == "--region")
        #expect(fromFlag?.carbon.pue == 1.3)

        try "[impact]\nregoin = \"DE\"\n".write(to: config, atomically: true, encoding: .utf8)
        let marker = directory.appendingPathComponent("ran").path
        let rejected = try Harness.run([Self.binary, "--config", config.path, "--", "/usr/bin/touch", marker])
        #expect(rejected.status == 64)
        #expect(rejected.stderr.contains("key impact.regoin"), "\(rejected.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func sourcesListsWhatThisMachineOffers() throws {
        let outcome = try Harness.run([Self.binary, "sources"])
        #expect(outcome.status == 0)
        let text = String(decoding: outcome.stdout, as: UTF8.self)
        #expect(text.contains("powercap:"))
        #expect(text.contains("hwmon:"))
        #expect(text.contains("sampling interval"))
    }

    /// What `sources` promises is what a run reports: on a machine with nothing readable, "estimated" by default and
    /// "none" with --no-estimate (they disagreed).
    @Test func sourcesSaysWhatAReportWillSay() throws {
        let sources = try Harness.run([Self.binary, "sources"])
        let text = String(decoding: sources.stdout, as: UTF8.self)
        let (_, estimated) = try Self.measure(["/bin/true"], options: ["--no-daemon"])
        let (_, none) = try Self.measure(["/bin/true"], options: ["--no-daemon", "--no-estimate"])
        if text.contains("nothing on this machine can be measured") {
            #expect(text.contains("energy.method \"estimated\"") && text.contains("\"none\" with --no-estimate"))
            #expect(estimated?.energy.method == "estimated")
            #expect(none?.energy.method == "none")
            #expect(none?.energy.joules == nil)
        } else {
            #expect(estimated?.energy.method == "measured", "\(text)")
        }
    }
}
