import SustainCore
import Synchronization

/// One phase a job marked, measured: the window between the fresh readings taken at its `begin` and its `end`.
public struct PhaseRecord: Sendable, Equatable {
    public var name: String
    /// The phase that was open when this one began (phases nest).
    public var parent: String?
    /// Seconds from the sampler's start to the phase's begin and end readings.
    public var start: Double
    public var end: Double
    /// Counted energy in the window; nil when nothing was measured.
    public var joules: Double?
    /// Counted energy per domain.
    public var domains: [(id: String, joules: Double)]
    public var units: Double?
    public var unit: String?
    /// True when the job ended with the phase still open: it was closed then.
    public var closedAtJobEnd: Bool

    public static func == (lhs: PhaseRecord, rhs: PhaseRecord) -> Bool {
        lhs.name == rhs.name && lhs.parent == rhs.parent && lhs.start == rhs.start && lhs.end == rhs.end
            && lhs.joules == rhs.joules && lhs.units == rhs.units && lhs.unit == rhs.unit
            && lhs.closedAtJobEnd == rhs.closedAtJobEnd && lhs.domains.map(\.id) == rhs.domains.map(\.id)
            && lhs.domains.map(\.joules) == rhs.domains.map(\.joules)
    }
}

/// A repeated name's totals (`epoch` × 100): every phase of that name, kept or not.
public struct PhaseAggregate: Sendable, Equatable {
    public var name: String
    public var count = 0
    public var seconds = 0.0
    /// Sum of the measured phases' energy; nil when none was measured.
    public var joules: Double?
    public var minimumJoules: Double?
    public var maximumJoules: Double?
    public var units: Double?
    public var unit: String?
}

/// What a job's marks came to.
public struct PhaseSummary: Sendable {
    public var phases: [PhaseRecord] = []
    public var events: [(name: String, at: Double)] = []
    public var aggregates: [PhaseAggregate] = []
    /// Counted energy outside every top-level phase (before the first, between them, after the last); nil when no
    /// phase was marked. Top-level phases plus this are the job's total.
    public var outsideJoules: Double?
    /// Quality metrics the job sent (`metric NAME=VALUE`; the last value of a name wins).
    public var metrics: [String: Double] = [:]
    public var warnings: [String] = []
}

/// Turns a job's marks into measured phases as they arrive: each `begin` and `end` takes a fresh reading of every
/// channel (`Sampler.checkpointNow`), and a phase's energy is `Sampler.measurement` between the two, like a job's.
/// Memory is bounded whatever the job sends: at most `maximumRows` phases and events are kept one by one and
/// `maximumOpen` phases open at once; beyond, phases count only in their name's aggregate and the report says so.
public final class PhaseLog: Sendable {
    public static let maximumRows = 1000
    public static let maximumOpen = 256
    public static let maximumNames = 1000
    public static let maximumMetrics = 100

    private struct Open {
        var name: String
        var parent: String?
        var start: SamplerCheckpoint
    }

    private struct State {
        var open: [Open] = []
        var summary = PhaseSummary()
        var aggregateIndex: [String: Int] = [:]
        var outsideStart: SamplerCheckpoint?
        /// Energy outside top-level phases so far; nil until a phase begins, and nil for good once a window
        /// outside measured nothing (never 0 J for unknown).
        var outside: Double?
        var outsideUnknown = false
        var droppedPhases = 0
        var droppedEvents = 0
        /// `end NAME` with no open phase of that name: the first few names, and how many in all.
        var unmatchedEnds: [String: Int] = [:]
        var unmatchedEndCount = 0
        /// Phases closed because one they began inside ended first (`begin a; begin b; end a`): their own later
        /// `end` is expected, not unmatched. At most `maximumOpen` names.
        var closedWithParent: [String: Int] = [:]
        var closedWithParentNames: Set<String> = []
        /// Marks whose instant was older than every reading the sampler keeps: placed at the oldest.
        var late = 0
        /// The reading the latest mark was placed at: a mark placed no later than it is placed exactly there (the
        /// ring may have replaced that reading since, and a value rebuilt between its neighbours would differ by a
        /// few microjoules, which the phases on either side would then count twice or not at all).
        var lastCheckpoint: SamplerCheckpoint?
        var invalid = 0
        var firstInvalid: String?
        var afterEnd = 0
        var tooManyOpen = 0
        var tooManyNames = 0
        var tooManyMetrics = 0
        var ended = false
        /// The reading at the first `begin` of each name (for `--start-at-mark`).
        var firstBegins: [String: SamplerCheckpoint] = [:]
    }

