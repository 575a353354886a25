import ArgumentParser
import FoundationEssentials
import LinuxSupport
import Reports
import SustainAPI
import SustainCore

extension SustainMeasure {
    /// The service's per-job carbon log, through its API: your own jobs, or every job for root and admins.
    struct ReportCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "List, show and export the jobs sustain-measured has logged; draw reports as HTML.",
            subcommands: [List.self, Show.self, Export.self, HTML.self, Compare.self, Merge.self, Cluster.self]
        )
    }
}

/// The socket and the filters shared by the report subcommands.
struct LogOptions: ParsableArguments {
    @Option(help: ArgumentHelp("sustain-measured's socket (default: [daemon] socket).", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("Only this user's jobs (admins).", valueName: "name")) var user: String?
    @Option(help: ArgumentHelp("Only jobs started since (ISO 8601, 2026-01-31T00:00:00Z).", valueName: "date"))
    var since: String?
    @Option(help: ArgumentHelp("Only jobs with this label.", valueName: "key=value")) var label: String?
    @Option(help: ArgumentHelp("Only the period reports of this watched server ([[watch]]).", valueName: "name"))
    var watch: String?
    @Option(help: ArgumentHelp("At most this many finished jobs.", valueName: "n")) var limit: Int = 1000

    @OptionGroup var carbon: CarbonOptions

    @Option(
        help: ArgumentHelp(
            "As root with the daemon down: the carbon log to read directly (default: [daemon] database).",
            valueName: "path"))
    var database: String?

    /// The API's answer to `GET target`; as root with the daemon down, the database's own answer (finished jobs
    /// only), from `sustain-measured query` so this binary stays free of SQLite.
    func get(_ target: String) throws -> [UInt8] {
        let path = try socket ?? carbon.configuration().daemon.socket
        let client = ServiceClient(socketPath: path)
        guard client.isReachable else {
            if CurrentProcess.effectiveUID == 0 {
                let file = try database ?? carbon.configuration().daemon.database
                Terminal.warning(
                    "sustain-measured is not running at \(path): reading \(file) directly (finished jobs only).")
                return try Self.queryDatabase(target, database: file)
            }
            throw ValidationError(
                "sustain-measured is not reachable at \(path): start it (see README) or pass --socket.")
        }
        do {
            return try client.get(target)
        } catch {
            throw ValidationError("\(error).")
        }
    }

    /// Runs `sustain-measured query --database FILE TARGET` (next to this executable, else /usr/local/bin or
    /// /usr/bin) and returns what it prints; its errors reach stderr as they are.
    static func queryDatabase(_ target: String, database: String) throws -> [UInt8] {
        var candidates = ["/usr/local/bin/sustain-measured", "/usr/bin/sustain-measured"]
        if let own = CurrentProcess.executablePath {
            candidates.insert(
                own.split(separator: "/").dropLast().map { "/" + $0 }.joined() + "/sustain-measured", at: 0)
        }
        guard let executable = candidates.first(where: CurrentProcess.canExecute) else {
            throw ValidationError(
                "Cannot read the carbon log without the daemon: sustain-measured is not installed "
                    + "(looked in \(candidates.joined(separator: ", "))).")
        }
        let result: (status: ExitStatus, output: [UInt8])
        do {
            result = try ChildProcess.output(of: executable, arguments: ["query", "--database", database, target])
        } catch {
            throw ValidationError("Cannot run \(executable): \(error).")
        }
        guard result.status == .exited(0) else { throw ExitCode(1) }  // the query said why on stderr
        return result.output
    }

    /// A finished job's report, from the service (or, as root with it down, the database).
    func report(_ id: String) throws -> Report { try Report.decode(Data(try get(APIRoute.job(id)))) }

    /// The jobs the filters select: running ones (from the service) and finished ones.
    func jobs() throws -> JobList {
        let query: JobQuery
        if watch != nil, label != nil { throw ValidationError("--watch and --label: give one.") }
        do {
            query = try JobQuery(user: user, since: since, label: watch.map { "watch=\($0)" } ?? label, limit: limit)
        } catch {
            throw ValidationError("--\(error.description)")
        }
        do {
            return try APICoding.decode(JobList.self, from: get(query.target))
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("sustain-measured sent a job list that could not be read: \(error).")
        }
    }
}

extension SustainMeasure.ReportCommand {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List running and finished jobs.")
        @OptionGroup var options: LogOptions

