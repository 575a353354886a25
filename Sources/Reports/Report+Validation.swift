import FoundationEssentials

/// A report read from a file or an answer is checked before anything is drawn or summed from it: a crafted file
/// (negative or non-finite energy, timeline arrays of different lengths) is refused with the field named, never a
/// trap in `report html` or a negative joule in `report merge`.
extension Report {
    /// Why a report cannot be used.
    public struct Implausible: Error, CustomStringConvertible, Sendable {
        public var field: String
        public var reason: String
        public var description: String { "not a usable sustain report: \(field) \(reason)" }
    }

    /// Throws the first field that no measurement could have produced.
    public func validate() throws(Implausible) {
        func amount(_ value: Double?, _ field: String) throws(Implausible) {
            guard let value else { return }
            guard value.isFinite, value >= 0 else {
                throw Implausible(field: field, reason: "is \(value); it must be a finite number, 0 or more")
            }
        }
        try amount(durationSeconds, "duration_seconds")
        try amount(energy.joules, "energy.joules")
        for domain in energy.domains { try amount(domain.joules, "energy.domains[\(domain.id)].joules") }
        try amount(power.meanWatts, "power.mean_watts")
        try amount(power.peakWatts, "power.peak_watts")
        try amount(carbon.kgCo2e, "carbon.kg_co2e")
        try amount(carbon.intensityGPerKwh, "carbon.intensity_g_per_kwh")
        try amount(carbon.pue, "carbon.pue")
        for phase in phases {
            try amount(phase.joules, "phases[\(phase.name)].joules")
            try amount(phase.seconds, "phases[\(phase.name)].seconds")
        }
        for total in phaseTotals { try amount(total.joules, "phase_totals[\(total.name)].joules") }
        if let timeline {
            guard timeline.bucketSeconds.isFinite, timeline.bucketSeconds > 0 else {
                throw Implausible(field: "timeline.bucket_seconds", reason: "is \(timeline.bucketSeconds)")
            }
            let count = timeline.seconds.count
            let lengths =
                [
                    timeline.countedWatts.count, timeline.countedMinWatts.count, timeline.countedMaxWatts.count,
                ] + timeline.series.map(\.watts.count)
            guard lengths.allSatisfy({ $0 == count }) else {
                throw Implausible(
                    field: "timeline", reason: "has arrays of different lengths (\(count) buckets, \(lengths))")
            }
            for seconds in timeline.seconds { try amount(seconds, "timeline.seconds") }
            for watts in timeline.countedWatts { try amount(watts, "timeline.counted_watts") }
        }
    }
}