    private let sampler: Sampler
    private let origin: MonotonicInstant
    private let state: Mutex<State>

    /// `first`: the sampler's first checkpoint (the job's start); times are seconds since it.
    public init(sampler: Sampler, first: SamplerCheckpoint) {
        self.sampler = sampler
        origin = first.instant
        var initial = State()
        initial.outsideStart = first
        state = Mutex(initial)
    }

    /// The most distinct names listed for `end` marks that matched no phase (all are counted).
    public static let maximumUnmatchedNames = 10

    /// One line from the job, made at `instant` (when the reader took it from the job's pipe; nil: now). A mark
    /// that reaches the log late (relayed in a batch) is placed at its instant between the sampler's readings.
    /// Returns the timed mark and the reading it was placed at (nil for a metric, a bad line, no reading).
    @discardableResult
    public func record(_ line: [UInt8], at instant: MonotonicInstant? = nil) -> (mark: Mark, at: SamplerCheckpoint)? {
        let mark: Mark
        do {
            mark = try Mark.parse(line)
        } catch {
            state.withLock { state in
                state.invalid += 1
                if state.firstInvalid == nil { state.firstInvalid = error.description }
            }
            return nil
        }
        if case .metric(let name, let value) = mark {  // a figure, not a time: no reading
            state.withLock { state in
                if state.summary.metrics[name] != nil || state.summary.metrics.count < Self.maximumMetrics {
                    state.summary.metrics[name] = value
                } else {
                    state.tooManyMetrics += 1
                }
            }
            return nil
        }
        let now: SamplerCheckpoint
        var late = false
        if let instant {
            // Whether a mark came promptly is judged on its own instant: judged on where it is placed (never before
            // the last mark), a flood would make every mark "prompt" and place them all at their arrival.
            let prompt = instant.seconds(to: sampler.clock.now) <= Sampler.promptness
            let placed = max(instant, state.withLock { $0.lastCheckpoint?.instant } ?? origin)
            guard let resolved = sampler.checkpoint(resolving: placed, promptness: prompt ? .infinity : 0) else {
                return nil
            }
            (now, late) = resolved
        } else {
            guard let reading = sampler.checkpointNow() else { return nil }
            now = reading
        }
        return state.withLock { state in
            if late { state.late += 1 }
            let placed = state.lastCheckpoint.flatMap { now.instant <= $0.instant ? $0 : nil } ?? now
            state.lastCheckpoint = placed
            apply(mark, at: placed, to: &state)
            return (mark, placed)
        }
    }

    /// The instant of the latest mark placed, if any: a job's end is never before it.
    public var lastInstant: MonotonicInstant? { state.withLock { $0.lastCheckpoint?.instant } }

    /// The innermost phase open now, for the live line.
    public var current: String? { state.withLock { $0.open.last?.name } }

    /// The reading taken at the first `begin name`, if one came.
    public func firstBegin(of name: String) -> SamplerCheckpoint? { state.withLock { $0.firstBegins[name] } }

    /// Seconds from the job's start to `checkpoint`.
    public func offset(of checkpoint: SamplerCheckpoint) -> Double { origin.seconds(to: checkpoint.instant) }

    /// Closes the phases still open at the job's `end`, and returns everything; later marks are counted as late.
    public func finish(at end: SamplerCheckpoint) -> PhaseSummary {
        state.withLock { state in
            while let open = state.open.last {
                close(open, at: end, units: nil, unit: nil, closedAtJobEnd: true, into: &state)
                state.open.removeLast()
            }
            if let start = state.outsideStart, state.outside != nil || state.outsideUnknown {
                addOutside(from: start, to: end, to: &state)
            }
            state.ended = true
            var summary = state.summary
            summary.outsideJoules = state.outsideUnknown ? nil : state.outside
            summary.warnings = warnings(state)
            return summary
        }
    }