        func run() throws {
            let jobs = try options.jobs()
            if options.watch != nil { return try watchTable(jobs.finished) }
            var rows = [["id", "user", "state", "started (UTC)", "exit", "energy", "CO2e", "command"]]
            for job in jobs.running.map(JobSummary.init) + jobs.finished {
                // Users choose their commands (and the ids and names they send): escaped for root's terminal.
                let command = job.command.joined(separator: " ")
                // Typed: an untyped literal of ten optional chains took 4 s of the build to type-check.
                let row: [String] = [
                    job.id, job.user, job.state,
                    job.startedAt.formatted(Date.ISO8601FormatStyle(timeZone: .gmt)),
                    job.exitCode.map(String.init) ?? "-", job.joules.map(Quantity.energy) ?? "not measured",
                    job.kgCo2e.map(Quantity.carbon) ?? "-", String(command.prefix(40)),
                ]
                rows.append(row.map(\.escapingControlCharacters))
            }
            Self.printTable(rows)
        }

        /// A watched server's periods: its energy, units and cost per unit, from each period's report.
        func watchTable(_ periods: [JobSummary]) throws {
            let reports = try periods.map { try options.report($0.id) }
            let unit = reports.compactMap { $0.units?.unit }.first ?? "unit"
            var rows = [
                [
                    "id", "started (UTC)", "hours", "energy", "\(unit)s", "J/\(unit)", "g CO2e/\(unit)",
                    "SCI g/\(unit)", "missing",
                ]
            ]
            for report in reports {
                let units = report.units
                let format: (Double?, Double) -> String = { value, scale in
                    value.map { Quantity.significant($0 * scale) } ?? "-"
                }
                let missing = units?.missing.count ?? 0
                let row: [String] = [
                    report.id, report.startedAt.formatted(Date.ISO8601FormatStyle(timeZone: .gmt)),
                    Quantity.fixed(report.durationSeconds / 3600, 2),
                    units?.joules.map(Quantity.energy) ?? "not measured",
                    units?.count.map { Quantity.fixed($0, 0) } ?? "-",
                    format(units?.joulesPerUnit, 1), format(units?.kgCo2ePerUnit, 1000),
                    format(units?.sci?.gramsPerUnit, 1), missing == 0 ? "" : "\(missing) (see report show)",
                ]
                rows.append(row.map(\.escapingControlCharacters))
            }
            Self.printTable(rows)
        }

