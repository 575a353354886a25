import Foundation
import Reports
import SustainTestSupport
import Testing

/// Hardware paths end to end: `sustain-measure` run against a fake `/sys/class` tree (real kernel layout) in a
/// private mount namespace, with counters driven at known power by `sustain-fakesys`; the reported energy is
/// compared with the injected energy.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct FakeSysfsTests {
    struct Run {
        var report: Report
        var truth: FakesysTruth
        var status: Int32
        var stderr: String

        func domain(_ id: String) -> Report.Domain? { report.energy.domains.first { $0.id == id } }
        func watts(_ id: String) -> Double { truth.zones.first { $0.id == id }?.watts ?? .nan }
        /// Energy injected into a set of zones over the measured window.
        func injected(_ ids: [String]) -> Double { ids.map(watts).reduce(0, +) * report.durationSeconds }
    }

    /// Runs `sustain-measure [extra] -- sleep SECONDS` in `scenario`, optionally as another user.
    static func measure(
        _ scenario: String, seconds: Double = 3, extra: [String] = [], asUser: String? = nil
    ) throws -> Run {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let reportPath = directory.appendingPathComponent("report.json").path
        let truthPath = directory.appendingPathComponent("truth.json").path
        var measure = [Harness.product("sustain-measure"), "--no-daemon"]
        if let asUser {
            // The build folder may sit under a private home: give the unprivileged user its own copy.
            let copy = directory.appendingPathComponent("sustain-measure").path
            try FileManager.default.copyItem(atPath: measure[0], toPath: copy)
            chmod(copy, 0o755)
            measure = [
                "/usr/bin/setpriv", "--reuid=\(asUser)", "--regid=\(asUser)", "--clear-groups", copy, "--no-daemon",
            ]
        }
        let outcome = try Harness.run(
            [
                "/usr/bin/unshare", "-m", "--propagation", "private", Harness.product("sustain-fakesys"),
                "--scenario", scenario, "--truth", truthPath, "--",
            ]
                + measure + ["--report", reportPath] + extra + ["--", "/bin/sleep", String(seconds)])
        let reportData = try Data(contentsOf: URL(fileURLWithPath: reportPath))
        let truth = try FakesysTruth.read(truthPath)
        return Run(report: try Report.decode(reportData), truth: truth, status: outcome.status, stderr: outcome.stderr)
    }

    /// |measured − injected| / injected.
    static func relativeError(_ measured: Double?, _ injected: Double) -> Double {
        guard let measured else { return .infinity }
        return abs(measured - injected) / injected
    }

    @Test func twoSocketServerCountsPackageAndDRAMOnceAndShowsTheWallMeterBeside() throws {
        let run = try Self.measure("two-socket")
        #expect(run.status == 0)
        #expect(run.report.energy.method == "measured")
        let counted = ["intel-rapl:0", "intel-rapl:0:1", "intel-rapl:1", "intel-rapl:1:1"]
        #expect(Set(run.report.energy.domains.filter(\.counted).map(\.id)) == Set(counted))
        let error = Self.relativeError(run.report.energy.joules, run.injected(counted))
        #expect(
            error < 0.005,
            "total \(run.report.energy.joules ?? -1) J vs injected \(run.injected(counted)) J; sim max gap \(run.truth.maxGapSeconds) s"
        )
        for id in counted + ["intel-rapl:0:0", "intel-rapl:1:0"] {
            let domain = try #require(run.domain(id))
            #expect(Self.relativeError(domain.joules, run.injected([id])) < 0.005, "\(id)")
        }
        #expect(run.domain("intel-rapl:0:0")?.counted == false)
        // The ACPI power meter: 250 W integrated by trapezoid, shown beside RAPL, not added.
        let meter = try #require(run.domain("power_meter-acpi-0/power1"))
        #expect(meter.kind == "platform")
        #expect(meter.counted == false)
        #expect(Self.relativeError(meter.joules, 250 * run.report.durationSeconds) < 0.02)
        #expect(run.report.temperatures.contains { $0.chip == "coretemp-isa-0000" && $0.maxCelsius == 48 })
        let mean = try #require(run.report.power.meanWatts)
        #expect(abs(mean - 176) / 176 < 0.005)
        #expect(run.report.sampling.errors == 0)
        #expect(run.report.sampling.resets == 0)
    }

    @Test func amdMultiDieZonesFedByOneCounterAreCountedOnce() throws {
        let run = try Self.measure("amd")
        let counted = Set(run.report.energy.domains.filter(\.counted).map(\.id))
        #expect(
            counted == [
                "intel-rapl:0", "intel-rapl:2", "amdgpu-pci-0300/power1", "amdgpu-pci-4300/energy1",
            ])
        #expect(run.domain("intel-rapl:1")?.note.contains("same counter") == true)
        let cpu = run.injected(["intel-rapl:0", "intel-rapl:2"])
        let packages = run.report.energy.domains.filter { $0.counted && $0.source == "powercap" }
        #expect(Self.relativeError(packages.compactMap(\.joules).reduce(0, +), cpu) < 0.005)
        // amdgpu: power integrated (2 %), energy counter by deltas (0.5 %), its power channel shown, not counted.
        let powered = try #require(run.domain("amdgpu-pci-0300/power1"))
        #expect(powered.kind == "gpu" && powered.method == "power-integration")
        #expect(Self.relativeError(powered.joules, 150 * run.report.durationSeconds) < 0.02)
        let metered = try #require(run.domain("amdgpu-pci-4300/energy1"))
        #expect(metered.kind == "gpu" && metered.method == "counter")
        #expect(Self.relativeError(metered.joules, 100 * run.report.durationSeconds) < 0.005)
        #expect(run.domain("amdgpu-pci-4300/power1")?.counted == false)
        let total = cpu + 250 * run.report.durationSeconds
        #expect(Self.relativeError(run.report.energy.joules, total) < 0.01)
        #expect(run.report.temperatures.contains { $0.chip == "k10temp-pci-00c3" && $0.label == "Tctl" })
    }

    @Test func laptopCountsPsysAloneAndTheMMIOMirrorNot() throws {
        let run = try Self.measure("laptop")
        #expect(run.report.energy.domains.filter(\.counted).map(\.id) == ["intel-rapl:1"])
        #expect(run.domain("intel-rapl-mmio:0")?.note.contains("mirror") == true)
        #expect(run.domain("amdgpu-pci-0900/power1")?.kind == "gpu")
        #expect(run.domain("amdgpu-pci-0900/power1")?.counted == false)
        #expect(Self.relativeError(run.report.energy.joules, run.injected(["intel-rapl:1"])) < 0.005)
        #expect(
            Self.relativeError(run.domain("intel-rapl-mmio:0")?.joules, run.injected(["intel-rapl-mmio:0"])) < 0.005)
    }

    @Test func countersThatWrapEveryHalfSecondStayExact() throws {
        let run = try Self.measure("wrap", seconds: 3)
        // 20 J range at 40 W: about 6 wraps in 3 s. A package may plausibly draw 1 kW, so a wrap could come
        // in 20 ms: the sampler samples every 5 ms.
        #expect(run.report.sampling.wraps >= 5)
        #expect(abs(run.report.sampling.intervalSeconds - 0.005) < 1e-6)
        #expect(run.report.sampling.resets == 0)
        let error = Self.relativeError(run.report.energy.joules, run.injected(["intel-rapl:0"]))
        #expect(error < 0.005, "wrap scenario off by \(error * 100) %")
    }

    @Test func requestedIntervalLongerThanTheWrapPeriodIsShortened() throws {
        let run = try Self.measure("wrap", seconds: 2, extra: ["--interval", "1"])
        #expect(run.stderr.contains("--interval shortened"))
        #expect(run.report.sampling.intervalSeconds < 1)
        #expect(Self.relativeError(run.report.energy.joules, run.injected(["intel-rapl:0"])) < 0.005)
    }

    @Test func unprivilegedUserGetsTheMeterAndAClearMessageNeverZero() throws {
        let run = try Self.measure("unreadable", asUser: "65534")
        #expect(run.status == 0)
        let package = try #require(run.domain("intel-rapl:0"))
        #expect(package.readable == false)
        #expect(package.joules == nil)
        #expect(package.counted == false)
        // Only the wall meter is readable: it becomes the measured total.
        #expect(run.report.energy.method == "measured")
        #expect(run.report.energy.domains.filter(\.counted).map(\.id) == ["power_meter-acpi-0/power1"])
        #expect(Self.relativeError(run.report.energy.joules, 250 * run.report.durationSeconds) < 0.02)
        #expect(
            run.report.warnings.contains { $0.contains("readable by root only") && $0.contains("sustain-measured") })
        // Said once on stderr, with the fix.
        #expect(run.stderr.components(separatedBy: "root only").count == 2, "\(run.stderr)")
    }

    @Test func nothingToMeasureSaysSoAndReportsNull() throws {
        let run = try Self.measure("empty", seconds: 0.2, extra: ["--no-estimate"])
        #expect(run.status == 0)
        #expect(run.report.energy.method == "none")
        #expect(run.report.energy.joules == nil)
        #expect(run.report.power.meanWatts == nil)
        #expect(run.report.warnings.contains { $0.contains("Nothing was measured") })
    }

    @Test func nothingToMeasureFallsBackToAnEstimateThatSaysSo() throws {
        let run = try Self.measure("empty", seconds: 0.2)
        #expect(run.report.energy.method == "estimated")
        #expect(run.report.energy.domains.map(\.source) == ["estimate", "estimate"])
        #expect(run.report.warnings.contains { $0.contains("ESTIMATED") })
        #expect(run.stderr.contains("ESTIMATED, not measured"))
    }

    @Test func measuredEnergyIsNeverMixedWithTheEstimate() throws {
        let run = try Self.measure("laptop", seconds: 0.5)
        #expect(run.report.energy.method == "measured")
        #expect(!run.report.energy.domains.contains { $0.source == "estimate" })
    }

    @Test func garbageEmptyVanishedFilesAndAResetAreSkippedAndCounted() throws {
        let run = try Self.measure("faults")
        let package0 = try #require(run.domain("intel-rapl:0"))
        // Garbage and empty reads are skipped; the next good reading carries the energy: still exact.
        #expect(package0.errors > 0)
        #expect(package0.resets == 0)
        #expect(Self.relativeError(package0.joules, run.injected(["intel-rapl:0"])) < 0.005)
        // A real reset loses one interval at most, and never goes negative.
        let package1 = try #require(run.domain("intel-rapl:1"))
        #expect(package1.resets == 1)
        let injected1 = run.injected(["intel-rapl:1"])
        let lost = injected1 - (package1.joules ?? 0)
        #expect(lost >= 0 && lost <= 70 * 2 * run.report.sampling.intervalSeconds + 0.005 * injected1)
        let meter = try #require(run.domain("power_meter-acpi-0/power1"))
        #expect(meter.errors > 0)
        #expect(Self.relativeError(meter.joules, 250 * run.report.durationSeconds) < 0.02)
        #expect(run.report.sampling.errors == package0.errors + meter.errors)
        #expect(run.report.warnings.contains { $0.contains("intel-rapl:1") && $0.contains("reset") })
    }
}
