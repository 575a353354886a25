import Glibc
import LinuxSupport
import Logging
import SustainCore
import Synchronization

/// What the sampler has seen so far, for a live status line.
public struct LiveSnapshot: Sendable, Equatable {
    public var elapsed: Duration = .zero
    /// Counted energy so far; nil while nothing counted has been measured.
    public var energy: Joules?
    /// Counted power over about the last second; nil while nothing counted has been measured.
    public var power: Watts?
}

/// Samples every readable channel of its sources on one thread at a fixed interval and accumulates energy.
///
/// `start()` takes the first sample on the calling thread (immediately before the measured work starts) and then
/// samples on its own thread; `stop()` takes the last sample at once and returns the result. The sources are
/// touched by one thread at a time.
public final class Sampler: @unchecked Sendable {
    public let channels: [ChannelDescriptor]
    public let interval: Duration
    public let intervalLimit: Duration?
    /// True when a requested interval was longer than the counters allow and was shortened.
    public let intervalCapped: Bool
    public private(set) var decisions: [ChannelID: DomainDecision] = [:]

    /// Temperatures change slowly and cost a file open per read: read them at most this often.
    public static let temperatureInterval: Duration = .seconds(1)

    private let sources: [any EnergySource]
    /// The sources that charge devices to jobs: the one place the sampler asks for that role.
    private let attributing: [any JobAttributingSource]
    private let slotChannels: [ChannelDescriptor]
    /// The hot state, one stored property so a tick pays one exclusivity check, not one per field.
    private var state: Accumulation
    private var timer: PeriodicTimer?
    /// CPU time the sampling thread used, set when it ends (read after `join`).
    private var samplerCPUSeconds = 0.0
    private var thread: NativeThread?
    private let live = Mutex(LiveSnapshot())
    private let logger: Logger
    private let publishesCheckpoints: Bool
    private let latest = Mutex<SamplerCheckpoint?>(nil)
    /// The last published readings, for instants a client reports late (`checkpoint(resolving:)`).
    private let recent = Mutex(RecentReadings())
    /// Set once `stop()` has taken the last sample: no reading is taken after it.
    private let stopped = Atomic<Bool>(false)
    private let sampling = Atomic<UInt64>(0)
    /// Serialises ticks: the sampling thread's and the fresh readings a daemon takes at a job's start or stop.
    private let ticking = Mutex(())

    /// Where every sample's instant comes from (the system's monotonic clock; a test's manual clock).
    public let clock: any InstantSource

    /// With `publishesCheckpoints`, every tick publishes the running totals (`checkpoint(at:)`), for a daemon that
    /// measures many jobs' windows from one sampler. `timeline` keeps the power of every energy channel over time:
    /// `.whole` for one run (buckets start at the sampling interval and merge as the run grows), `.recent` for a
    /// service (a ring of `timelineBucket`-wide buckets that jobs cut their windows out of).
    public init(
        sources: [any EnergySource], requestedInterval: Duration? = nil, publishesCheckpoints: Bool = false,
        timeline: PowerTimeline.Retention? = .whole(maximumBuckets: PowerTimeline.defaultMaximumBuckets),
        timelineBucket: Duration? = nil, clock: any InstantSource = SystemClock(), logger: Logger
    ) throws {
        self.clock = clock
        self.logger = logger
        self.publishesCheckpoints = publishesCheckpoints
        var slots: [Accumulation.Slot] = []
        var slotChannels: [ChannelDescriptor] = []
        for source in sources {
            for (index, descriptor) in source.channels.enumerated() where descriptor.unreadable == nil {
                slots.append(.init(source: source, index: index, isTemperature: !descriptor.isEnergy))
                slotChannels.append(descriptor)
            }
        }
        self.sources = sources
        attributing = sources.compactMap { $0 as? any JobAttributingSource }
        self.slotChannels = slotChannels
        self.channels = sources.flatMap(\.channels)
        let ranges = slotChannels.compactMap { channel -> CounterRange? in
            if case .energyCounter(let range) = channel.quantity { return range }
            return nil
        }
        let choice = SamplingInterval.choose(
            for: ranges, maximumIntervals: slotChannels.compactMap(\.maximumInterval), requested: requestedInterval)
        (interval, intervalLimit, intervalCapped) = (choice.interval, choice.limit, choice.capped)
        state = Accumulation(
            slots: slots, tracks: slotChannels.map { ChannelTrack(quantity: $0.quantity) }, interval: choice.interval)
        timelineSeries = slotChannels.filter(\.isEnergy).map(\.id)
        if let timeline {
            var series = 0
            state.seriesOfSlot = slotChannels.map { channel in
                guard channel.isEnergy else { return -1 }
                defer { series += 1 }
                return series
            }
            state.timeline = PowerTimeline(
                series: series, bucketSeconds: (timelineBucket ?? choice.interval) / .seconds(1), retention: timeline)
        }
    }

