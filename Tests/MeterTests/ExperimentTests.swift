import Foundation
import Reports
import SustainCore
import SustainTestSupport
import Testing

/// Experiments end to end in the fake 2-socket tree (176 W at load factor 1): each configuration's runs step the
/// simulated machine's power to a known factor through its load file, so every run's energy, each configuration's
/// statistics and the net energy against the idle baseline are known in advance.
@Suite(.serialized, .enabled(if: Harness.canUseMountNamespace, Comment(rawValue: Harness.rootOnlyNotice)))
struct ExperimentTests {
    static let watts = 176.0

    static func experiment(
        _ options: [String], command: [String], in directory: URL, fakesys: [String] = []
    ) throws -> (outcome: ProcessOutcome, experiment: Experiment?) {
        let path = directory.appendingPathComponent("exp.json").path
        let outcome = try Harness.run(
            [
                "/usr/bin/unshare", "-m", "--propagation", "private", Harness.product("sustain-fakesys"),
                "--scenario", "two-socket",
            ] + fakesys + [
                "--", Harness.product("sustain-measure"), "--no-daemon",
                "--report", path,
            ] + options + ["--"] + command)
        let experiment = try? Experiment.decode(Data(contentsOf: URL(fileURLWithPath: path)))
        return (outcome, experiment)
    }

