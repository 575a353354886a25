import Foundation
import Impact
import Meter
import Reports
import Testing

/// A report's units section from its own figures, without a service: J and g per unit, SCI = (E*I + M)/R with M
/// the window's and the resource's share of the machine's embodied emissions, water; and nothing where a figure is
/// missing (never 0 for unknown, never a division by zero).
struct ReportUnitsTests {
    /// A one-hour report whose machine used `joules` with `kilograms` CO2e.
    static func report(joules: Double?, kilograms: Double?) throws -> Report {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let facts = JobFacts(
            id: "w", command: RecordedCommand(text: ["watch:model"]), exitCode: nil, signal: nil, signalsReceived: [],
            interrupted: false, startedAt: start, endedAt: start.addingTimeInterval(3600), host: Report.Host.current())
        let measurement = MeasurementResult(
            channels: [], interval: .zero, intervalLimit: nil, duration: .seconds(3600), samples: 0, peakPower: nil,
            samplerCPUSeconds: 0, warnings: [])
        var report = Report(
            job: facts, measurement: measurement, sources: [],
            carbon: try .given(gramsPerKilowattHour: 400, basis: .lifecycle))
        report.energy.joules = joules
        report.carbon.kgCo2e = kilograms
        return report
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var count: Double?
        var joules: Double?
        var machineJoules: Double? = 36_000_000  // 10 kWh
        var machineKilograms: Double? = 5  // 500 g/kWh over the window, PUE and series included
        var share = 0.25
        var embodied: (kilograms: Double, years: Double)? = (1000, 4)
        var wue: Double? = nil
        /// Expected J/unit, g/unit and SCI g/unit (nil: none).
        var perUnit: Double?
        var gramsPerUnit: Double?
        var sci: Double?
        var testDescription: String { label }
    }

    static let hourOfFourYears = 3600 / (4 * 365.25 * 86_400)

    static let cases: [Case] = [
        Case(
            label: "E, I, M and R: the SCI is (E*I + M)/R", count: 1000, joules: 3_600_000, perUnit: 3600,
            gramsPerUnit: 0.5, sci: (500 + 1_000_000 * hourOfFourYears * 0.25) / 1000),
        Case(
            label: "no embodied figure: operational only", count: 1000, joules: 3_600_000, embodied: nil,
            perUnit: 3600, gramsPerUnit: 0.5, sci: 0.5),
        Case(label: "no units counted: nothing per unit", count: nil, joules: 3_600_000),
        Case(label: "zero units: nothing per unit, never infinite", count: 0, joules: 3_600_000),
        Case(label: "NaN units: treated as unknown", count: .nan, joules: 3_600_000),
        Case(
            label: "no energy measured: nothing per unit", count: 10, joules: nil, perUnit: nil, gramsPerUnit: nil,
            sci: nil),
        Case(
            label: "the machine has no carbon figure: J per unit only", count: 10, joules: 36_000,
            machineKilograms: nil, perUnit: 3600),
        Case(
            label: "water at the WUE", count: 100, joules: 7_200_000, embodied: nil, wue: 1.8, perUnit: 72_000,
            gramsPerUnit: 10, sci: 10),
    ]

    @Test(arguments: cases) func unitsFromTheReportsOwnFigures(_ test: Case) throws {
        let report = try Self.report(joules: test.machineJoules, kilograms: test.machineKilograms)
        let units = Report.units(
            count: test.count, unit: "token", source: "test", joules: test.joules, energyBasis: "attributed",
            report: report, resourceShare: test.share,
            embodied: test.embodied.flatMap { EmbodiedEmissions(kilograms: $0.kilograms, lifetimeYears: $0.years) },
            water: test.wue.flatMap { WaterUsage(litresPerKilowattHour: $0) }, basis: .lifecycle, missing: [])
        func close(_ value: Double?, _ expected: Double?) -> Bool {
            switch (value, expected) {
            case (nil, nil): true
            case (let value?, let expected?): abs(value - expected) <= 1e-9 * max(1, abs(expected))
            default: false
            }
        }
        #expect(close(units.joulesPerUnit, test.perUnit), "J/unit \(String(describing: units.joulesPerUnit))")
        #expect(
            close(units.kgCo2ePerUnit.map { $0 * 1000 }, test.gramsPerUnit),
            "g/unit \(String(describing: units.kgCo2ePerUnit))")
        #expect(close(units.sci?.gramsPerUnit, test.sci), "SCI \(String(describing: units.sci))")
        if test.count.map({ !$0.isFinite }) == true { #expect(units.count == nil) }
        if test.joules == nil { #expect(units.missing.contains { $0.hasPrefix("energy") }) }
        if test.machineKilograms == nil, test.joules != nil {
            #expect(units.operationalKgCo2e == nil && units.missing.contains { $0.hasPrefix("carbon") })
        }
        if let wue = test.wue, let joules = test.joules {
            #expect(close(units.waterLitres, joules / 3_600_000 * wue))
        } else {
            #expect(units.waterLitres == nil)
        }
        #expect(units.sci.map { ($0.embodiedKgCo2e == nil) == (test.embodied == nil) } ?? true)
    }

    /// The summary on stderr (attach) says the units and their cost, or why they were not counted.
    @Test func theSummarySaysTheUnitsAndTheirCost() throws {
        var report = try Self.report(joules: 36_000_000, kilograms: 5)
        report.units = Report.units(
            count: 1000, unit: "token", source: "test", joules: 3_600_000, energyBasis: "attributed", report: report,
            resourceShare: 0.25, embodied: nil, water: nil, basis: .lifecycle, missing: [])
        let summary = report.summary(reportPath: nil)
        #expect(
            summary.contains(
                "  units   1000 tokens, server 3600.00 kJ (attributed), 3600 J/token, 0.500 g CO2e/token, "
                    + "SCI 0.500 g/token (operational only)"), "\(summary)")
        report.watched = Report.Watched(name: "attach", target: "unit vllm.service", cgroup: nil, periodSeconds: 3600)
        #expect(report.summary(reportPath: nil).hasPrefix("sustain: `watch:model` was measured for 1 h"))
        report.units = Report.units(
            count: nil, unit: "request", source: "test", joules: 1, energyBasis: "attributed", report: report,
            resourceShare: 0.25, embodied: nil, water: nil, basis: .lifecycle, missing: ["units: the endpoint is down"])
        #expect(report.summary(reportPath: nil).contains("  units   not counted: units: the endpoint is down"))
    }

    /// The HTML page shows the units and the SCI's parts; a client-sent source (attach) is text, never markup.
    @Test func thePageShowsTheUnitsAndEscapesTheirSource() throws {
        var report = try Self.report(joules: 36_000_000, kilograms: 5)
        report.units = Report.units(
            count: 1000, unit: "token", source: "<script>alert(1)</script>", joules: 3_600_000,
            energyBasis: "attributed", report: report, resourceShare: 0.25,
            embodied: EmbodiedEmissions(kilograms: 1000, lifetimeYears: 4), water: nil, basis: .lifecycle,
            missing: ["units: <b>down</b>"])
        report.watched = Report.Watched(name: "vllm", target: "unit vllm.service", cgroup: nil, periodSeconds: 3600)
        let page = HTMLReport.page(for: [report])
        #expect(page.contains("<h2>Per unit of work</h2>") && page.contains("3600 J/token"), "\(page.prefix(200))")
        #expect(page.contains("SCI (ISO/IEC 21031)") && page.contains("server vllm: unit vllm.service"))
        #expect(!page.contains("<script>alert(1)") && page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!page.contains("<b>down</b>"))
    }
}