    /// The channel of each timeline series.
    private let timelineSeries: [ChannelID]

    /// The power timeline of the whole run so far; nil without one. Safe from any thread.
    public func timeline() -> TimelineData? {
        ticking.withLock { _ in
            state.timeline.map { TimelineData(timeline: $0, series: timelineSeries, firstBucketOffset: 0) }
        }
    }

    /// The power timeline between two checkpoints, cut out of the running one (a service's ring), merged down to
    /// at most `maximumBuckets`, each series calibrated to the checkpoints' exact energy; nil without one, or when
    /// the ring no longer holds the start. Safe from any thread.
    public func timeline(
        from start: SamplerCheckpoint, to end: SamplerCheckpoint,
        maximumBuckets: Int = PowerTimeline.defaultMaximumBuckets
    ) -> TimelineData? {
        ticking.withLock { _ in
            guard let origin = state.start, let timeline = state.timeline else { return nil }
            let from = max(0, origin.seconds(to: start.instant))
            guard
                var window = timeline.window(
                    from: from, to: max(from, origin.seconds(to: end.instant)), maximumBuckets: maximumBuckets)
            else { return nil }
            var before: [ChannelID: ChannelTotal] = [:]
            for total in start.channels { before[total.id] = total }
            for total in end.channels {
                guard let series = timelineSeries.firstIndex(of: total.id), let first = before[total.id] else {
                    continue
                }
                window.calibrate(series: series, to: max(0, total.joules - first.joules))
            }
            let offset = Double(Int(from / timeline.bucketSeconds)) * timeline.bucketSeconds - from
            return TimelineData(timeline: window, series: timelineSeries, firstBucketOffset: offset)
        }
    }

    /// Takes the first sample now, decides which domains are counted, and starts sampling on a thread.
    public func start() throws {
        state.start = clock.now
        tick()
        var firstReadings: [ChannelID: MicrojouleCounter] = [:]
        for (index, track) in state.tracks.enumerated() {
            if let value = track.firstCounterReading { firstReadings[slotChannels[index].id] = value }
        }
        decisions = DomainPolicy.decide(channels, firstReadings: firstReadings)
        for index in state.slots.indices {
            state.slots[index].counted = decisions[slotChannels[index].id]?.counted ?? false
        }
        let timer = try PeriodicTimer(interval: interval)
        self.timer = timer
        thread = try NativeThread(name: "sustain-sampler") { [self] in run(timer) }
    }

    /// Takes the last sample at once, stops the thread and returns what was measured.
    public func stop() -> MeasurementResult {
        timer?.stop()
        thread?.join()
        thread = nil
        ticking.withLock { _ in stopped.store(true, ordering: .releasing) }  // a reading in progress ends first
        return result()
    }

    /// The latest live figures; safe from any thread.
    public var snapshot: LiveSnapshot { live.withLock { $0 } }

    /// Reads every readable channel once and records the readings. Public for the benchmark.
    public func sampleOnce() { tick() }

    private func run(_ timer: PeriodicTimer) {
        let cpuStart = Self.threadCPUSeconds()
        while case .tick = timer.next() { _ = tightTick(attempts: 3) }
        _ = tightTick(attempts: 8)  // the last sample, right after the stop request
        samplerCPUSeconds = Self.threadCPUSeconds() - cpuStart
    }