    /// Two configurations at load 0.5 and 1 (88 W and 176 W while the command runs), a warm-up, three runs each,
    /// an idle baseline at load 0.25 (44 W) before and after.
    @Test func eachConfigurationsStatisticsAreItsInjectedEnergy() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The machine idles at load 0.25 (44 W): the baselines run there, and each run goes back to it.
        let load = directory.appendingPathComponent("load")
        try "0.25\n".write(to: load, atomically: true, encoding: .utf8)
        let script = """
            echo {F} > "$SUSTAIN_FAKESYS_LOAD"; sleep 0.05; [ "$F" = "{F}" ] || exit 9
            sleep 0.8; echo 0.25 > "$SUSTAIN_FAKESYS_LOAD"
            """
        let (outcome, experiment) = try Self.experiment(
            ["--repeat", "3", "--warmup-runs", "1", "--baseline", "1", "--param", "F=0.5,1", "--label", "f={F}"],
            command: ["/bin/sh", "-c", script], in: directory, fakesys: ["--load-file", load.path])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let result = try #require(experiment, "\(outcome.stderr)")
        #expect(result.configurations.map(\.parameters) == [["F": "0.5"], ["F": "1"]])
        #expect(result.repeats == 3 && result.warmupRuns == 1 && result.failedRuns == 0)
        let baseline = try #require(result.baseline)
        #expect(abs(baseline.before.watts - Self.watts * 0.25) / (Self.watts * 0.25) < 0.005, "\(baseline.before)")
        let after = try #require(baseline.after)
        #expect(abs(after.watts - Self.watts * 0.25) / (Self.watts * 0.25) < 0.005, "\(after)")
        #expect(!result.warnings.contains { $0.contains("drifted") }, "\(result.warnings)")
        for (index, configuration) in result.configurations.enumerated() {
            #expect(configuration.runs.count == 4 && configuration.runs.filter(\.warmup).count == 1)
            let energy = try #require(configuration.statistics["energy_joules"])
            #expect(energy.n == 3, "the warm-up is not in the statistics")
            // Each run: the factor's power for its duration but the first 50 ms at the previous factor and
            // the last moments after the reset; within 5 % of factor × 176 W × duration.
            let factor = index == 0 ? 0.5 : 1.0
            for run in configuration.runs where !run.warmup {
                let joules = try #require(run.energyJoules)
                let expected = Self.watts * factor * run.durationSeconds
                #expect(abs(joules - expected) / expected < 0.06, "\(joules) J vs \(expected) J")
                let report = try Report.decode(
                    Data(contentsOf: directory.appendingPathComponent(run.report)))
                #expect(
                    report.labels["experiment"] == result.id
                        && report.labels["f"] == "\(configuration.parameters["F"]!)")
                #expect(
                    run.netEnergyJoules.map { abs($0 - (joules - baseline.before.watts * run.durationSeconds)) < 1e-6 }
                        == true)
            }
            let low = try #require(energy.ci95Low)
            let high = try #require(energy.ci95High)
            #expect(low <= energy.mean && energy.mean <= high && energy.min <= energy.mean && energy.mean <= energy.max)
        }
        // Configuration 1 uses less energy and no more time: it alone is on the front.
        #expect(
            result.configurations.map(\.pareto) == [true, false] || result.configurations.map(\.pareto) == [true, true])
        #expect(outcome.stderr.contains("sustain experiment \(result.id)"), "\(outcome.stderr)")
        // Its configurations compared: F=1 against F=0.5 uses more energy, significantly; the same duration.
        let path = directory.appendingPathComponent("exp.json").path
        let compared = try Harness.run([Harness.product("sustain-measure"), "report", "compare", path])
        #expect(compared.status == 0, "\(compared.stderr)")
        let printed = String(decoding: compared.stdout, as: UTF8.self)
        #expect(printed.contains("exp.json [F=1] uses "), "\(printed)")
        #expect(printed.contains("% more energy than exp.json [F=0.5] (95 % CI "), "\(printed)")
        // Its page: every run a dot (warm-ups too), each configuration's mean and interval; nothing requested.
        let page = directory.appendingPathComponent("exp.html")
        let written = try Harness.run([Harness.product("sustain-measure"), "report", "html", "-o", page.path, path])
        #expect(written.status == 0, "\(written.stderr)")
        let (dom, requests) = try HTMLReportTests.render(page, in: directory)
        #expect(dom.components(separatedBy: "<circle class=\"run").count - 1 == 8, "dots")
        #expect(dom.components(separatedBy: "<circle class=\"run warmup").count - 1 == 2, "warm-up dots")
        #expect(dom.components(separatedBy: "<rect class=\"mean\"").count - 1 == 2, "means")
        #expect(dom.components(separatedBy: "<path class=\"ci\"").count - 1 >= 2, "intervals")
        #expect(dom.contains("Idle baseline: \(Quantity.power(baseline.before.watts)) over"), "baseline")
        #expect(requests.isEmpty, "\(requests)")
        // Exported: a CSV row per run, a Markdown row per configuration.
        let csv = try Harness.run([Harness.product("sustain-measure"), "report", "export", "--format", "csv", path])
        let rows = String(decoding: csv.stdout, as: UTF8.self).split(separator: "\n")
        #expect(csv.status == 0 && rows.count == 9 && rows[0].hasPrefix("configuration,F,run,warmup,exit_code"))
        let markdown = try Harness.run([
            Harness.product("sustain-measure"), "report", "export", "--format", "markdown", path,
        ])
        let table = String(decoding: markdown.stdout, as: UTF8.self)
        #expect(table.contains("| 1 F=0.5 | 3 | ") && table.contains("| 2 F=1 | 3 | "), "\(table)")
        // One run on a side: refused, saying why.
        let single = try Harness.run([
            Harness.product("sustain-measure"), "report", "compare",
            directory.appendingPathComponent(result.configurations[0].runs[1].report).path,
            directory.appendingPathComponent(result.configurations[1].runs[1].report).path,
        ])
        #expect(single.status == 64 && single.stderr.contains("needs at least 2 runs on each side"), "\(single.stderr)")
    }

    /// `--param S=1,2 -- sleep {S}` at a steady 176 W: each run within 0.5 % of the injected energy over its
    /// window, the statistics those of the runs, the baseline within 1 % of the idle power, twice the energy for
    /// twice the time within 3 %; and the experiment file is there after every run.
    @Test func aScanOfSleepGivesTwiceTheEnergyForTwiceTheTime() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (outcome, experiment) = try Self.experiment(
            ["--repeat", "2", "--baseline", "1", "--param", "S=1,2"], command: ["/bin/sleep", "{S}"], in: directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let result = try #require(experiment)
        let baseline = try #require(result.baseline)
        #expect(abs(baseline.before.watts - Self.watts) / Self.watts < 0.01, "\(baseline.before.watts) W")
        var means: [Double] = []
        for configuration in result.configurations {
            let energies = configuration.runs.compactMap(\.energyJoules)
            #expect(energies.count == 2)
            for run in configuration.runs {
                let injected = Self.watts * run.durationSeconds
                let joules = try #require(run.energyJoules)
                #expect(abs(joules - injected) / injected < 0.005, "\(joules) J vs \(injected) J")
            }
            let statistic = try #require(configuration.statistics["energy_joules"])
            let mean = energies.reduce(0, +) / 2
            let sd = (energies.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)).squareRoot()
            #expect(abs(statistic.mean - mean) < 1e-9 && abs(statistic.sd - sd) < 1e-9)
            #expect(statistic.min == energies.min() && statistic.max == energies.max())
            means.append(statistic.mean)
        }
        #expect(abs(means[1] / means[0] - 2) / 2 < 0.03, "ratio \(means[1] / means[0])")
        #expect(!result.warnings.contains { $0.hasPrefix("IN PROGRESS") }, "the final file replaces the partial ones")
    }

    @Test func aFailedRunIsSaidAndFailsTheExperimentUnlessIgnored() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (failed, experiment) = try Self.experiment(
            ["--repeat", "2", "--param", "E=0,3"], command: ["/bin/sh", "-c", "sleep 0.2; exit {E}"], in: directory)
        #expect(failed.status == 1, "\(failed.stderr)")
        let result = try #require(experiment)
        #expect(result.failedRuns == 2)
        #expect(result.configurations[1].statistics["energy_joules"] == nil, "failed runs are left out")
        #expect(result.configurations[1].runs.allSatisfy { $0.exitCode == 3 })
        #expect(result.warnings.contains { $0.contains("failed (exit code 3)") }, "\(result.warnings)")
        let (ignored, counted) = try Self.experiment(
            ["--repeat", "2", "--ignore-failure", "--param", "E=3"], command: ["/bin/sh", "-c", "exit {E}"],
            in: directory)
        #expect(ignored.status == 0, "\(ignored.stderr)")
        #expect(counted?.configurations.first?.statistics["duration_seconds"]?.n == 2)
    }
}

