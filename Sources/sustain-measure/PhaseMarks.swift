import FoundationEssentials
import LinuxSupport
import Meter
import SustainAPI
import SustainCore

/// The wrapper's side of phase marks: the FIFO the child writes to (`SUSTAIN_MARKS`) and the log that turns each
/// mark into a fresh reading.
struct PhaseMarks {
    let pipe: MarkPipe
    let log: PhaseLog

    /// Opens the channel once the sampler has its first sample, and names it to the child; nil (said) when it
    /// cannot be made: the job still runs and is measured, without phases.
    /// `observe` is told of each timed mark at its reading (the power tuner's steps).
    static func open(
        sampler: Sampler, observe: (@Sendable (Mark, SamplerCheckpoint) -> Void)? = nil
    ) -> PhaseMarks? {
        CurrentProcess.removeVariable("SUSTAIN_MARKS")  // an outer job's channel is not this job's
        guard let first = sampler.latestCheckpoint else { return nil }
        let log = PhaseLog(sampler: sampler, first: first)
        return channel { line, instant in
            if let placed = log.record(line, at: MonotonicInstant(nanoseconds: instant)) {
                observe?(placed.mark, placed.at)
            }
        }.map {
            PhaseMarks(pipe: $0, log: log)
        }
    }

    /// For a job the service measures: the FIFO, its marks relayed to the service in batches, each with the
    /// instant it was read (the service places it there). Nil (said) when the channel cannot be made.
    static func relay(to client: ServiceClient, job id: String) -> (pipe: MarkPipe, relay: MarkRelay)? {
        CurrentProcess.removeVariable("SUSTAIN_MARKS")
        let relay: MarkRelay
        do {
            relay = try MarkRelay(client: ServiceClient(socketPath: client.socketPath, timeoutSeconds: 5), job: id)
        } catch {
            Terminal.warning("phase marks are off for this job: \(error)")
            return nil
        }
        guard let pipe = channel({ relay.enqueue($0, at: $1) }) else {
            _ = relay.finish()
            return nil
        }
        return (pipe, relay)
    }

    /// The FIFO under `$XDG_RUNTIME_DIR` (else /tmp), read on its own thread into `received` (each line with the
    /// monotonic instant it was read), and named to the child in `SUSTAIN_MARKS`; nil, said once, when it cannot
    /// be made (nothing is left behind).
    private static func channel(_ received: @escaping @Sendable ([UInt8], UInt64) -> Void) -> MarkPipe? {
        let runtime = CurrentProcess.variable("XDG_RUNTIME_DIR").flatMap { $0.hasPrefix("/") ? $0 : nil }
        let pipe: MarkPipe
        do {
            pipe = try MarkPipe(base: runtime ?? "/tmp")
        } catch {
            Terminal.warning("phase marks are off for this job: \(error)")
            return nil
        }
        do {
            try pipe.start(received)
        } catch {
            pipe.finish()
            Terminal.warning("phase marks are off for this job: \(error)")
            return nil
        }
        CurrentProcess.setVariable("SUSTAIN_MARKS", pipe.path)
        return pipe
    }

    /// Closes what is still open at the sampler's last sample.
    func finish(sampler: Sampler) -> PhaseSummary? {
        guard let end = sampler.latestCheckpoint else { return nil }
        return log.finish(at: end)
    }
}
