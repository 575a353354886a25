import ArgumentParser
import FoundationEssentials
import LinuxSupport
import Reports
import SustainAPI
import SustainCore

extension SustainMeasure.ReportCommand {
    /// `report cluster --slurm-job ID --prometheus URL`: the merged report of a multi-node job from the final
    /// values of each node's per-job counters in Prometheus, for sites that collect metrics, not files.
    struct Cluster: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One report for a SLURM job from Prometheus's per-job counters (no files to collect).",
            discussion: """
                Asks Prometheus's HTTP API (plain http://, on the cluster's network) for the last value of each \
                node's sustain_job_energy_joules_total and sustain_job_carbon_grams_total with the job's \
                slurm_job_id, within --range, and merges them as report merge does (nodes[], the sum; with --nodes \
                the nodes that sent nothing are named and the total is marked incomplete). Times are Prometheus's \
                scrape times (within a scrape interval).
                """)

        @Option(help: ArgumentHelp("The SLURM job id.", valueName: "id")) var slurmJob: String
        @Option(help: ArgumentHelp("Prometheus's base URL (http://prometheus:9090).", valueName: "url"))
        var prometheus: String
        @Option(help: ArgumentHelp("How far back to look (Prometheus duration: 1h, 7d).", valueName: "range"))
        var range: String = "7d"
        @Option(help: ArgumentHelp("The job's node list, as SLURM writes it.", valueName: "list")) var nodes: String?
        @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the report (- for stdout).", valueName: "file"))
        var output: String = "-"
        @Option(
            help: ArgumentHelp(
                "Count only the registrations of this user (needed when several users labelled jobs with the id).",
                valueName: "name"))
        var user: String?

        func validate() throws {
            guard !slurmJob.isEmpty, slurmJob.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "_") }) else {
                throw ValidationError(
                    "--slurm-job takes a SLURM job id (digits), got \(slurmJob.escapingControlCharacters).")
            }
            guard range.allSatisfy({ $0.isASCII && ($0.isNumber || "smhdwy".contains($0)) }),
                range.first?.isNumber == true
            else { throw ValidationError("--range is a Prometheus duration (30m, 12h, 7d), got \(range).") }
            _ = try endpoint()
            if let nodes {
                do throws(SlurmHostList.Malformed) {
                    _ = try SlurmHostList.expand(nodes)
                } catch {
                    throw ValidationError("--nodes: \(error).")
                }
            }
        }

        /// Host, port and path prefix of `--prometheus`.
        func endpoint() throws -> (host: String, port: UInt16, prefix: String) {
            do {
                let url = try PlainHTTPURL(prometheus)
                return (url.host, url.port, url.path.trimmingSuffix("/"))
            } catch .notPlainHTTP {
                throw ValidationError(
                    "--prometheus must be a plain http:// URL (the wrapper speaks no TLS; use a local proxy for "
                        + "https), got \(prometheus.escapingControlCharacters).")
            } catch .badPort {
                throw ValidationError("--prometheus: bad port in \(prometheus)")
            } catch .noHost {
                throw ValidationError("--prometheus: no host in \(prometheus)")
            }
        }

        struct Answer: Decodable {
            struct Series: Decodable {
                var metric: [String: String]
                var value: [ValueField]
            }
            enum ValueField: Decodable {
                case time(Double)
                case text(String)
                init(from decoder: any Decoder) throws {
                    let container = try decoder.singleValueContainer()
                    if let number = try? container.decode(Double.self) {
                        self = .time(number)
                    } else {
                        self = .text(try container.decode(String.self))
                    }
                }
                var number: Double? {
                    switch self {
                    case .time(let value): value
                    case .text(let text): Double(text)
                    }
                }
            }
            struct Payload: Decodable { var result: [Series] }
            var status: String
            var data: Payload?
            var error: String?
        }

        /// One instant query; the series with their labels and values.
        func query(_ client: UnixHTTPClient, prefix: String, _ promQL: String) throws -> [([String: String], Double)] {
            let encoded = APIRoute.percentEncoded(promQL)
            let response: UnixHTTPClient.Response
            do {
                response = try client.send("GET", "\(prefix)/api/v1/query?query=\(encoded)", headers: [], body: nil)
            } catch {
                throw ValidationError("Cannot reach Prometheus at \(prometheus): \(error)")
            }
            let answer = try? JSONDecoder().decode(Answer.self, from: Data(response.body))
            guard response.status == 200, let answer, answer.status == "success", let data = answer.data else {
                let said = answer?.error ?? String(decoding: response.body.prefix(200), as: UTF8.self)
                throw ValidationError(
                    "Prometheus at \(prometheus) answered HTTP \(response.status) to \(promQL): "
                        + said.escapingControlCharacters)
            }
            return data.result.compactMap { series in series.value.last?.number.map { (series.metric, $0) } }
        }

        /// A counter's value or a scrape time as Prometheus gave it, if it can be one: finite, not negative, below
        /// 1e15 (277 GWh or 1,000 t CO2e on one node) and, for times, before the year 2200. Anything else (NaN,
        /// 1e308, −5 J) is left out and counted.
        static func plausible(_ value: Double, isTime: Bool) -> Bool {
            value.isFinite && value >= 0 && value < (isTime ? 7_258_118_400 : 1e15)
        }

        func run() throws {
            let (host, port, prefix) = try endpoint()
            let client = UnixHTTPClient(host: host, port: port, timeoutSeconds: 30)
            let selector = "{slurm_job_id=\"\(slurmJob)\"}"
            let energyAnswer = try query(
                client, prefix: prefix, "last_over_time(\(MetricName.jobEnergy)\(selector)[\(range)])")
            let carbonAnswer = try query(
                client, prefix: prefix, "last_over_time(\(MetricName.jobCarbon)\(selector)[\(range)])")
            let firstAnswer = try query(
                client, prefix: prefix,
                "min_over_time(timestamp(\(MetricName.jobEnergy)\(selector))[\(range):15s])")
            let lastAnswer = try query(
                client, prefix: prefix,
                "max_over_time(timestamp(\(MetricName.jobEnergy)\(selector))[\(range):15s])")
            // Prometheus renames an exported `job` label to `exported_job` (its own `job` is the scrape job) unless
            // the scrape config has honor_labels: true.
            // Another user may label a job of theirs with this SLURM id: only one user's registrations count.
            let users = Set(energyAnswer.map { $0.0["user"] ?? "" })
            let owner: String?
            if let user {
                owner = user
            } else if users.count > 1 {
                throw ValidationError(
                    "Several users registered jobs labelled slurm_job_id=\(slurmJob): "
                        + "\(users.sorted().map(\.escapingControlCharacters).joined(separator: ", ")). Give --user "
                        + "with the SLURM job's owner (squeue -o %u, sacct -o user).")
            } else {
                owner = nil
            }
            var ignored = 0
            func kept(_ series: [([String: String], Double)], isTime: Bool) -> [([String: String], Double)] {
                series.filter { labels, value in
                    guard owner == nil || labels["user"] == owner else { return false }
                    guard Self.plausible(value, isTime: isTime) else {
                        ignored += 1
                        return false
                    }
                    return true
                }
            }
            let (energy, carbon) = (kept(energyAnswer, isTime: false), kept(carbonAnswer, isTime: false))
            let (first, last) = (kept(firstAnswer, isTime: true), kept(lastAnswer, isTime: true))
            func job(_ labels: [String: String]) -> String? { labels["exported_job"] ?? labels["job"] }
            func key(_ labels: [String: String]) -> String { (labels["host"] ?? "") + "\u{0}" + (job(labels) ?? "") }
            var byNode: [String: Report.NodeCounters] = [:]
            for (labels, value) in energy {
                let id = key(labels)
                var node =
                    byNode[id]
                    ?? Report.NodeCounters(
                        host: labels["host"] ?? "unknown", job: job(labels) ?? "unknown", joulesByKind: [:],
                        grams: nil, firstSeen: Date(), lastSeen: Date())
                node.joulesByKind[labels["domain_kind"] ?? "unknown", default: 0] += value
                byNode[id] = node
            }
            for (labels, value) in carbon {
                let previous = byNode[key(labels)]?.grams ?? 0
                byNode[key(labels)]?.grams = previous + value
            }
            for (labels, value) in first { byNode[key(labels)]?.firstSeen = Date(timeIntervalSince1970: value) }
            for (labels, value) in last { byNode[key(labels)]?.lastSeen = Date(timeIntervalSince1970: value) }
            guard !byNode.isEmpty else {
                throw ValidationError(
                    "Prometheus at \(prometheus) has no usable \(MetricName.jobEnergy) for SLURM job \(slurmJob) in "
                        + "the last \(range): are the nodes scraped, with per_job_metrics = true?")
            }
            let reports = byNode.keys.sorted().compactMap { byNode[$0] }.map {
                Report(counters: $0, slurmJobID: slurmJob, source: "\(prometheus) (\(range))")
            }
            let expected = try nodes.map { list throws(SlurmHostList.Malformed) in try SlurmHostList.expand(list) }
            guard var merged = Report.merge(reports, expected: expected) else { return }
            merged.warnings.append(
                "From Prometheus (\(prometheus)): each node's final per-job counters within the last \(range); times "
                    + "are scrape times, and energy after a node's last scrape is not in it.")
            if ignored > 0 {
                merged.warnings.append(
                    "\(ignored) value(s) from Prometheus were not finite, non-negative numbers (or not plausible "
                        + "times) and were left out: the total may be short.")
            }
            do {
                try merged.write(to: output)
            } catch {
                throw ValidationError("\(error)")
            }
        }
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: Character) -> String {
        var text = self
        while text.last == suffix { text.removeLast() }
        return text
    }
}