/// Bad experiment input, refused before anything runs (no root needed).
struct ExperimentInputTests {
    struct Refusal: Sendable, CustomTestStringConvertible {
        var options: [String]
        var message: String
        var command: [String]? = nil
        var testDescription: String { message }
    }

    static let refusals = [
        Refusal(options: ["--repeat", "0"], message: "--repeat must be at least 1"),
        Refusal(options: ["--param", "1X=1,2"], message: "--param 1X: a name is letters"),
        Refusal(options: ["--param", "A=1", "--param", "A=2"], message: "--param A is given twice"),
        Refusal(options: ["--warmup-runs", "2"], message: "go with --repeat N"),
        Refusal(options: ["--repeat", "2", "--baseline", "0.5"], message: "--baseline must be from 1 to 3600"),
        Refusal(options: ["--repeat", "2", "--report", "-"], message: "--report - is for one run"),
        Refusal(
            options: ["--repeat", "2", "--param", "A=1"],
            message: "{B} is in the command or its options but no --param B",
            command: ["/bin/sh", "-c", "echo {A} {B} > \"$0\""]),
        Refusal(
            options: ["--repeat", "2", "--label", "x={C}"], message: "{C} is in the command or its options"),
    ]

    /// Bad input is refused before anything runs: the command never starts.
    @Test(arguments: refusals) func badExperimentInputIsRefused(_ refusal: Refusal) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let marker = directory.appendingPathComponent("ran").path
        let command = refusal.command.map { $0 + [marker] } ?? ["/usr/bin/touch", marker]
        let outcome = try Harness.run(
            [Harness.product("sustain-measure"), "--no-daemon"] + refusal.options + ["--"] + command)
        #expect(outcome.status == 64, "\(outcome.stderr)")
        #expect(outcome.stderr.contains(refusal.message), "\(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the command ran")
    }
}

/// `report compare`'s arithmetic and words, on samples whose answer is known (SciPy for the p-values).
struct ExperimentComparisonTests {
    static func side(_ name: String, energy: [Double], seconds: [Double]? = nil) -> ExperimentComparison.Side {
        ExperimentComparison.Side(
            name: name, values: ["energy_joules": energy, "duration_seconds": seconds ?? energy.map { _ in 1 }])
    }

    @Test func aClearSavingIsOneSentenceWithItsIntervalAndP() throws {
        let comparison = ExperimentComparison(
            a: Self.side("A", energy: [100, 102, 98, 101, 99]), b: Self.side("B", energy: [88, 90, 87, 89, 91]))
        let energy = try #require(comparison.figures.first)
        #expect(energy.name == "energy_joules" && comparison.energyProblem == nil)
        let sentence = comparison.sentence(for: energy)
        #expect(sentence.hasPrefix("B uses 11.0 % less energy than A (95 % CI "), "\(sentence)")
        #expect(sentence.hasSuffix("p < 0.0001, 5 runs each)."), "\(sentence)")
        // Durations equal with no spread: no difference.
        let duration = try #require(comparison.figures.first { $0.name == "duration_seconds" })
        #expect(comparison.sentence(for: duration).hasPrefix("No significant difference in duration"))
    }

    @Test func noiseIsNoDifference() throws {
        let comparison = ExperimentComparison(
            a: Self.side("A", energy: [100, 103, 97, 105, 95]), b: Self.side("B", energy: [99, 104, 96, 101, 98, 97]))
        let sentence = comparison.sentence(for: try #require(comparison.figures.first))
        #expect(sentence.hasPrefix("No significant difference in energy between B and A (p = "), "\(sentence)")
        #expect(sentence.hasSuffix("5 and 6 runs)."), "\(sentence)")
    }

    @Test func aSingleRunOrNoEnergyCannotBeTested() {
        let single = ExperimentComparison(a: Self.side("A", energy: [100]), b: Self.side("B", energy: [90, 91]))
        #expect(single.energyProblem?.hasPrefix("A is 1 run") == true, "\(single.energyProblem ?? "")")
        let none = ExperimentComparison(
            a: ExperimentComparison.Side(name: "A", values: ["duration_seconds": [1, 2]]),
            b: Self.side("B", energy: [90, 91]))
        #expect(none.energyProblem == "A has no measured energy")
    }
}