        static func printTable(_ rows: [[String]]) {
            let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                print(
                    row.enumerated().map { $1 + String(repeating: " ", count: widths[$0] - $1.count) }.joined(
                        separator: "  "))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one job's full report (JSON).")
        @Argument(help: "Job id.") var id: String?
        @Option(help: ArgumentHelp("The job the SLURM prolog registered for this SLURM job id.", valueName: "id"))
        var slurmJob: String?
        @OptionGroup var options: LogOptions

        func validate() throws {
            guard (id == nil) != (slurmJob == nil) else { throw ValidationError("Give a job id, or --slurm-job ID.") }
            if let slurmJob, !slurmJob.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "_") }) {
                throw ValidationError(
                    "--slurm-job takes a SLURM job id (digits), got \(slurmJob.escapingControlCharacters).")
            }
        }

        func run() throws {
            var target = id
            if let slurmJob {
                var filtered = options
                filtered.label = "slurm_job_id=\(slurmJob)"
                let jobs = try filtered.jobs()
                // The registration that counts the node's energy: not `counted_in` another (ranks' wrappers inside a
                // job the prolog registered are), the earliest of them.
                let candidates =
                    jobs.finished.sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }.map(\.id)
                    + jobs.running.map(\.id).sorted()
                guard !candidates.isEmpty else {
                    throw ValidationError(
                        "No job for SLURM job \(slurmJob) in sustain-measured's log (was the prolog set up on this node?)."
                    )
                }
                for candidate in candidates {
                    let body = try options.get(APIRoute.job(candidate))
                    if (try? Report.decode(Data(body)))?.countedIn == nil {
                        print(String(decoding: body, as: UTF8.self))
                        return
                    }
                }
                target = candidates.first
            }
            guard let target else { return }
            print(String(decoding: try options.get(APIRoute.job(target)), as: UTF8.self))
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export finished jobs as JSON, CSV or CodeCarbon's emissions.csv.",
            discussion: """
                Jobs come from the service (the filters below), or from report files given as arguments. \
                --format codecarbon writes the columns of CodeCarbon \(CodeCarbonCSV.version)'s emissions.csv, one \
                row per job; what sustain does not know is left empty, never 0.
                """)
        @Option(help: "json, csv, codecarbon, or for an experiment csv or markdown.") var format: String = "json"
        @Argument(
            help: ArgumentHelp(
                "Report files (--format codecarbon) or one experiment (--format csv or markdown) to export instead "
                    + "of the service's jobs.", valueName: "file"))
        var files: [String] = []
        @OptionGroup var options: LogOptions

        func validate() throws {
            guard ["json", "csv", "codecarbon", "markdown"].contains(format) else {
                throw ValidationError("--format must be json, csv, codecarbon or markdown.")
            }
            if format == "markdown" && files.count != 1 {
                throw ValidationError("--format markdown exports one experiment file: give its path.")
            }
            if !files.isEmpty && format == "json" {
                throw ValidationError(
                    "Files are exported with --format codecarbon (reports), csv or markdown (experiments).")
            }
        }

        func run() throws {
            if format == "csv" || format == "markdown", !files.isEmpty {
                guard files.count == 1 else { throw ValidationError("Give one experiment file to export.") }
                let experiment: Experiment
                do {
                    experiment = try Experiment.decode(Data(contentsOf: URL(fileURLWithPath: files[0])))
                } catch {
                    throw ValidationError(
                        "\(files[0].escapingControlCharacters) is not a sustain.experiment.v1 file: \(error).")
                }
                print(format == "csv" ? experiment.csv() : experiment.markdown(), terminator: "")
                return
            }
            if format == "codecarbon" {
                let reports =
                    files.isEmpty
                    ? try options.jobs().finished.map { try options.report($0.id) }
                    : try files.map(loadReport)
                print(CodeCarbonCSV.document(reports), terminator: "")
                return
            }
            let jobs = try options.jobs().finished
            if format == "json" {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(jobs), as: UTF8.self))
                return
            }
            print("id,uid,user,started_at,ended_at,exit_code,joules,kg_co2e,labels,command")
            for job in jobs {
                let labels = job.labels.sorted { $0.key < $1.key }.map {
                    "\($0.key)=\($0.value)".escapingControlCharacters
                }.joined(
                    separator: ";")
                let fields: [String] = [
                    job.id, String(job.uid), job.user, job.startedAt.formatted(.iso8601),
                    job.endedAt?.formatted(.iso8601) ?? "", job.exitCode.map(String.init) ?? "",
                    job.joules.map { String($0) } ?? "", job.kgCo2e.map { String($0) } ?? "", labels,
                    job.command.joined(separator: " ").escapingControlCharacters,
                ]
                print(fields.map(CodeCarbonCSV.field).joined(separator: ","))
            }
        }
    }
}

/// A report file, or a clear error: unreadable, or not a sustain.report.v1.
func loadReport(_ path: String) throws -> Report {
    let data: Data
    do {
        data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw ValidationError("Cannot read \(path.escapingControlCharacters): \(error).")
    }
    do {
        return try Report.decode(data)
    } catch {
        throw ValidationError("\(path.escapingControlCharacters) is not a sustain.report.v1 report: \(error).")
    }
}

