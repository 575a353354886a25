import ArgumentParser
import FoundationEssentials
import Glibc
import Impact
import LinuxSupport
import Meter
import Reports
import SustainCore

extension SustainMeasure.Run {
    /// `--label key=value` as a dictionary, with SLURM's job id added when the job runs under SLURM.
    func jobLabels() throws -> [String: String] {
        var result: [String: String] = [:]
        for label in labels {
            let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ValidationError("--label must be key=value, got \(label).")
            }
            result[parts[0]] = parts[1]
        }
        if result["slurm_job_id"] == nil, let slurm = getenv("SLURM_JOB_ID") {
            result["slurm_job_id"] = String(cString: slurm)
        }
        return result
    }

    /// Runs the command measured by sustain-measured: registers the job (this process's pid), runs the child,
    /// reports its exit, and prints the daemon's report. Never returns: throws the child's exit code.
    func runThroughDaemon(_ client: UnixHTTPClient, executable: [UInt8], carbonSettings: CarbonSettings) throws -> Never
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let recorded = recorded.truncated()  // any command runs; what the service stores of it is bounded
        let start = DaemonJobStart(
            command: recorded.text, commandBase64: recorded.base64, commandWords: recorded.truncatedFrom,
            pid: getpid(), labels: try jobLabels())
        let started: DaemonJob
        do {
            let response = try client.send("POST", "/v1/jobs", json: Array(try encoder.encode(start)))
            guard response.status == 201 else {
                throw DaemonProblem(
                    "sustain-measured refused the job (\(response.status)): \(Self.message(response.body))")
            }
            started = try JSONDecoder().decode(DaemonJob.self, from: Data(response.body))
        } catch {
            // The command has not started: measure here instead.
            Terminal.warning("\(error); measuring here instead.")
            throw DaemonFallback()
        }
        let startedAt = Date()
        let child: ChildProcess
        do {
            child = try ChildProcess(executable: executable, arguments: wrapped)
        } catch {
            _ = try? client.send("POST", "/v1/jobs/\(started.id)/stop", json: Array("{\"exit_code\": 127}".utf8))
            Terminal.error("sustain-measure: \(error)")
            throw ExitCode(error.shellCode)
        }
        var received: [Int32] = []
        let exit = child.wait { received.append($0.signal) }
        let stop = DaemonJobStop(
            exitCode: { if case .exited(let code) = exit { code } else { nil } }(),
            signal: { if case .signaled(let signal) = exit { signal } else { nil } }(),
            signalsReceived: received.map(SignalName.of),
            interrupted: received.contains { ChildProcess.interruptingSignals.contains($0) })
        var result: Report
        do {
            let response = try client.send("POST", "/v1/jobs/\(started.id)/stop", json: Array(try encoder.encode(stop)))
            guard response.status == 200 else {
                throw DaemonProblem("sustain-measured answered \(response.status): \(Self.message(response.body))")
            }
            result = try Report.decode(Data(response.body))
            if carbon.region != nil || carbon.intensity != nil || carbon.pue != nil || carbon.price != nil {
                result.carbon = Report.Carbon(
                    CarbonAssessment(energy: result.energy.joules.map(Joules.init), settings: carbonSettings))
            }
        } catch {
            result = incompleteReport(
                id: started.id, startedAt: startedAt, exit: stop, usage: child.usage, carbonSettings: carbonSettings,
                reason: "\(error)")
        }
        let path = report ?? ReportLocation.defaultPath(id: result.id)
        var written: String? = path
        do {
            try result.write(to: path)
        } catch {
            Terminal.error("sustain-measure: \(error)")
            written = nil
        }
        if !quiet { Terminal.write(result.summary(reportPath: written)) }
        throw ExitCode(exit.shellCode)
    }

    /// The report when the daemon stopped answering mid-job: the exit is known, the energy is not.
    func incompleteReport(
        id: String, startedAt: Date, exit: DaemonJobStop, usage: ResourceUsage?, carbonSettings: CarbonSettings,
        reason: String
    ) -> Report {
        let measurement = MeasurementResult(
            channels: [], interval: .zero, intervalLimit: nil,
            duration: .seconds(fractional: Date().timeIntervalSince(startedAt)),
            samples: 0, peakPower: nil, samplerCPUSeconds: 0, warnings: [])
        let facts = JobFacts(
            id: id, command: recorded, exitCode: exit.exitCode, signal: exit.signal,
            signalsReceived: exit.signalsReceived, interrupted: exit.interrupted, startedAt: startedAt, endedAt: Date(),
            host: Report.Host.current(), usage: usage)
        var report = Report(job: facts, measurement: measurement, sources: [], carbon: carbonSettings)
        report.measuredBy = "sustain-measured"
        report.warnings.insert(
            "INCOMPLETE: sustain-measured stopped answering during the job (\(reason)); its energy is unknown.", at: 0)
        return report
    }

    static func message(_ body: [UInt8]) -> String {
        (try? JSONDecoder().decode([String: String].self, from: Data(body)))?["error"]
            ?? String(decoding: body.prefix(200), as: UTF8.self)
    }
}

/// The daemon could not take the job before the command started.
struct DaemonFallback: Error {}

struct DaemonProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `POST /v1/jobs` body (see the README's API section).
struct DaemonJobStart: Encodable {
    var command: [String]
    var commandBase64: [String]?
    var commandWords: Int?
    var pid: Int32
    var labels: [String: String]

    enum CodingKeys: String, CodingKey {
        case command
        case commandBase64 = "command_base64"
        case commandWords = "command_words"
        case pid, labels
    }
}

struct DaemonJob: Decodable {
    var id: String
}

/// `POST /v1/jobs/{id}/stop` body.
struct DaemonJobStop: Encodable {
    var exitCode: Int32?
    var signal: Int32?
    var signalsReceived: [String]
    var interrupted: Bool

    enum CodingKeys: String, CodingKey {
        case exitCode = "exit_code"
        case signal
        case signalsReceived = "signals_received"
        case interrupted
    }
}

/// Whether a service socket is expected at a path.
enum ServiceSocket {
    /// True when something stands at the socket's path or its directory exists (systemd's RuntimeDirectory=):
    /// the service is installed, so a wrapper that cannot reach it must say so.
    static func looksInstalled(_ path: String) -> Bool {
        if SafeFile.kind(of: path) != nil { return true }
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return false }
        return SafeFile.kind(of: String(path[..<slash])) == .directory
    }
}