    /// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
    public static func threadCPUSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
    }

    /// Reads every channel once; returns how long the reads took, in seconds.
    @discardableResult
    private func tick() -> Double {
        let began = clock.now
        let realBegan = MonotonicInstant.now
        let update = state.tick(began)
        let reading = realBegan.seconds(to: .now)
        if let update {
            live.withLock { $0 = update }
        }
        if publishesCheckpoints {
            let checkpoint = state.checkpoint(ids: slotChannels.map(\.id))
            latest.withLock { $0 = checkpoint }
            // Only readings whose counters are at their instant place later events (a preempted one is not).
            if reading <= Self.looseReading { recent.withLock { $0.append(checkpoint) } }
            sampling.add(UInt64(max(0, realBegan.seconds(to: .now)) * 1e9), ordering: .relaxed)
        }
        return reading
    }

    /// Wall time spent taking samples so far (reading every source and publishing the totals), for a daemon's
    /// metrics; counted only with `publishesCheckpoints`.
    public var samplingSeconds: Double { Double(sampling.load(ordering: .relaxed)) * 1e-9 }

    /// The running totals at `instant`, extrapolated from the latest tick at each channel's latest power; nil
    /// before the first tick or without `publishesCheckpoints`. Safe from any thread.
    public func checkpoint(at instant: MonotonicInstant? = nil) -> SamplerCheckpoint? {
        latest.withLock { $0 }?.extrapolated(to: instant ?? clock.now)
    }

    /// A fresh reading whose reads all fall within this many seconds of its instant.
    static let tightReading = 0.000_2

    /// Reads every channel now and returns the running totals at that reading: a job's start or stop (or a phase
    /// mark) is exact to the reading, not to the tick, and the checkpoint's instant is the reading's. Nil before
    /// the first tick or without `publishesCheckpoints`. Safe from any thread; one read of every zone costs a few
    /// microseconds.
    /// After `stop()` it is the last sample: nothing is read once the sampler has stopped.
    public func checkpointNow() -> SamplerCheckpoint? {
        guard publishesCheckpoints, latestCheckpoint != nil else { return nil }
        // The checkpoint's instant is when the reads began: a read preempted midway (a loaded machine) puts the
        // counters later than that instant, and a job's energy short by the preemption × its power (seen: 90 ms,
        // −4.3 % of a 2 s job). Such a reading is taken again, at most seven more times, and the tightest is
        // returned: each is a true reading of the counters, so an earlier tight one is as good as a later one.
        return tightTick(attempts: 8) ?? latestCheckpoint
    }

    /// A reading preempted this long or more is not used to place events between readings.
    static let looseReading = 0.001

    /// Reads every channel, again while the reads took longer than `tightReading` (at most `attempts` times), and
    /// returns the tightest reading's totals; after `stop()`, the last sample, without reading.
    private func tightTick(attempts: Int) -> SamplerCheckpoint? {
        var best: (span: Double, checkpoint: SamplerCheckpoint?)?
        for _ in 0..<attempts {
            let (span, checkpoint) = ticking.withLock { _ -> (Double, SamplerCheckpoint?) in
                if stopped.load(ordering: .acquiring) { return (0, latestCheckpoint) }
                let span = tick()
                return (span, latestCheckpoint)
            }
            if best.map({ span < $0.span }) ?? true { best = (span, checkpoint) }
            if span <= Self.tightReading { break }
        }
        return best?.checkpoint
    }

    /// The running totals when something happened at `instant`, learnt of later (a mark relayed in a batch, a job
    /// whose stop request was delayed): between the two readings around `instant`, a fresh one taken when none is
    /// after it yet (after `stop()`, the last sample stands for every later instant). `late` is true when
    /// `instant` is older than every reading kept: the oldest is returned. Nil before the first tick or without
    /// `publishesCheckpoints`.
    public func checkpoint(resolving instant: MonotonicInstant, promptness: Double = promptness) -> (
        checkpoint: SamplerCheckpoint, late: Bool
    )? {
        guard let newest = latestCheckpoint else { return nil }
        // Told within `promptness` of the instant: a fresh reading stands for it, as if it came at once (spreading
        // it over the span between two ticks would blur a power step, and a tick is not retaken when preempted).
        if instant.seconds(to: clock.now) <= promptness { return (checkpointNow() ?? newest, false) }
        // Told late: between the readings around the instant, a fresh one taken when none is after it yet.
        let after = newest.instant < instant ? (checkpointNow() ?? newest) : newest
        if after.instant <= instant { return (after, false) }
        return resolved(instant, newest: after)
    }

    /// A mark learnt of within this many seconds is taken at a fresh reading; later ones between readings.
    public static let promptness = 0.05
    /// A job's stop learnt of within this many seconds of the command's end is taken at a fresh reading, exactly
    /// as one that came at once: between two readings a loaded machine's 10 Hz ticks (not retaken when a read is
    /// preempted) measured up to 0.5 % short on 2 s jobs; a stop held back longer (a flood of marks before it) is
    /// placed between the readings around the command's end.
    public static let stopPromptness = 0.25

    /// `instant` (no later than `newest`) between the kept readings; the oldest kept when it is older than all.
    private func resolved(_ instant: MonotonicInstant, newest: SamplerCheckpoint) -> (
        checkpoint: SamplerCheckpoint, late: Bool
    ) {
        recent.withLock { recent in
            if let resolved = recent.checkpoint(at: instant) { return (resolved, false) }
            return (recent.oldest ?? newest, true)
        }
    }

    /// The running totals at the latest tick, not extrapolated (raw counters and totals agree): what a daemon
    /// persists. Nil before the first tick or without `publishesCheckpoints`.
    public var latestCheckpoint: SamplerCheckpoint? { latest.withLock { $0 } }

    /// Each readable energy domain's latest power and energy since the start: the one per-domain projection that
    /// the JSON snapshot and the Prometheus metrics both show. Empty before the first tick.
    public func domainTotals() -> [DomainTotal] {
        guard let checkpoint = checkpoint() else { return [] }
        var totals: [ChannelID: ChannelTotal] = [:]
        for total in checkpoint.channels { totals[total.id] = total }
        return channels.compactMap { channel in
            guard channel.isEnergy, channel.unreadable == nil, let total = totals[channel.id] else { return nil }
            return DomainTotal(
                channel: channel, counted: decisions[channel.id]?.counted ?? false, watts: total.watts,
                joules: total.joules)
        }
    }

    /// The wrapper's job: the child's process tree, for the devices charged by which processes ran on them.
    public func attach(jobRoot root: Int32) { for source in attributing { source.attach(jobRoot: root) } }
    /// A daemon's job: watch which devices run processes of the tree under `root` (NVIDIA GPUs).
    public func watch(jobRoot root: Int32) { for source in attributing { source.watch(jobRoot: root) } }
    public func unwatch(jobRoot root: Int32) { for source in attributing { source.unwatch(jobRoot: root) } }
    /// The devices charged by job attribution, for the report.
    public var gpus: [GPUDescription] { attributing.flatMap(\.gpus) }

    /// What was measured between two checkpoints of this sampler: a job's window. `job` names the job's process
    /// tree (watched since its start) and `CUDA_VISIBLE_DEVICES`, for the GPUs it is charged.
    public func measurement(
        from start: SamplerCheckpoint, to end: SamplerCheckpoint, job: JobAttribution? = nil
    ) -> MeasurementResult {
        var decisions = self.decisions
        for source in attributing {
            source.refine(
                &decisions, jobRoot: job?.root, visibleDevices: job?.visibleDevices,
                processesOnly: job?.processesOnly ?? false)
        }
        var result = Self.window(from: start, to: end, channels: channels, decisions: decisions)
        result.interval = interval
        result.intervalLimit = intervalLimit
        result.warnings = result.channels.flatMap(Self.warnings(for:))
        return result
    }

    /// The one way two sets of running totals become a measurement, for the wrapper's whole run and the service's
    /// job windows (and, later, phases) alike: per channel, the difference of the totals; energy only where the
    /// window holds two good readings (a baseline and one more), never 0 J for nothing measured.
    static func window(
        from start: SamplerCheckpoint, to end: SamplerCheckpoint, channels descriptors: [ChannelDescriptor],
        decisions: [ChannelID: DomainDecision]
    ) -> MeasurementResult {
        var starts: [ChannelID: ChannelTotal] = [:]
        for total in start.channels { starts[total.id] = total }
        var ends: [ChannelID: ChannelTotal] = [:]
        for total in end.channels { ends[total.id] = total }
        let channels = descriptors.map { descriptor in
            var result = ChannelResult(
                descriptor: descriptor, decision: decisions[descriptor.id], energy: nil, method: .none, readings: 0,
                errors: 0, wraps: 0, resets: 0, ambiguousIntervals: 0)
            guard let last = ends[descriptor.id] else { return result }
            let first =
                starts[descriptor.id]
                ?? ChannelTotal(
                    id: descriptor.id, joules: 0, measured: false, watts: 0, readings: 0, errors: 0, wraps: 0,
                    resets: 0, counter: nil)
            result.readings = last.readings - (first.readingsBefore ?? first.readings)
            result.errors = last.errors - first.errors
            result.wraps = last.wraps - first.wraps
            result.resets = last.resets - first.resets
            switch descriptor.quantity {
            case .energyCounter: result.method = .counter
            case .power: result.method = .powerIntegration
            case .temperature: result.method = .none
            }
            if descriptor.isEnergy, last.measured, result.readings >= (first.measured ? 1 : 2) {
                result.energy = Joules(max(0, last.joules - first.joules))
            }
            return result
        }
        return MeasurementResult(
            channels: channels, interval: .zero, intervalLimit: nil, duration: start.instant.duration(to: end.instant),
            samples: end.samples - start.samples, peakPower: nil, samplerCPUSeconds: 0, warnings: [])
    }

    /// The wrapper's whole run: the window from the sampler's origin (no totals, nothing read: every reading
    /// counts, the first one as a baseline) to the last sample, with what only the sampler's own tracks know added
    /// (the first failure, ambiguous intervals, temperatures, the peak power).
    private func result() -> MeasurementResult {
        for source in attributing { source.refine(&decisions) }
        let last = state.checkpoint(ids: slotChannels.map(\.id))
        let origin = SamplerCheckpoint(instant: state.start ?? last.instant, channels: [], samples: 0)
        var result = Self.window(from: origin, to: last, channels: channels, decisions: decisions)
        var sampled: [ChannelID: Int] = [:]
        for (index, channel) in slotChannels.enumerated() { sampled[channel.id] = index }
        for index in result.channels.indices {
            guard let slot = sampled[result.channels[index].descriptor.id] else { continue }
            state.tracks[slot].fillDiagnostics(&result.channels[index])
        }
        result.interval = interval
        result.intervalLimit = intervalLimit
        result.peakPower = state.peakPower
        result.samplerCPUSeconds = samplerCPUSeconds
        result.timeline = state.timeline.map {
            TimelineData(timeline: $0, series: timelineSeries, firstBucketOffset: 0)
        }
        result.warnings = result.channels.flatMap(Self.warnings(for:))
        return result
    }

    static func warnings(for result: ChannelResult) -> [String] {
        let id = result.descriptor.id
        var warnings: [String] = []
        if result.errors > 0 {
            warnings.append(
                "\(id): \(result.errors) failed read(s) of \(result.descriptor.path) "
                    + "(first: \(result.firstFailure?.description ?? "unknown")); those samples were skipped")
        }
        if result.resets > 0 {
            warnings.append(
                "\(id): counter reset \(result.resets) time(s); the energy of those intervals is not counted")
        }
        if result.ambiguousIntervals > 0 {
            warnings.append(
                "\(id): \(result.ambiguousIntervals) interval(s) longer than the counter's shortest wrap period "
                    + "(sampler stalled?); a whole wrap may be missing from the total")
        }
        if result.descriptor.isEnergy, result.energy == nil, result.descriptor.unreadable == nil {
            warnings.append("\(id): fewer than two good readings; nothing measured")
        }
        return warnings
    }
}
