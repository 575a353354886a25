import Foundation
import Logging
import Reports
import SustainTestSupport
import Testing

@testable import LinuxSupport
@testable import Meter

/// NVIDIA GPUs through the fake `libnvidia-ml.so.1` (`FakeNVML`), which simulates GPUs at known power;
/// `sustain-measure` loads it with dlopen through `SUSTAIN_NVML_LIBRARY`.
@Suite(.serialized, .enabled(if: FakeNVML.library != nil, Comment(rawValue: FakeNVML.skipped)))
struct NVMLTests {

    struct Run {
        var report: Report
        var status: Int32
        var stderr: String
        func domain(_ id: String) -> Report.Domain? { report.energy.domains.first { $0.id == id } }
        func gpu(_ index: Int) -> Report.GPU? { report.gpus.first { $0.index == index } }
    }

    static func measure(
        gpus: String, extraEnvironment: [String: String] = [:], command: [String] = ["/bin/sleep", "2"],
        library: String? = FakeNVML.library
    ) throws -> Run {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("r.json").path
        var environment = ProcessInfo.processInfo.environment
        environment["SUSTAIN_NVML_LIBRARY"] = library
        environment["FAKE_NVML_GPUS"] = gpus
        environment.removeValue(forKey: "CUDA_VISIBLE_DEVICES")
        for (key, value) in extraEnvironment { environment[key] = value }
        let outcome = try Harness.run(
            [Harness.product("sustain-measure"), "--no-daemon", "--report", path, "--"] + command,
            environment: environment)
        let report = try Report.decode(Data(contentsOf: URL(fileURLWithPath: path)))
        return Run(report: report, status: outcome.status, stderr: outcome.stderr)
    }

    static func relativeError(_ measured: Double?, _ injected: Double) -> Double {
        guard let measured else { return .infinity }
        return abs(measured - injected) / injected
    }

    @Test func energyCounterPathIsExact() throws {
        let run = try Self.measure(gpus: "300:counter")
        let gpu = try #require(run.domain("nvml:0"))
        #expect(gpu.source == "nvml")
        #expect(gpu.kind == "gpu")
        #expect(gpu.method == "counter")
        #expect(gpu.counted)
        #expect(Self.relativeError(gpu.joules, 300 * run.report.durationSeconds) < 0.005)
        #expect(run.gpu(0)?.method == "counter")
        #expect(run.gpu(0)?.driverVersion == "550.00-fake")
        #expect(run.gpu(0)?.uuid.hasPrefix("GPU-") == true)
        #expect(run.report.energy.method == "measured")
    }

    @Test func powerOnlyPathPollsAtTenHertzAndIntegrates() throws {
        let run = try Self.measure(gpus: "150:power")
        let gpu = try #require(run.domain("nvml:0"))
        #expect(gpu.method == "power-integration")
        #expect(run.report.sampling.intervalSeconds <= 0.1)
        #expect(gpu.samples >= 15)
        #expect(Self.relativeError(gpu.joules, 150 * run.report.durationSeconds) < 0.02)
        #expect(run.gpu(0)?.note.contains("A100/H100") == true)
    }

    @Test func aLongerRequestedIntervalIsShortenedForPowerPolling() throws {
        let run = try Self.measure(gpus: "150:power", extraEnvironment: [:], command: ["/bin/sleep", "1"])
        #expect(run.report.sampling.intervalLimitSeconds == 0.1)
    }

    @Test func missingLibraryIsANoteNotAFailure() throws {
        let run = try Self.measure(
            gpus: "300:counter", command: ["/bin/sh", "-c", "exit 3"], library: "/nonexistent/libnvidia-ml.so.1")
        #expect(run.status == 3)
        #expect(run.report.gpus.isEmpty)
        let nvml = try #require(run.report.sources.first { $0.name == "nvml" })
        #expect(nvml.diagnostics.contains { $0.contains("not found") })
    }

    @Test func initErrorIsReportedWithNVMLsMessage() throws {
        let run = try Self.measure(
            gpus: "300:counter", extraEnvironment: ["FAKE_NVML_INIT": "9"], command: ["/bin/true"])
        #expect(run.status == 0)
        let nvml = try #require(run.report.sources.first { $0.name == "nvml" })
        #expect(nvml.diagnostics.contains { $0.contains("Driver Not Loaded") }, "\(nvml.diagnostics)")
    }

    @Test func aGPULostMidRunIsMarkedAndTheOthersGoOn() throws {
        let run = try Self.measure(gpus: "300:counter,200:counter", extraEnvironment: ["FAKE_NVML_LOST": "1:0.8"])
        #expect(run.status == 0)
        let lost = try #require(run.domain("nvml:1"))
        #expect(lost.errors > 0)
        #expect(run.report.warnings.contains { $0.contains("nvml:1") && $0.contains("GPU lost") })
        // The energy up to the loss is kept; nothing after it is invented.
        let kept = try #require(lost.joules)
        #expect(kept > 200 * 0.7 && kept < 200 * 0.95, "\(kept)")
        let healthy = try #require(run.domain("nvml:0"))
        #expect(Self.relativeError(healthy.joules, 300 * run.report.durationSeconds) < 0.005)
    }

