import Impact
import Meter
import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Report {
    /// A phase the job marked (`sustain-measure mark begin|end NAME`): its window, energy and work.
    public struct Phase: Codable, Sendable, Equatable {
        public var name: String
        /// The enclosing phase; null at the top level.
        @Nullable public var parent: String?
        public var startedAt: Date
        public var endedAt: Date
        public var seconds: Double
        /// Counted energy; null when nothing was measured.
        @Nullable public var joules: Double?
        /// Counted energy per domain.
        public var domains: [String: Double]
        @Nullable public var meanWatts: Double?
        @Nullable public var kgCo2e: Double?
        /// Work done in the phase (`--units`), and what it counts (`--unit`: tokens, samples, steps).
        @Nullable public var units: Double?
        @Nullable public var unit: String?
        @Nullable public var joulesPerUnit: Double?
        /// True when the job ended with the phase open (closed then).
        public var closedAtJobEnd: Bool
        /// With an hourly series: the phase's energy-weighted intensity (`kg_co2e` is at it), and the share of the
        /// phase's energy the series covered.
        @Nullable public var intensityGPerKwh: Double? = nil
        @Nullable public var intensityCoverage: Double? = nil

        enum CodingKeys: String, CodingKey {
            case name, parent
            case startedAt = "started_at"
            case endedAt = "ended_at"
            case seconds, joules, domains
            case meanWatts = "mean_watts"
            case kgCo2e = "kg_co2e"
            case units, unit
            case joulesPerUnit = "joules_per_unit"
            case closedAtJobEnd = "closed_at_job_end"
            case intensityGPerKwh = "intensity_g_per_kwh"
            case intensityCoverage = "intensity_coverage"
        }
    }

    /// An instant the job marked (`sustain-measure mark NAME`).
    public struct Event: Codable, Sendable, Equatable {
        public var name: String
        public var at: Date
    }

    /// Every phase of one name (`epoch` × 100): count, totals, mean, extremes, per unit.
    public struct PhaseTotal: Codable, Sendable, Equatable {
        public var name: String
        public var count: Int
        public var seconds: Double
        @Nullable public var joules: Double?
        @Nullable public var meanJoules: Double?
        @Nullable public var minJoules: Double?
        @Nullable public var maxJoules: Double?
        @Nullable public var units: Double?
        @Nullable public var unit: String?
        @Nullable public var joulesPerUnit: Double?

        enum CodingKeys: String, CodingKey {
            case name, count, seconds, joules
            case meanJoules = "mean_joules"
            case minJoules = "min_joules"
            case maxJoules = "max_joules"
            case units, unit
            case joulesPerUnit = "joules_per_unit"
        }
    }

    /// Says that the totals count from the first `begin NAME` (`--start-at-mark`), `seconds` after the command
    /// started, and moves `started_at` there; or, when the mark never came (`seconds` nil), that the whole run is
    /// counted. The caller has cut the measurement window itself.
    /// What `--start-at-mark NAME` did: counted from the mark `seconds` after the start, or (nil) the whole run.
    static func countedFromMarkWarning(_ name: String, _ seconds: Double?) -> String {
        if let seconds {
            "Counted from the first \"begin \(name)\", \(Quantity.duration(seconds)) after the command started "
                + "(--start-at-mark): what ran before is not in the totals."
        } else {
            "--start-at-mark \(name): the job never marked \"begin \(name)\"; the whole run is counted."
        }
    }

    /// Adds the `--metric` figures given on the command line; a metric the job sent itself (a mark) wins.
    public mutating func addMetrics(given: [String: Double]) {
        guard !given.isEmpty else { return }
        metrics = given.merging(metrics ?? [:]) { _, sent in sent }
    }

    /// Adds what the job's marks came to: phases with their energy and carbon, events, totals per name, and the
    /// energy outside every top-level phase.
    /// `origin`: when the command started, which the marks' times count from.
    mutating func add(_ summary: PhaseSummary, carbon settings: CarbonSettings, from origin: Date) {
        func date(_ seconds: Double) -> Date { origin.addingTimeInterval(seconds) }
        func perUnit(_ joules: Double?, _ units: Double?) -> Double? {
            guard let joules, let units, units > 0 else { return nil }
            return joules / units
        }
        // In the order they began (the log has them in the order they ended: a nested step before its epoch).
        let began = summary.phases.enumerated().sorted { ($0.element.start, $0.offset) < ($1.element.start, $1.offset) }
        phases = began.map(\.element).map { phase in
            let seconds = phase.end - phase.start
            return Phase(
                name: phase.name, parent: phase.parent, startedAt: date(phase.start), endedAt: date(phase.end),
                seconds: seconds, joules: phase.joules,
                domains: Dictionary(phase.domains.map { ($0.id, $0.joules) }, uniquingKeysWith: +),
                meanWatts: phase.joules.flatMap { seconds > 0 ? $0 / seconds : nil },
                kgCo2e: CarbonAssessment(energy: phase.joules.map { Joules($0) }, settings: settings).emissions?
                    .kilograms,
                units: phase.units, unit: phase.unit, joulesPerUnit: perUnit(phase.joules, phase.units),
                closedAtJobEnd: phase.closedAtJobEnd)
        }
        events = summary.events.map { Event(name: $0.name, at: date($0.at)) }
        phaseTotals = summary.aggregates.map { total in
            PhaseTotal(
                name: total.name, count: total.count, seconds: total.seconds, joules: total.joules,
                meanJoules: total.joules.map { $0 / Double(total.count) }, minJoules: total.minimumJoules,
                maxJoules: total.maximumJoules, units: total.units, unit: total.unit,
                joulesPerUnit: perUnit(total.joules, total.units))
        }
        unphasedJoules = summary.outsideJoules
        if !summary.metrics.isEmpty { metrics = (metrics ?? [:]).merging(summary.metrics) { _, sent in sent } }
        warnings += summary.warnings
    }
}
