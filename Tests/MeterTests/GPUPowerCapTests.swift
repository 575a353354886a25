import Foundation
import Reports
import SustainTestSupport
import Testing

/// `--gpu-power-limit` as root, through the fake NVML whose GPUs draw min(demand, limit) and keep their limit in a
/// state directory every process reads (as a driver would): two GPUs demanding 250 W, limits 100–300 W, 300 W as
/// shipped. A 150 W cap holds both at 150 W during the job (counted 300 W instead of 500 W) and both are back at
/// 300 W after it; a limit outside the board's range is refused with the range, and nothing changes.
@Suite(
    .serialized, .enabled(if: FakeNVML.library != nil, Comment(rawValue: FakeNVML.skipped)),
    .enabled(if: getuid() == 0, "SKIPPED: GPU power limits are set by root only"))
struct GPUPowerCapTests {
    static func run(_ arguments: [String], state: URL) throws -> ProcessOutcome {
        var environment = ProcessInfo.processInfo.environment
        environment["SUSTAIN_NVML_LIBRARY"] = FakeNVML.library
        environment["FAKE_NVML_GPUS"] = "250:counter,250:counter"
        environment["FAKE_NVML_STATE"] = state.path
        return try Harness.run(
            [Harness.product("sustain-measure"), "--no-daemon", "-q"] + arguments, environment: environment)
    }

    /// The limit in force on GPU `index` (mW), 300 W where none was ever set.
    static func limit(_ state: URL, _ index: Int) -> Int {
        let text = (try? String(contentsOf: state.appendingPathComponent("limit-\(index)"), encoding: .utf8)) ?? ""
        return Int(text.split(separator: " ").first ?? "") ?? 300_000
    }

    @Test func aCapHoldsBothGPUsAndIsPutBackAfter() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = directory.appendingPathComponent("r.json").path
        let outcome = try Self.run(
            [
                "--gpu-power-limit", "150", "--report", report, "--", "/bin/sh", "-c",
                "cut -d' ' -f1 \(directory.path)/limit-0 \(directory.path)/limit-1 | tr '\\n' ' '; sleep 1",
            ], state: directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(String(decoding: outcome.stdout, as: UTF8.self) == "150000 150000 ")
        #expect(Self.limit(directory, 0) == 300_000 && Self.limit(directory, 1) == 300_000)
        let result = try Report.decode(Data(contentsOf: URL(fileURLWithPath: report)))
        let gpus = result.energy.domains.filter { $0.kind == "gpu" }
        let joules = gpus.compactMap(\.joules).reduce(0, +)
        let expected = 300 * result.durationSeconds
        #expect(gpus.count == 2 && abs(joules - expected) / expected < 0.005, "\(joules) J vs \(expected) J")
        let control = try #require(result.powerControl)
        #expect(control.map(\.device) == ["nvidia:0", "nvidia:1"])
        #expect(
            control.allSatisfy {
                $0.originalWatts == 300 && $0.appliedWatts == 150 && $0.constraint == "power_management_limit"
                    && $0.restoredAt != nil
            }, "\(control)")
    }

    @Test func aLimitOutsideTheBoardsRangeIsRefused() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outcome = try Self.run(["--gpu-power-limit", "90", "--", "/bin/echo", "ran"], state: directory)
        #expect(outcome.status == 64)
        #expect(String(decoding: outcome.stdout, as: UTF8.self).isEmpty)
        #expect(
            outcome.stderr.contains("90.0 W is outside nvidia:0's allowed limits, 100.0–300.0 W"), "\(outcome.stderr)")
        #expect(Self.limit(directory, 0) == 300_000 && Self.limit(directory, 1) == 300_000)
    }
}

extension GPUPowerCapTests {
    /// A power limit is a parameter like any other: `--param PL=100,150 --gpu-power-limit {PL}` runs each cap
    /// twice, and `report compare` says what the lower cap saves (two GPUs at 200 W against 300 W: a third less
    /// energy per second of `sleep 1`), with every limit back at 300 W after.
    @Test func aScanOfLimitsComparesTheirEnergy() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("exp.json").path
        let outcome = try Self.run(
            [
                "--repeat", "2", "--param", "PL=100,150", "--gpu-power-limit", "{PL}", "--report", path, "--",
                "/bin/sleep", "1",
            ], state: directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(Self.limit(directory, 0) == 300_000 && Self.limit(directory, 1) == 300_000)
        let experiment = try Experiment.decode(Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(experiment.configurations.map { $0.parameters["PL"] } == ["100", "150"])
        for (configuration, watts) in zip(experiment.configurations, [200.0, 300.0]) {
            for run in configuration.runs {
                let joules = try #require(run.energyJoules)
                let expected = watts * run.durationSeconds
                #expect(abs(joules - expected) / expected < 0.005, "\(joules) J vs \(expected) J")
            }
        }
        let compare = try Harness.run([Harness.product("sustain-measure"), "report", "compare", path])
        let text = String(decoding: compare.stdout, as: UTF8.self)
        #expect(compare.status == 0, "\(compare.stderr)")
        #expect(text.contains("PL=150") && text.contains("more energy"), "\(text)")
    }
}