    @Test func gpusRunningTheJobsProcessesAreTheOnesCounted() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pidfile = directory.appendingPathComponent("pids").path
        // The job's shell writes its own pid: the fake reports it running on GPU 1.
        let run = try Self.measure(
            gpus: "300:counter,200:counter,100:counter",
            extraEnvironment: ["FAKE_NVML_PIDFILE": pidfile, "FAKE_NVML_PIDGPU": "1"],
            command: ["/bin/sh", "-c", "echo $$ > \(pidfile); sleep 2.5"])
        #expect(run.gpu(1)?.counted == true)
        #expect(run.gpu(0)?.counted == false)
        #expect(run.gpu(2)?.counted == false)
        #expect(run.gpu(1)?.note.contains("ran the job's processes") == true)
        #expect(Self.relativeError(run.report.energy.joules, 200 * run.report.durationSeconds) < 0.005)
    }

    @Test func otherwiseCUDAVisibleDevicesDecides() throws {
        let run = try Self.measure(
            gpus: "300:counter,200:counter", extraEnvironment: ["CUDA_VISIBLE_DEVICES": "1"],
            command: ["/bin/sleep", "1"])
        #expect(run.gpu(0)?.counted == false)
        #expect(run.gpu(1)?.counted == true)
        #expect(run.gpu(1)?.note.contains("CUDA_VISIBLE_DEVICES") == true)
        let byUUID = try Self.measure(
            gpus: "300:counter,200:counter",
            extraEnvironment: ["CUDA_VISIBLE_DEVICES": "GPU-fa4e0000-0000-0000-0000-000000000000"],
            command: ["/bin/sleep", "0.5"])
        #expect(byUUID.gpu(0)?.counted == true)
        #expect(byUUID.gpu(1)?.counted == false)
    }

    @Test func elseAllGPUsAreCountedAndSaySo() throws {
        let run = try Self.measure(gpus: "300:counter,200:power", command: ["/bin/sleep", "1"])
        let gpus = run.report.gpus
        #expect(gpus.count == 2)
        #expect(gpus.allSatisfy { $0.counted })
        #expect(gpus.allSatisfy { $0.note.contains("all GPUs") && $0.note.contains("whole-device") })
    }

    /// The daemon's case: one sampler, many jobs. Each job is charged the GPUs its own process tree ran on (else
    /// its CUDA_VISIBLE_DEVICES, else all), from the same running totals.
    @Test func aDaemonChargesEachJobTheGPUsItsOwnTreeRan() throws {
        let library = try #require(FakeNVML.library)
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pidfile = directory.appendingPathComponent("pids").path
        setenv("FAKE_NVML_GPUS", "300:counter,200:counter", 1)
        setenv("FAKE_NVML_PIDFILE", pidfile, 1)
        setenv("FAKE_NVML_PIDGPU", "1", 1)
        defer { for name in ["FAKE_NVML_GPUS", "FAKE_NVML_PIDFILE", "FAKE_NVML_PIDGPU"] { unsetenv(name) } }
        func child(_ environment: [String: String] = [:]) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sleep")
            process.arguments = ["30"]
            process.environment = environment
            try process.run()
            return process
        }
        let onGPU1 = try child()
        let nowhere = try child()
        let told0 = try child(["CUDA_VISIBLE_DEVICES": "0"])
        defer { for process in [onGPU1, nowhere, told0] { kill(process.processIdentifier, SIGKILL) } }
        try "\(onGPU1.processIdentifier)\n".write(toFile: pidfile, atomically: true, encoding: .utf8)

        let logger = Logger(label: "test")
        let source = NVMLSource(library: library, visibleDevices: nil, logger: logger)
        let sampler = try Sampler(
            sources: [source], requestedInterval: .milliseconds(50), publishesCheckpoints: true, logger: logger)
        try sampler.start()
        defer { _ = sampler.stop() }
        for process in [onGPU1, nowhere, told0] { sampler.watch(jobRoot: process.processIdentifier) }
        let start = try #require(sampler.checkpoint())
        Thread.sleep(forTimeInterval: 1.5)  // GPU process lists are checked once a second
        let end = try #require(sampler.checkpoint())
        let seconds = start.instant.seconds(to: end.instant)

        func charged(_ process: Process) -> (gpus: [String], watts: Double?) {
            let visible = ProcessIdentity.environmentVariable("CUDA_VISIBLE_DEVICES", of: process.processIdentifier)
            let result = sampler.measurement(
                from: start, to: end, job: JobAttribution(root: process.processIdentifier, visibleDevices: visible))
            return (
                result.counted.map(\.descriptor.id.rawValue).sorted(),
                result.countedEnergy.map { $0.value / seconds }
            )
        }
        let ran = charged(onGPU1)
        #expect(ran.gpus == ["nvml:1"])
        #expect(abs((ran.watts ?? 0) - 200) < 1, "\(String(describing: ran.watts)) W")
        let told = charged(told0)
        #expect(told.gpus == ["nvml:0"], "CUDA_VISIBLE_DEVICES read from the job's own environment")
        #expect(abs((told.watts ?? 0) - 300) < 1.5)
        let unknown = charged(nowhere)
        #expect(unknown.gpus == ["nvml:0", "nvml:1"])
        #expect(abs((unknown.watts ?? 0) - 500) < 2.5)
    }
}