extension SustainMeasure.ReportCommand {
    struct HTML: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "html",
            abstract: "Write one self-contained HTML page: one report, or a comparison of several.",
            discussion: """
                Each argument is a report file (sustain.report.v1 JSON) or the id of a job the service logged. \
                The page loads nothing from the network: open it offline, attach it to a paper or a model card.
                """)

        @Argument(help: ArgumentHelp("Report files or job ids.", valueName: "report.json|job-id"))
        var reports: [String]

        @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the page (- for stdout).", valueName: "file"))
        var output: String = "-"

        @OptionGroup var options: LogOptions

        func validate() throws {
            if reports.isEmpty { throw ValidationError("Give at least one report file or job id.") }
            if output != "-", let kind = SafeFile.kind(of: output), kind != .regular {
                throw ValidationError("-o \(output) is \(kind.rawValue), not a regular file: it will not be replaced.")
            }
        }

        func run() throws {
            // An experiment has a page of its own.
            if reports.count == 1, SafeFile.kind(of: reports[0]) == .regular,
                let data = try? Data(contentsOf: URL(fileURLWithPath: reports[0])),
                let experiment = try? Experiment.decode(data)
            {
                try write(Array(HTMLReport.page(for: experiment).utf8), count: "an experiment")
                return
            }
            var loaded: [Report] = []
            for argument in reports {
                if SafeFile.kind(of: argument) != nil {
                    loaded.append(try loadReport(argument))
                } else if argument.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) {
                    loaded.append(try options.report(argument))
                } else {
                    throw ValidationError("\(argument.escapingControlCharacters): no such file, and not a job id.")
                }
            }
            try write(Array(HTMLReport.page(for: loaded).utf8), count: "\(loaded.count) report(s)")
        }

        func write(_ page: [UInt8], count: String) throws {
            if output == "-" {
                try page.withUnsafeBytes { try writeAll(1, $0) }
                return
            }
            do {
                try SafeFile.replace(output, with: page, mode: 0o644, createDirectories: true)
            } catch {
                throw ValidationError("Cannot write \(output): \(error). Choose another -o path.")
            }
            Terminal.error("sustain-measure: wrote \(output) (\(page.count / 1024) KiB, \(count))")
        }
    }
}

extension SustainMeasure.ReportCommand {
    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge the reports of one job's nodes into one report (nodes[], energy and carbon summed).",
            discussion: """
                The same host and report given twice is counted once, and said. With --nodes (the job's SLURM node \
                list, e.g. gpu[01-04,07]) the nodes that sent no report are named and the total is marked \
                incomplete.
                """)

        @Argument(help: ArgumentHelp("The nodes' report files.", valueName: "report.json"))
        var files: [String]

        @Option(
            name: .shortAndLong,
            help: ArgumentHelp("Where to write the merged report (- for stdout).", valueName: "file"))
        var output: String = "-"

        @Option(help: ArgumentHelp("The job's node list, as SLURM writes it.", valueName: "list"))
        var nodes: String?

        func validate() throws {
            if files.isEmpty { throw ValidationError("Give the nodes' report files.") }
            if let nodes {
                do throws(SlurmHostList.Malformed) {
                    _ = try SlurmHostList.expand(nodes)
                } catch {
                    throw ValidationError("--nodes: \(error).")
                }
            }
        }

        func run() throws {
            let reports = try files.map(loadReport)
            let expected = try nodes.map { list throws(SlurmHostList.Malformed) in try SlurmHostList.expand(list) }
            guard let merged = Report.merge(reports, expected: expected) else { return }
            do {
                try merged.write(to: output)
            } catch {
                throw ValidationError("\(error)")
            }
            if output != "-" {
                Terminal.error(
                    "sustain-measure: merged \(merged.nodes?.count ?? 0) node report(s) into \(output): "
                        + "\(merged.energy.joules.map(Quantity.energy) ?? "not measured")"
                        + (merged.missingNodes.flatMap {
                            $0.isEmpty ? nil : " (INCOMPLETE: \($0.count) node(s) missing)"
                        }
                            ?? ""))
            }
        }
    }
}
