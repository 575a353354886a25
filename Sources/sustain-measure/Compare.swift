import ArgumentParser
import FoundationEssentials
import Impact
import Reports
import SustainConfiguration
import SustainCore

extension SustainMeasure {
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rank candidate models by estimated energy, carbon and cost (training plus expected serving).",
            discussion: """
                FILE is a CSV with a header row, or a TOML file (*.toml) with one [[candidate]] table per model, \
                with these keys: name, params, tokens (or epochs, batches, flops_per_param_per_batch), hardware, \
                and optionally devices, precision, mfu, requests, tokens_per_request, and quality (the quality \
                you expect it to reach: the Pareto-optimal candidates, that no other beats on both energy and \
                quality, are marked). CSV example:

                  name,params,tokens,hardware,devices,requests,tokens_per_request,quality
                  small,1.3e9,2.6e10,nvidia-a100-sxm,8,1e7,300,0.71
                  large,7e9,1.4e11,nvidia-h100-sxm,32,1e7,300,0.78
                """)

        @Argument(help: ArgumentHelp("Candidates CSV.", valueName: "file")) var file: String
        @OptionGroup(title: "Carbon and cost") var carbon: CarbonOptions
        @Flag(help: "Print JSON instead of a table.") var json = false
        @Flag(help: "The quality column is better when lower (a loss, an error rate).")
        var qualityLowerIsBetter = false

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("Cannot read \(file).")
            }
            let ranked: [RankedCandidate]
            do {
                let text = String(decoding: data, as: UTF8.self)
                let candidates =
                    file.lowercased().hasSuffix(".toml")
                    ? try CandidateFile.parse(toml: text, file: file) : try CandidateFile.parse(text, file: file)
                ranked = try CandidateFile.rank(candidates, carbon: carbon.settings())
            } catch let error as ImpactError {
                throw ValidationError(error.description)
            }
            let front = Self.front(ranked, higherIsBetter: !qualityLowerIsBetter)
            if json {
                let rows = ranked.enumerated().map { index, entry in
                    CompareRow(
                        rank: index + 1, name: entry.candidate.name, joules: entry.energy.value,
                        kgCo2e: entry.emissions.kilograms, cost: entry.cost, quality: entry.candidate.quality,
                        paretoOptimal: entry.candidate.quality == nil ? nil : front.contains(index),
                        train: EstimateReport(kind: "train", estimate: entry.training),
                        deploy: entry.serving.map { EstimateReport(kind: "deploy", estimate: $0) })
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(rows), as: UTF8.self))
                return
            }
            print(Self.table(ranked, front: front))
        }

        /// The candidates (by rank index) on the Pareto front of estimated energy against expected quality; empty
        /// when no candidate gives a quality.
        static func front(_ ranked: [RankedCandidate], higherIsBetter: Bool) -> Set<Int> {
            guard ranked.contains(where: { $0.candidate.quality != nil }) else { return [] }
            return Pareto.front(
                cost: ranked.map(\.energy.value), quality: ranked.map { $0.candidate.quality ?? .nan },
                higherIsBetter: higherIsBetter)
        }

        static func table(_ ranked: [RankedCandidate], front: Set<Int> = []) -> String {
            let withQuality = ranked.contains { $0.candidate.quality != nil }
            let currency = ranked.first?.training.carbon.settings.price?.currency
            var rows = [
                [
                    "#", "model", "FLOPs", "time (train)", "energy kWh", "kg CO2e",
                    currency.map { "cost \($0)" } ?? "cost",
                ] + (withQuality ? ["quality", "Pareto"] : [])
            ]
            for (index, entry) in ranked.enumerated() {
                rows.append(
                    [
                        "\(index + 1)", entry.candidate.name,
                        Quantity.significant(entry.training.flops.value + (entry.serving?.flops.value ?? 0)),
                        Quantity.duration(entry.training.seconds), Quantity.significant(entry.energy.value / 3_600_000),
                        Quantity.significant(entry.emissions.kilograms),
                        entry.cost.map { Quantity.significant($0) } ?? "-",
                    ]
                        + (withQuality
                            ? [
                                entry.candidate.quality.map { Quantity.significant($0, 4) } ?? "-",
                                front.contains(index) ? "optimal" : "",
                            ] : []))
            }
            let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
            var lines = rows.map { row in
                row.enumerated().map { $1 + String(repeating: " ", count: widths[$0] - $1.count) }.joined(
                    separator: "  ")
            }
            lines.insert(String(repeating: "-", count: lines[0].count), at: 1)
            if let settings = ranked.first?.training.carbon.settings {
                lines.append(
                    "estimated, not measured; energy at the devices × PUE \(settings.pue.value) at "
                        + "\(settings.intensity.gramsPerKilowattHour) gCO2e/kWh (\(settings.intensity.basis.rawValue), "
                        + "\(settings.intensitySource)); --json lists every assumption")
            }
            return lines.joined(separator: "\n")
        }
    }

    struct CompareRow: Encodable {
        var rank: Int
        var name: String
        var joules: Double
        var kgCo2e: Double
        var cost: Double?
        var quality: Double?
        var paretoOptimal: Bool?
        var train: EstimateReport
        var deploy: EstimateReport?

        enum CodingKeys: String, CodingKey {
            case rank, name, joules
            case kgCo2e = "kg_co2e"
            case cost, quality
            case paretoOptimal = "pareto_optimal"
            case train, deploy
        }
    }
}
