import ArgumentParser
import LinuxSupport
import Meter
import Reports
import SustainCore

extension SustainMeasure {
    struct Sources: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sources",
            abstract: "List the energy counters and sensors this machine offers, and why anything is missing."
        )

        @Flag(name: .long, help: "Log discovery details on stderr.")
        var verbose = false

        func run() throws {
            let logger = Terminal.bootstrapLogging(verbose: verbose)
            let sources = MachineSources.discover(environment: CurrentProcess.environment, logger: logger)
            var firstReadings: [ChannelID: MicrojouleCounter] = [:]
            for source in sources {
                for (index, channel) in source.channels.enumerated() where channel.unreadable == nil {
                    if case .counter(let value) = source.read(index) { firstReadings[channel.id] = value }
                }
            }
            let channels = sources.flatMap(\.channels)
            let decisions = DomainPolicy.decide(channels, firstReadings: firstReadings)
            var out = ""
            for source in sources {
                out += "\(source.name): \(source.channels.count) channel(s)\n"
                for channel in source.channels {
                    let state = channel.unreadable.map { "UNREADABLE (\($0))" } ?? "readable"
                    out += "  \(channel.id)  \(channel.name)  [\(channel.kind.rawValue), \(Self.quantity(channel))]"
                    out += "  \(state)\n"
                    if let decision = decisions[channel.id] {
                        out += "      \(decision.counted ? "counted" : "not counted"): \(decision.note)\n"
                    }
                    out += "      \(channel.path)\n"
                }
                for diagnostic in source.diagnostics { out += "  note: \(diagnostic)\n" }
            }
            let ranges = channels.compactMap { channel -> CounterRange? in
                guard channel.unreadable == nil, case .energyCounter(let range) = channel.quantity else { return nil }
                return range
            }
            let limits = channels.filter { $0.unreadable == nil }.compactMap(\.maximumInterval)
            let choice = SamplingInterval.choose(for: ranges, maximumIntervals: limits)
            out += "sampling interval: \(Quantity.duration(choice.interval.seconds))"
            if let limit = choice.limit {
                out +=
                    " (any interval up to \(Quantity.duration(limit.seconds)) keeps every counter from wrapping unseen)"
            }
            out += "\n"
            let unreadable = channels.filter { $0.isEnergy && $0.unreadable != nil }
            if !unreadable.isEmpty { out += "warning: " + Report.unreadableWarning(unreadable) + "\n" }
            if !channels.contains(where: { $0.isEnergy && $0.unreadable == nil }) {
                out +=
                    "nothing on this machine can be measured: reports will say energy.method \"estimated\" (from the "
                    + "command's CPU time and memory, marked ESTIMATED), or \"none\" with --no-estimate\n"
            }
            print(out, terminator: "")
        }

        static func quantity(_ channel: ChannelDescriptor) -> String {
            switch channel.quantity {
            case .energyCounter(let range):
                let max = range.maxMicrojoules.map { "range \(Quantity.energy(Joules(microjoules: $0).value))" }
                return ["energy counter", max].compactMap { $0 }.joined(separator: ", ")
            case .power: return "power"
            case .temperature: return "temperature"
            }
        }
    }
}
