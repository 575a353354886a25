import ArgumentParser
import LinuxSupport
import SustainAPI
import SustainConfiguration
import SustainCore

extension SustainMeasure {
    /// `sustain-measure mark begin|end NAME`, `mark NAME`: tells the wrapper measuring this job where a phase starts
    /// or ends, through `SUSTAIN_MARKS`. Never blocks: outside a job, or when the mark cannot be delivered, it says
    /// so at once and exits 1.
    struct MarkCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mark",
            abstract: "Mark a phase of the job this runs in: mark begin NAME, mark end NAME, mark NAME (an event); "
                + "or count a watched server's units: mark count WATCH N.",
            discussion: """
                Inside `sustain-measure -- CMD`, the report then gives each phase's energy, carbon and energy per \
                unit. Without this binary: echo "begin train" > "$SUSTAIN_MARKS".

                `mark count WATCH N` tells the service that the server watched as WATCH ([[watch]] in its \
                configuration) served N more units of work (tokens, requests), for servers without a Prometheus \
                counter of their own. Run it from a process of the server (or as root or an admin).
                """)

        @Argument(help: ArgumentHelp("begin NAME, end NAME, NAME for an event, or count WATCH N.", valueName: "words"))
        var words: [String] = []

        @Option(
            help: ArgumentHelp("With count: sustain-measured's socket (default: [daemon] socket).", valueName: "path"))
        var socket: String?

        @Option(help: ArgumentHelp("With end: the work the phase did (4096).", valueName: "n")) var units: Double?
        @Option(help: ArgumentHelp("With end: what --units counts (tokens, samples, steps).", valueName: "word"))
        var unit: String?

        /// `count WATCH N`: the watch and the units, checked.
        func count() throws -> (watch: String, units: Double)? {
            guard words.first == "count" else { return nil }
            guard words.count == 3, let units = Double(words[2]), units.isFinite, units >= 0, units <= 1e15 else {
                throw ValidationError("Use mark count WATCH N, N a number of units from 0 to 1e15.")
            }
            return (words[1], units)
        }

        /// The mark's line, validated as the wrapper will read it.
        func line() throws -> String {
            var parts = words
            if let units {
                guard parts.first == "end" else { throw ValidationError("--units goes with mark end NAME.") }
                parts.append("units=\(units)")
            }
            if let unit {
                guard parts.first == "end" else { throw ValidationError("--unit goes with mark end NAME.") }
                parts.append("unit=\(unit)")
            }
            let line = parts.joined(separator: " ")
            do {
                _ = try Mark.parse(Array(line.utf8))
            } catch {
                throw ValidationError("Not a mark (\(error)): use mark begin NAME, mark end NAME or mark NAME.")
            }
            return line
        }

        func validate() throws {
            if try count() == nil { _ = try line() }
        }

        func run() throws {
            if let (watch, units) = try count() {
                let path: String
                do {
                    path =
                        try socket
                        ?? Configuration.load(explicit: nil, environment: CurrentProcess.environment).daemon.socket
                } catch {
                    throw ValidationError("\(error)")
                }
                do {
                    try ServiceClient(socketPath: path, timeoutSeconds: 5).count(units, watch: watch)
                } catch {
                    Terminal.error("sustain-measure mark count: \(error).")
                    throw ExitCode(1)
                }
                return
            }
            guard let path = CurrentProcess.variable("SUSTAIN_MARKS"), !path.isEmpty else {
                Terminal.error(
                    "sustain-measure mark: no job to mark: SUSTAIN_MARKS is not set (run this inside "
                        + "`sustain-measure -- CMD`).")
                throw ExitCode(1)
            }
            do {
                try MarkPipe.send(Array(try line().utf8), to: path)
            } catch let error as MarkDeliveryError {
                Terminal.error("sustain-measure mark: \(error).")
                throw ExitCode(1)
            }
        }
    }
}
