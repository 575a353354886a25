import Impact
import Meter
import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Everything known about a finished job, whoever measured it (the wrapper alone, or the service): it becomes a
/// report in one place, `Report.assemble`, in one fixed order.
public struct FinishedJob: Sendable {
    /// The command and its exit; `startedAt` is when it started (the phases' times count from it).
    public var facts: JobFacts
    /// The counted window (from the start mark when one came), and what the sampler saw.
    public var measurement: MeasurementResult
    public var sources: [SourceSummary]
    public var carbon: CarbonSettings
    public var fallback: FallbackEstimate?
    public var gpus: [GPUDescription]
    public var phases: PhaseSummary?
    /// `--start-at-mark`: the mark's name, and its offset from the start in seconds when it came.
    public var startMark: (name: String, offset: Double?)?
    /// The grid's intensity over time to charge the energy at, and why none could be used.
    public var series: IntensitySeries?
    public var seriesWarning: String?
    /// The job's attributed share of a shared machine (the service's), charged at the same intensity as the rest.
    public var attribution: Report.Attribution?
    /// Quality figures given on the command line (the job's own `metric` marks win).
    public var metrics: [String: Double]
    public var labels: [String: String]
    /// The power limits set for the job and put back.
    public var powerControl: [Report.PowerControl]
    public var powerTuning: Report.PowerTuning?
    /// The container or pod the job ran in, from its cgroup path (`ContainerIdentity.labels`).
    public var container: [String: String]?
    /// Said before everything else (a service that did not answer), and after.
    public var firstWarnings: [String]
    public var lastWarnings: [String]

    public init(
        facts: JobFacts, measurement: MeasurementResult, sources: [SourceSummary], carbon: CarbonSettings,
        fallback: FallbackEstimate? = nil, gpus: [GPUDescription] = [], phases: PhaseSummary? = nil,
        startMark: (name: String, offset: Double?)? = nil, series: IntensitySeries? = nil,
        seriesWarning: String? = nil, attribution: Report.Attribution? = nil, metrics: [String: Double] = [:],
        labels: [String: String] = [:], powerControl: [Report.PowerControl] = [],
        powerTuning: Report.PowerTuning? = nil, container: [String: String]? = nil, firstWarnings: [String] = [],
        lastWarnings: [String] = []
    ) {
        self.facts = facts
        self.measurement = measurement
        self.sources = sources
        self.carbon = carbon
        self.fallback = fallback
        self.gpus = gpus
        self.phases = phases
        self.startMark = startMark
        self.series = series
        self.seriesWarning = seriesWarning
        self.attribution = attribution
        self.metrics = metrics
        self.labels = labels
        self.powerControl = powerControl
        self.powerTuning = powerTuning
        self.container = container
        self.firstWarnings = firstWarnings
        self.lastWarnings = lastWarnings
    }
}

extension Report {
    /// The report of a finished job, built in this order and nowhere else: the counted window (moved to the start
    /// mark first, so that everything after, the grid's intensity above all, is looked up at the right time), the
    /// measurement, the phases (dated from the command's start), the attributed share, carbon at the intensity
    /// over time (for the total, the phases and the attributed share alike), the metrics and labels, then the
    /// warnings.
    public static func assemble(_ job: FinishedJob) -> Report {
        var counted = job.facts
        if let offset = job.startMark?.offset { counted.startedAt = counted.startedAt.addingTimeInterval(offset) }
        var report = Report(
            job: counted, measurement: job.measurement, sources: job.sources, carbon: job.carbon,
            fallback: job.fallback, gpus: job.gpus)
        if let phases = job.phases { report.add(phases, carbon: job.carbon, from: job.facts.startedAt) }
        if let attribution = job.attribution {
            report.attribution = attribution
            report.carbon.attributedKgCo2e = attribution.kgCo2e
        }
        if let seriesWarning = job.seriesWarning { report.warnings.append(seriesWarning) }
        if let series = job.series { report.apply(intensitySeries: series, settings: job.carbon) }
        if let mark = job.startMark { report.warnings.insert(countedFromMarkWarning(mark.name, mark.offset), at: 0) }
        report.addMetrics(given: job.metrics)
        report.labels = job.labels
        report.powerControl = job.powerControl.isEmpty ? nil : job.powerControl
        report.powerTuning = job.powerTuning
        report.container = job.container
        report.warnings = job.firstWarnings + report.warnings + job.lastWarnings
        return report
    }
}