    private func apply(_ mark: Mark, at now: SamplerCheckpoint, to state: inout State) {
        guard !state.ended else {
            state.afterEnd += 1
            return
        }
        switch mark {
        case .begin(let name):
            guard state.open.count < Self.maximumOpen else {
                state.tooManyOpen += 1
                return
            }
            if state.open.isEmpty, let start = state.outsideStart {
                addOutside(from: start, to: now, to: &state)
                state.outsideStart = nil
            }
            state.open.append(Open(name: name, parent: state.open.last?.name, start: now))
            if state.firstBegins[name] == nil, state.firstBegins.count < Self.maximumNames {
                state.firstBegins[name] = now
            }
        case .end(let name, let units, let unit):
            guard let index = state.open.lastIndex(where: { $0.name == name }) else {
                if let expected = state.closedWithParent[name] {
                    state.closedWithParent[name] = expected > 1 ? expected - 1 : nil
                    return
                }
                state.unmatchedEndCount += 1
                let key = name.excerpt(40)
                if state.unmatchedEnds[key] != nil || state.unmatchedEnds.count < Self.maximumUnmatchedNames {
                    state.unmatchedEnds[key, default: 0] += 1
                }
                return
            }
            // Phases nest: what began inside this phase and is still open ends with it, at the same reading, so
            // the top-level phases and the time outside them always add up to the job.
            while state.open.count > index + 1, let inner = state.open.popLast() {
                close(inner, at: now, units: nil, unit: nil, closedAtJobEnd: false, into: &state)
                if state.closedWithParent[inner.name] != nil || state.closedWithParent.count < Self.maximumOpen {
                    state.closedWithParent[inner.name, default: 0] += 1
                }
                if state.closedWithParentNames.count < Self.maximumUnmatchedNames {
                    state.closedWithParentNames.insert(inner.name.excerpt(40))
                }
            }
            close(state.open[index], at: now, units: units, unit: unit, closedAtJobEnd: false, into: &state)
            state.open.remove(at: index)
            if state.open.isEmpty { state.outsideStart = now }
        case .metric: break  // taken without a reading, in record(_:)
        case .event(let name):
            if state.summary.events.count < Self.maximumRows {
                state.summary.events.append((name, origin.seconds(to: now.instant)))
            } else {
                state.droppedEvents += 1
            }
        }
    }

    /// Adds the energy outside top-level phases from `start` to `end`; a window of no time adds nothing (marks
    /// read together, or after the job's last sample, fall on one instant).
    private func addOutside(from start: SamplerCheckpoint, to end: SamplerCheckpoint, to state: inout State) {
        guard start.instant < end.instant else {
            state.outside = state.outside ?? 0
            return
        }
        if let joules = energy(from: start, to: end).joules {
            state.outside = (state.outside ?? 0) + joules
        } else {
            state.outsideUnknown = true
        }
    }

    private func close(
        _ open: Open, at end: SamplerCheckpoint, units: Double?, unit: String?, closedAtJobEnd: Bool,
        into state: inout State
    ) {
        let measured = energy(from: open.start, to: end)
        let record = PhaseRecord(
            name: open.name, parent: open.parent, start: origin.seconds(to: open.start.instant),
            end: origin.seconds(to: end.instant), joules: measured.joules, domains: measured.domains, units: units,
            unit: unit, closedAtJobEnd: closedAtJobEnd)
        if state.summary.phases.count < Self.maximumRows {
            state.summary.phases.append(record)
        } else {
            state.droppedPhases += 1
        }
        let position: Int
        if let known = state.aggregateIndex[open.name] {
            position = known
        } else {
            guard state.summary.aggregates.count < Self.maximumNames else {
                state.tooManyNames += 1
                return
            }
            position = state.summary.aggregates.count
            state.aggregateIndex[open.name] = position
            state.summary.aggregates.append(PhaseAggregate(name: open.name))
        }
        var aggregate = state.summary.aggregates[position]
        aggregate.count += 1
        aggregate.seconds += record.end - record.start
        if let joules = record.joules {
            aggregate.joules = (aggregate.joules ?? 0) + joules
            aggregate.minimumJoules = min(aggregate.minimumJoules ?? joules, joules)
            aggregate.maximumJoules = max(aggregate.maximumJoules ?? joules, joules)
        }
        if let units {
            aggregate.units = (aggregate.units ?? 0) + units
            aggregate.unit = aggregate.unit ?? unit
        }
        state.summary.aggregates[position] = aggregate
    }

