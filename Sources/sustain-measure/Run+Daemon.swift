import ArgumentParser
import FoundationEssentials
import Impact
import LinuxSupport
import Meter
import Reports
import SustainAPI
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
        // SLURM's job id, when it is one (digits, `_` for arrays): a label that any value could fill would let a
        // job pass for another in `report show --slurm-job` and `report cluster`.
        if result["slurm_job_id"] == nil, let slurm = CurrentProcess.variable("SLURM_JOB_ID"), !slurm.isEmpty,
            slurm.utf8.count <= 32, slurm.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "_") })
        {
            result["slurm_job_id"] = slurm
        }
        return result
    }

    /// Runs the command measured by sustain-measured: registers the job (this process's pid), runs the child,
    /// reports its exit, and prints the daemon's report. Never returns: throws the child's exit code.
    func runThroughDaemon(
        _ client: ServiceClient, executable: [UInt8], carbonSettings: CarbonSettings, outputs: Outputs
    ) throws -> Never {
        let recorded = recorded.truncated()  // any command runs; what the service stores of it is bounded
        // The user's carbon settings and series travel with the job: the service computes and stores the one
        // figure, and this wrapper writes what the service returns.
        let request = try carbon.request()
        let start = JobStart(
            command: recorded.text, commandBase64: recorded.base64, commandWords: recorded.truncatedFrom,
            pid: CurrentProcess.pid, labels: try jobLabels(), carbon: request.isEmpty ? nil : request,
            startAtMark: startAtMark, powerLimits: powerLimits.isEmpty ? nil : powerLimits, powerTuning: powerTuning)
        let started: RunningJob
        do {
            started = try client.start(start)
        } catch {
            // Never the job without the limits it asked for.
            if !powerLimits.isEmpty || powerTuning != nil {
                throw ValidationError(
                    "sustain-measured did not set \(controlOptions): \(error); nothing ran.")
            }
            // The command has not started: measure here instead.
            Terminal.warning("\(error); measuring here instead.")
            throw DaemonFallback()
        }
        let startedAt = Date()
        // The job's marks go to the service as they come: it takes each as a fresh reading.
        let relay = PhaseMarks.relay(to: client, job: started.id)
        if !metrics.isEmpty {
            _ = try? client.mark(JobMarks(marks: metrics.map { "metric \($0)" }), job: started.id)  // stored with it
        }
        let child: ChildProcess
        do {
            child = try ChildProcess(executable: executable, arguments: wrapped)
        } catch {
            relay?.pipe.finish()
            _ = relay?.relay.finish()
            _ = try? client.stop(started.id, JobStop(exitCode: 127))
            Terminal.error("sustain-measure: \(error)")
            throw ExitCode(error.shellCode)
        }
        var received: [Int32] = []
        let exit = child.wait { received.append($0.signal) }
        let endedAt = MarkPipe.monotonicNanoseconds()
        // The marks written before the command ended go to the service before the stop, within a deadline; the
        // stop names the instant the command ended, so that the time they take is not the job's.
        relay?.relay.commandEnded(at: endedAt)
        relay?.pipe.finish()
        let shed = relay?.relay.finish()
        let stop = JobStop(
            exitCode: { if case .exited(let code) = exit { code } else { nil } }(),
            signal: { if case .signaled(let signal) = exit { signal } else { nil } }(),
            signalsReceived: received.map(CurrentProcess.signalName),
            interrupted: received.contains { ChildProcess.interruptingSignals.contains($0) },
            endedAtMonotonic: endedAt, marksShed: shed)
        var result: Report
        do {
            result = try Report.decode(Data(try client.stop(started.id, stop)))
        } catch {
            result = incompleteReport(
                id: started.id, startedAt: startedAt, exit: stop, usage: child.usage, carbonSettings: carbonSettings,
                reason: "\(error)")
        }
        let written = writeReport(result, to: outputs)
        writeHTML(result, to: outputs)
        if !quiet { Terminal.write(result.summary(reportPath: written)) }
        throw ExitCode(exit.shellCode)
    }

    /// The report when the daemon stopped answering mid-job: the exit is known, the energy is not.
    func incompleteReport(
        id: String, startedAt: Date, exit: JobStop, usage: ResourceUsage?, carbonSettings: CarbonSettings,
        reason: String
    ) -> Report {
        let measurement = MeasurementResult(
            channels: [], interval: .zero, intervalLimit: nil,
            duration: .seconds(fractional: Date().timeIntervalSince(startedAt)),
            samples: 0, peakPower: nil, samplerCPUSeconds: 0, warnings: [])
        let facts = JobFacts(
            id: id, command: recorded, exitCode: exit.exitCode, signal: exit.signal,
            signalsReceived: exit.signalsReceived ?? [], interrupted: exit.interrupted ?? false, startedAt: startedAt,
            endedAt: Date(),
            host: Report.Host.current(), usage: usage)
        var report = Report(job: facts, measurement: measurement, sources: [], carbon: carbonSettings)
        report.measuredBy = "sustain-measured"
        report.warnings.insert(
            "INCOMPLETE: sustain-measured stopped answering during the job (\(reason)); its energy is unknown.", at: 0)
        return report
    }
}

/// The daemon could not take the job before the command started.
struct DaemonFallback: Error {}

struct DaemonProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
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
