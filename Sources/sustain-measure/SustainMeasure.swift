import ArgumentParser
import LinuxSupport

@main
struct SustainMeasure: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sustain-measure",
        abstract: "Measure the energy a command uses, from RAPL counters and hardware sensors.",
        discussion: """
            Runs CMD with its own stdin, stdout, stderr and environment, samples every readable energy counter \
            and power sensor from just before it starts until just after it ends, and writes a JSON report. \
            Returns the command's exit code (128+N when it was killed by signal N).
            """,
        version: "0.1.0",
        subcommands: [
            Run.self, MarkCommand.self, AttachCommand.self, Sources.self, Estimate.self, Compare.self,
            ReportCommand.self, Slurm.self,
            IntensityCommand.self,
        ],
        defaultSubcommand: Run.self
    )

    /// The command after `--`, byte for byte, as the kernel passed it (nil without `--`).
    static let wrappedCommand = RawArguments.split(RawArguments.current()).command

    static func main() {
        // The parser sees the options and the command's first word only: its handling of the words after `--`
        // is quadratic (10,000 arguments took 5 s), and it would see them as repaired text.
        let arguments = RawArguments.split(RawArguments.current()).parserArguments
        // `sustain-measure [options] -- CMD` is the default command: parsed as `run` alone, the parser does not
        // build (by reflection) the tree of every subcommand, a third of the wrapper's start-up.
        if let first = arguments.first, !Self.rootWords.contains(first) {
            Run.main(arguments)
            return
        }
        main(arguments)
    }

    /// What the root command itself handles: its subcommands, help and version.
    static let rootWords: Set<String> = [
        "run", "mark", "attach", "sources", "estimate", "compare", "report", "slurm", "intensity", "help", "-h",
        "--help",
        "--version",
        "--generate-completion-script", "--experimental-dump-help",
    ]
}