    /// The counted energy between two readings; none for a window of no time (a phase whose marks were read
    /// together cannot be told apart from nothing: it is not measured, never 0 J).
    private func energy(from start: SamplerCheckpoint, to end: SamplerCheckpoint) -> (
        joules: Double?, domains: [(id: String, joules: Double)]
    ) {
        guard start.instant < end.instant else { return (nil, []) }
        let result = sampler.measurement(from: start, to: end)
        let domains = result.counted.compactMap { channel in
            channel.energy.map { (channel.descriptor.id.rawValue, $0.value) }
        }
        return (result.countedEnergy?.value, domains)
    }

    private func warnings(_ state: State) -> [String] {
        var result: [String] = []
        if state.invalid > 0 {
            result.append(
                "\(state.invalid) mark(s) were not understood and were ignored (the first: \(state.firstInvalid ?? "?"))."
            )
        }
        for (name, count) in state.unmatchedEnds.sorted(by: { $0.key < $1.key }) {
            result.append("\"end \(name)\" came \(count) time(s) with no open phase of that name: ignored.")
        }
        let unlisted = state.unmatchedEndCount - state.unmatchedEnds.values.reduce(0, +)
        if unlisted > 0 {
            result.append(
                "\(unlisted) more end mark(s) with other names matched no open phase: ignored (the first "
                    + "\(Self.maximumUnmatchedNames) names are listed).")
        }
        if !state.closedWithParentNames.isEmpty {
            result.append(
                "Phase(s) still open when a phase they began inside ended were closed with it: "
                    + "\(state.closedWithParentNames.sorted().joined(separator: ", ")) (phases nest: `end a` ends "
                    + "what began inside a; their own later end marks are ignored).")
        }
        if state.late > 0 {
            result.append(
                "\(state.late) mark(s) reached the sampler after the readings around them were discarded: placed at "
                    + "the oldest reading kept (their phases' energy is approximate).")
        }
        let open = state.summary.phases.filter(\.closedAtJobEnd).map(\.name)
        if !open.isEmpty {
            result.append(
                "Phase(s) never ended, closed at the job's end: \(Set(open).sorted().joined(separator: ", ")).")
        }
        if state.droppedPhases > 0 {
            result.append(
                "\(state.droppedPhases) phase(s) beyond the first \(Self.maximumRows) are counted in their name's "
                    + "totals (phase_totals) but not listed one by one.")
        }
        if state.droppedEvents > 0 {
            result.append("\(state.droppedEvents) event(s) beyond the first \(Self.maximumRows) are not listed.")
        }
        if state.tooManyOpen > 0 {
            result.append(
                "\(state.tooManyOpen) begin mark(s) came with \(Self.maximumOpen) phases already open: ignored.")
        }
        if state.tooManyNames > 0 {
            result.append(
                "\(state.tooManyNames) phase(s) had names beyond the first \(Self.maximumNames) distinct ones: listed "
                    + "(while rows remain) but not totalled.")
        }
        if state.tooManyMetrics > 0 {
            result.append(
                "\(state.tooManyMetrics) metric(s) had names beyond the first \(Self.maximumMetrics) distinct ones: "
                    + "ignored.")
        }
        if state.afterEnd > 0 { result.append("\(state.afterEnd) mark(s) came after the command ended: ignored.") }
        return result
    }
}
