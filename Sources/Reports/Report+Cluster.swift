import Impact
import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Report {
    /// One node's part of a SLURM job as Prometheus holds it: the final values of the node service's per-job
    /// counters (`sustain_job_energy_joules_total` by `domain_kind`, `sustain_job_carbon_grams_total`), and the
    /// first and last scrape that saw them.
    public struct NodeCounters: Sendable, Equatable {
        public var host: String
        public var job: String
        public var joulesByKind: [String: Double]
        public var grams: Double?
        public var firstSeen: Date
        public var lastSeen: Date

        public init(
            host: String, job: String, joulesByKind: [String: Double], grams: Double?, firstSeen: Date, lastSeen: Date
        ) {
            self.host = host
            self.job = job
            self.joulesByKind = joulesByKind
            self.grams = grams
            self.firstSeen = firstSeen
            self.lastSeen = lastSeen
        }
    }

    /// A node's report from its counters, for `merge`: the energy by domain kind, the carbon the node's service
    /// computed (at its own region), times from Prometheus's scrapes.
    public init(counters: NodeCounters, slurmJobID: String, source: String) {
        let joules = counters.joulesByKind.values.reduce(0, +)
        var carbon = Carbon(CarbonAssessment(energy: Joules(joules), settings: .worldAverage()))
        carbon.kgCo2e = counters.grams.map { $0 / 1000 }
        carbon.intensityGPerKwh = joules > 0 ? (counters.grams ?? 0) / (joules / 3_600_000) : 0
        carbon.intensitySource = "the node's service (sustain_job_carbon_grams_total)"
        carbon.region = nil
        carbon.regionCode = nil
        carbon.regionName = nil
        carbon.regionVia = nil
        carbon.resolvedFrom = "the node's service"
        carbon.equivalents = []
        let seconds = counters.lastSeen.timeIntervalSince(counters.firstSeen)
        self.init(
            schema: Self.schemaVersion, id: counters.job, command: [], exitCode: nil, signal: nil, interrupted: false,
            signalsReceived: [], startedAt: counters.firstSeen, endedAt: counters.lastSeen, durationSeconds: seconds,
            host: Host(hostname: counters.host, kernel: ""),
            energy: Energy(
                joules: joules, method: "measured",
                domains: counters.joulesByKind.sorted { $0.key < $1.key }.map { kind, value in
                    Domain(
                        source: "prometheus", id: kind, name: kind, kind: kind, joules: value, counted: true,
                        note: "the node service's per-job counter", method: "measured", readable: true,
                        path: source, samples: 0, errors: 0, wraps: 0, resets: 0)
                }),
            power: Power(meanWatts: seconds > 0 ? joules / seconds : nil, peakWatts: nil), carbon: carbon,
            usage: nil,
            sampling: Sampling(
                intervalSeconds: 0, intervalLimitSeconds: nil, samples: 0, wraps: 0, resets: 0, errors: 0,
                cpuSeconds: 0),
            temperatures: [], gpus: [], sources: [], warnings: [],
            tool: Tool(name: "sustain-measure", version: Self.toolVersion))
        labels = ["slurm_job_id": slurmJobID]
        measuredBy = "sustain-measured"
    }
}
