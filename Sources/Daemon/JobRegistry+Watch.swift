import Foundation
import Impact
import LinuxSupport
import Meter
import Reports
import SustainAPI
import SustainConfiguration
import SustainCore

/// One watched server's counters for Prometheus.
public struct WatchCounter: Sendable, Equatable {
    public var name: String
    public var joules: Double
    public var grams: Double
    /// The units served since the service started watching it; nil when none is configured or counted yet.
    public var units: Double?
    public var unit: String
    /// 1 while the server is found (its cgroup exists).
    public var up: Bool
    /// 1 while its units endpoint answers (nil: none configured).
    public var unitsUp: Bool?
    /// The container or pod its cgroup says it runs in.
    public var container: [String: String]? = nil
}

/// Deployed models' servers (`[[watch]]`), watched beside the jobs: each is an entry `watch:NAME` on the same
/// attribution ledger (so jobs + watches + the remainder = the machine's energy), plus the GPUs its processes use,
/// charged at the grid's intensity as it goes; its units of work scraped from its own metrics endpoint or counted
/// by marks; a report of each period in the database.
extension JobRegistry {
    /// Starts watching the configured servers not yet watched, and stops watching those no longer configured (a
    /// reloaded configuration): a stopped watch's energy stays in the ledger's finished total.
    public func configureWatches(_ configured: [Configuration.Watch]? = nil) {
        let configured = configured ?? configuration.watches
        if !watchPeriodsRecovered {
            watchPeriodsRecovered = true
            recoverWatchPeriods(configured)
        }
        guard let checkpoint = sampler.checkpointNow() ?? sampler.latestCheckpoint else { return }
        attributor.step(to: checkpoint)
        for name in watches.keys where !configured.contains(where: { $0.name == name }) {
            let root = watches[name]?.location?.root
            _ = attributor.remove(job: WatchState.ledgerID(name))
            watches[name] = nil
            if let root { releaseGPUWatch(of: root.pid) }
            logger.info("watch removed", metadata: ["watch": "\(name)"])
        }
        let now = wallClock(of: checkpoint.instant)
        for watch in configured {
            if let existing = watches[watch.name], existing.config == watch { continue }
            let previousRoot = watches[watch.name]?.location?.root
            if watches[watch.name] != nil {
                // Changed: watched anew under the same name.
                _ = attributor.remove(job: WatchState.ledgerID(watch.name))
            }
            let totals = WatchState.Totals(domains: attributor.domains.count)
            watches[watch.name] = WatchState(
                config: watch, retired: totals, lastCheckpoint: checkpoint,
                period: WatchState.Period(start: checkpoint, startedAt: now, totals: totals))
            if let previousRoot { releaseGPUWatch(of: previousRoot.pid) }
            logger.info("watching", metadata: ["watch": "\(watch.name)"])
        }
        refreshWatches(at: checkpoint)
    }

    /// Finds each watched server again (a restarted unit has a new cgroup, a pid file a new process) and accounts
    /// its energy and carbon up to `checkpoint`.
    func refreshWatches(at checkpoint: SamplerCheckpoint) {
        attributor.step(to: checkpoint)
        guard !watches.isEmpty else { return }
        let settings = carbonSettings(at: checkpoint)
        for name in watches.keys {
            guard var watch = watches[name] else { continue }
            account(&watch, to: checkpoint, charging: settings)
            let found: Result<WatchState.Location, WatchMissing> =
                attributor.mount.map { WatchState.locate(watch.config.target, mount: $0) }
                ?? .failure(WatchMissing(attributor.unavailable ?? "no cgroup v2 hierarchy"))
            switch found {
            case .success(let location):
                if location.cgroup != watch.location?.cgroup {
                    retire(&watch)
                    attributor.add(job: watch.ledgerID, cgroup: location.cgroup, owner: location.owner)
                    if watch.location != nil {
                        watch.note("The server moved to cgroup \(location.cgroup) (restarted) during the period.")
                    }
                }
                // The tree whose GPU use is charged: its first process now.
                let previous = watch.location?.root
                if let root = location.root, root != previous { sampler.watch(jobRoot: root.pid) }
                watch.location = location
                watch.missing = nil
                watch.period.found = true
                watches[name] = watch
                if let previous, previous != location.root { releaseGPUWatch(of: previous.pid) }
            case .failure(let missing):
                if watch.location != nil { retire(&watch) }
                let previous = watch.location?.root
                watch.location = nil
                watch.missing = missing.reason
                watch.period.missing = missing.reason
                watches[name] = watch
                if let previous { releaseGPUWatch(of: previous.pid) }
            }
        }
    }

    /// Stops following process `pid`'s GPU use unless an open job or a watch still follows it (an attach of a
    /// watched server shares the server's first process with its watch).
    func releaseGPUWatch(of pid: Int32) {
        guard !jobs.values.contains(where: { $0.attribution?.root == pid }),
            !watches.values.contains(where: { $0.location?.root?.pid == pid })
        else { return }
        sampler.unwatch(jobRoot: pid)
    }

    /// Ends the watch's ledger entry for its present cgroup, keeping what it got.
    private func retire(_ watch: inout WatchState) {
        if let ledger = attributor.remove(job: watch.ledgerID) { watch.retired.add(ledger) }
    }

    /// The watch's totals now (the caller has stepped the ledger).
    func totals(of watch: WatchState) -> WatchState.Totals {
        var totals = watch.retired
        if let ledger = attributor.jobs[watch.ledgerID] { totals.add(ledger) }
        totals.gpu = watch.gpu
        totals.grams = watch.grams
        totals.units = watch.scraped.total + watch.marked
        return totals
    }

    /// The service's carbon settings at the grid's intensity at `checkpoint`: the configured series' hour, else
    /// the configured figure. Read once per refresh, for every watch (the series file is read to see if it changed).
    private func carbonSettings(at checkpoint: SamplerCheckpoint) -> CarbonSettings {
        var settings = carbon
        if let series = configuredSeries().series,
            let point = series.point(at: wallClock(of: checkpoint.instant).timeIntervalSince1970)
        {
            settings.intensity = CarbonIntensity(
                gramsPerKilowattHour: point.gramsPerKilowattHour, basis: settings.intensity.basis)
        }
        return settings
    }

    /// Adds the GPU energy the server's processes used since the last accounting, and charges the energy since
    /// then at `settings` (the intensity now).
    private func account(_ watch: inout WatchState, to checkpoint: SamplerCheckpoint, charging settings: CarbonSettings)
    {
        guard checkpoint.instant > watch.lastCheckpoint.instant else { return }
        if let root = watch.location?.root, sampler.channels.contains(where: { $0.kind == .gpu }) {
            let measurement = sampler.measurement(
                from: watch.lastCheckpoint, to: checkpoint,
                job: JobAttribution(root: root.pid, visibleDevices: nil, processesOnly: true))
            watch.gpu += measurement.counted.filter { $0.descriptor.kind == .gpu }.compactMap { $0.energy?.value }
                .reduce(0, +)
        }
        watch.lastCheckpoint = checkpoint
        let energy = totals(of: watch).joules
        let delta = max(0, energy - watch.accounted)
        watch.accounted = energy
        guard delta > 0 else { return }
        watch.grams += CarbonAssessment(energy: Joules(delta), settings: settings).emissions?.grams ?? 0
    }

    /// The watched servers whose units are scraped, and how.
    public func watchScrapers(transport: any ScrapeTransport = HTTPScrapeTransport()) -> [(
        name: String, scraper: UnitsScraper
    )] {
        watches.values.compactMap { watch in
            guard let text = watch.config.unitsURL, let url = try? PlainHTTPURL(text),
                let selector = watch.config.unitsMetric
            else { return nil }
            return (watch.config.name, UnitsScraper(url: url, selector: selector, transport: transport))
        }.sorted { $0.name < $1.name }
    }

    /// Finds the servers again and accounts their energy: every scrape interval.
    public func refreshWatches() {
        if let checkpoint = sampler.latestCheckpoint { refreshWatches(at: checkpoint) }
    }

    /// Takes scrapes' results as they come back.
    public func recordScrapes(_ results: [(name: String, result: Result<Double, ScrapeError>)]) {
        for (name, result) in results {
            guard var watch = watches[name] else { continue }
            watch.scraped.record(result)
            watch.period.scrapes += 1
            if case .failure(let error) = result {
                watch.period.failures += 1
                watch.period.lastFailure = error.description
                logger.debug("units scrape failed", metadata: ["watch": "\(name)", "error": "\(error)"])
            }
            watches[name] = watch
        }
    }

    /// Units of work the application counted itself (`sustain-measure mark count`): root, an admin, or a
    /// process inside the watched server's cgroup.
    public func countUnits(_ name: String, _ count: Double, by identity: Identity) throws(JobError) {
        guard var watch = watches[name] else { throw .notFound("watch \(name)") }
        guard count.isFinite, count >= 0, count <= 1e15 else {
            throw .invalid("count must be a finite number of units from 0 to 1e15")
        }
        if !identity.isAdmin {
            guard let cgroup = watch.location?.cgroup, let own = CgroupV2.path(ofProcess: identity.pid),
                own == cgroup || own.hasPrefix(cgroup + "/")
            else {
                throw .notAllowed(
                    "only root, an admin or a process of the watched server (cgroup "
                        + "\(watch.location?.cgroup ?? "not found")) may count its units")
            }
        }
        watch.marked += count
        watches[name] = watch
    }

    /// Every watched server's counters now.
    public func watchCounters() -> [WatchCounter] {
        if let checkpoint = sampler.latestCheckpoint { attributor.step(to: checkpoint) }
        return watches.values.map { watch in
            let totals = totals(of: watch)
            return WatchCounter(
                name: watch.config.name, joules: totals.joules, grams: watch.grams,
                units: watch.countsUnits && (watch.scraped.scrapes > watch.scraped.failures || watch.marked > 0)
                    ? totals.units : nil,
                unit: watch.config.unit, up: watch.location != nil,
                unitsUp: watch.config.unitsURL == nil ? nil : watch.scraped.lastError == nil,
                container: watch.location.flatMap { ContainerIdentity.parse($0.cgroup)?.labels })
        }.sorted { $0.name < $1.name }
    }

    /// The watched servers now, for `GET /v1/watches`.
    public func watchList() -> WatchList {
        let counters = Dictionary(uniqueKeysWithValues: watchCounters().map { ($0.name, $0) })
        return WatchList(
            watches: watches.values.sorted { $0.config.name < $1.config.name }.map { watch in
                WatchList.Watch(
                    name: watch.config.name, target: watch.target, cgroup: watch.location?.cgroup,
                    missing: watch.missing, joules: counters[watch.config.name]?.joules ?? 0,
                    gramsCo2e: watch.grams, units: counters[watch.config.name]?.units, unit: watch.config.unit,
                    unitsError: watch.scraped.lastError?.description)
            })
    }

    /// Saves each watch's period so far (every checkpoint interval): a service that stops without writing the
    /// periods' reports (a crash, SIGKILL) writes them, up to here, when it starts again.
    public func saveWatchPeriods() {
        guard !watchesClosed, !watches.isEmpty, let checkpoint = sampler.latestCheckpoint else { return }
        refreshWatches(at: checkpoint)
        var saved: [String: String] = [:]
        for watch in watches.values {
            let period = WatchState.Saved(
                target: watch.target, period: watch.period, now: totals(of: watch), last: checkpoint,
                location: watch.location, countsUnits: watch.countsUnits)
            saved[watch.config.name] = try? Stored.encode(period)
        }
        do {
            try store.saveWatchPeriods(saved)
        } catch {
            storeFailed(error, doing: "save the watched servers' periods")
        }
    }

    /// Writes the periods a service that stopped without writing them saved, for the servers still watched the
    /// same way, and forgets them.
    func recoverWatchPeriods(_ configured: [Configuration.Watch]) {
        let saved: [String: String]
        do {
            saved = try store.watchPeriods()
        } catch {
            logger.error("cannot read the watched servers' saved periods", metadata: ["error": "\(error)"])
            return
        }
        for (name, text) in saved.sorted(by: { $0.key < $1.key }) {
            guard let config = configured.first(where: { $0.name == name }),
                let period = try? Stored.decode(WatchState.Saved.self, text),
                period.target == WatchState.targetDescription(config.target),
                period.period.start.instant.seconds(to: period.last.instant) > 0
            else { continue }
            let report = periodReport(
                period, config: config,
                extraWarnings: [
                    "The service stopped without writing this period (a crash, or SIGKILL): it ends at the service's "
                        + "last checkpoint before it stopped ([daemon] checkpoint_interval); what the server did "
                        + "after that until the service started again is not counted."
                ])
            logger.notice("watch period written after a stop", metadata: ["watch": "\(name)", "id": "\(report.id)"])
        }
        do {
            try store.saveWatchPeriods([:])
        } catch {
            storeFailed(error, doing: "forget the watched servers' saved periods")
        }
    }

    /// The watches whose period is `seconds` old or more (all of them with `force`, at shutdown) get their report,
    /// logged to the store, and a new period.
    @discardableResult
    public func reportWatches(olderThan seconds: Double, force: Bool = false) -> [Report] {
        // Every scrape tick asks; a fresh reading and a refresh only when some period is due.
        guard !watches.isEmpty, let latest = sampler.latestCheckpoint,
            force || watches.values.contains(where: { $0.period.start.instant.seconds(to: latest.instant) >= seconds }),
            let end = sampler.checkpointNow() ?? sampler.latestCheckpoint
        else { return [] }
        refreshWatches(at: end)
        var reports: [Report] = []
        for name in watches.keys.sorted() {
            guard var watch = watches[name] else { continue }
            let age = watch.period.start.instant.seconds(to: end.instant)
            guard age > 0, force || age >= seconds else { continue }
            if age < seconds {
                watch.note(
                    "The service stopped: this period ends at its shutdown, before its \(Int(seconds)) s; the next "
                        + "starts when the service does.")
            }
            reports.append(report(of: &watch, to: end))
            watches[name] = watch
        }
        if force {
            // The service stops: its periods are written, none is left to write again at the next start.
            watchesClosed = true
            do {
                try store.saveWatchPeriods([:])
            } catch {
                storeFailed(error, doing: "forget the watched servers' saved periods")
            }
        }
        return reports
    }

    /// The report of the watch's period up to `end`, logged; a new period starts at `end`.
    private func report(of watch: inout WatchState, to end: SamplerCheckpoint) -> Report {
        let now = totals(of: watch)
        let report = periodReport(
            WatchState.Saved(
                target: watch.target, period: watch.period, now: now, last: end, location: watch.location,
                countsUnits: watch.countsUnits),
            config: watch.config)
        watch.period = WatchState.Period(
            start: end, startedAt: report.endedAt, totals: now, found: watch.location != nil, missing: watch.missing)
        return report
    }

    /// The report of a period that ends at `saved.last`, logged: the running period's, or one a stopped service
    /// saved and did not write.
    func periodReport(_ saved: WatchState.Saved, config: Configuration.Watch, extraWarnings: [String] = [])
        -> Report
    {
        let (period, end, location) = (saved.period, saved.last, saved.location)
        let delta = saved.now - period.totals
        let endedAt = period.startedAt.addingTimeInterval(period.start.instant.seconds(to: end.instant))
        let job = location?.root.map { JobAttribution(root: $0.pid, visibleDevices: nil, processesOnly: true) }
        var measurement = sampler.measurement(from: period.start, to: end, job: job)
        measurement.timeline = sampler.timeline(from: period.start, to: end)
        let (series, seriesWarning) = configuredSeries()
        let attributed = delta.domains.reduce(0, +)
        let share = delta.machine > 0 ? attributed / delta.machine : nil
        let attribution =
            attributor.unavailable == nil
            ? Report.Attribution(
                method: "cgroup-cpu-time", joules: attributed, share: share,
                domains: attributor.byDomain(delta.domains), idleJoules: delta.idle,
                idlePolicy: attributor.policy.rawValue, machineJoules: delta.machine,
                cgroup: location?.cgroup ?? "",
                kgCo2e: CarbonAssessment(energy: Joules(attributed), settings: carbon).emissions?.kilograms,
                note: "Attributed, not measured: the machine's counted CPU-side energy (GPUs excluded) shared among "
                    + "the jobs and watched servers open in each second by their cgroups' CPU time. energy.joules "
                    + "is the machine's measured energy during the period; units.joules adds the GPUs the server's "
                    + "processes used.")
            : nil
        var missing: [String] = []
        let count: Double? = {
            guard saved.countsUnits else {
                missing.append(
                    "units: none configured (units_url and units_metric in its [[watch]] entry) and none counted "
                        + "by marks (sustain-measure mark count)")
                return nil
            }
            if config.unitsURL != nil, period.failures == period.scrapes {
                missing.append(
                    period.scrapes == 0
                        ? "units: the period ended before the first scrape of \(config.unitsURL ?? "")"
                        : "units: no scrape of \(config.unitsURL ?? "") worked in the period (last: "
                            + "\(period.lastFailure ?? "unknown"))")
                return nil
            }
            if period.failures > 0 {
                missing.append(
                    "units: \(period.failures) of \(period.scrapes) scrapes failed (the last: "
                        + "\(period.lastFailure ?? "unknown")); units served while the endpoint did not answer are "
                        + "counted at its next answer")
            }
            return delta.units
        }()
        var warnings = extraWarnings + period.notes
        if let reason = period.missing {
            warnings.insert(
                period.found
                    ? "For part of the period \(reason): no energy was attributed to the server then."
                    : "Not found in the whole period: \(reason). No energy was attributed to it.",
                at: 0)
        }
        if attributor.unavailable != nil {
            warnings.append(
                "Not attributed: \(attributor.unavailable ?? ""); units.joules is the machine's energy (a dedicated "
                    + "machine's), not the server's share.")
        }
        let facts = JobFacts(
            id: Report.newID(), command: RecordedCommand(text: ["watch:" + config.name]), exitCode: nil,
            signal: nil, signalsReceived: [], interrupted: false, startedAt: period.startedAt, endedAt: endedAt,
            host: Report.Host.current())
        var report = Report.assemble(
            FinishedJob(
                facts: facts, measurement: measurement, sources: sources, carbon: carbon, series: series,
                seriesWarning: seriesWarning, attribution: attribution, labels: ["watch": config.name],
                container: location.flatMap { ContainerIdentity.parse($0.cgroup)?.labels },
                lastWarnings: warnings))
        report.watched = Report.Watched(
            name: config.name, target: saved.target, cgroup: location?.cgroup,
            periodSeconds: report.durationSeconds)
        report.units = unitsSection(
            count: count, unit: config.unit,
            source: config.unitsURL.map { "scrape \($0) \(config.unitsMetric?.description ?? "")" }
                ?? "marks (sustain-measure mark count)",
            missing: missing, attributedJoules: attribution == nil ? nil : delta.joules, share: share, of: report)
        let owner = location?.owner ?? 0
        let user = Identity.userName(owner) ?? "uid \(owner)"
        report.owner = Report.Owner(uid: owner, user: user, pid: location?.root?.pid)
        report.measuredBy = "sustain-measured"
        record(&report, identity: Identity(uid: owner, gid: 0, pid: 0, user: user, isAdmin: false), state: "watch")
        let joules = report.units?.joules.map { String($0) } ?? "null"
        let units = report.units?.count.map { String($0) } ?? "null"
        logger.info(
            "watch report",
            metadata: [
                "watch": "\(config.name)", "id": "\(report.id)", "joules": "\(joules)", "units": "\(units)",
            ])
        return report
    }

    /// A report's units section: E is the server's attributed energy (`attributedJoules`: its CPU-side share and its
    /// GPUs) or, where nothing can be attributed, the machine's; M its resource share of the machine's embodied
    /// emissions over the window; water at `[impact] wue_l_per_kwh`.
    func unitsSection(
        count: Double?, unit: String, source: String, missing: [String], attributedJoules: Double?, share: Double?,
        of report: Report
    ) -> Report.Units {
        let impact = configuration.impact
        return Report.units(
            count: count, unit: unit, source: source, joules: attributedJoules ?? report.energy.joules,
            energyBasis: attributedJoules == nil ? "machine" : "attributed", report: report,
            resourceShare: attributedJoules == nil ? 1 : share ?? 0,
            embodied: impact.embodiedKgCO2e.flatMap { kilograms in
                impact.lifetimeYears.flatMap { EmbodiedEmissions(kilograms: kilograms, lifetimeYears: $0) }
            }, water: impact.wueLitresPerKilowattHour.flatMap { WaterUsage(litresPerKilowattHour: $0) },
            basis: carbon.intensity.basis, missing: missing)
    }

    /// `sustain-measure attach`: the server observed, and the units the client counted over the job's window (when
    /// it counted any), charged the server's energy.
    func attached(_ served: UnitsServed?, to report: inout Report) {
        report.watched = Report.Watched(
            name: "attach", target: report.labels["attach"] ?? report.command.joined(separator: " "),
            cgroup: report.attribution?.cgroup, periodSeconds: report.durationSeconds)
        guard let served else { return }
        let gpu = report.energy.domains.filter { $0.counted && $0.kind == "gpu" }.compactMap(\.joules).reduce(0, +)
        let attributed = report.attribution.map { $0.joules + gpu }
        report.units = unitsSection(
            count: served.count, unit: served.unit, source: served.source, missing: served.missing,
            attributedJoules: attributed, share: report.attribution?.share, of: report)
        if attributed == nil {
            report.warnings.append(
                "units.joules is the machine's energy during the window, not the server's share: the server's "
                    + "energy could not be attributed (see above).")
        }
    }

    /// A client's units, checked: nothing unbounded reaches a report.
    static func check(_ served: UnitsServed) throws(JobError) {
        guard served.count.map({ $0.isFinite && $0 >= 0 && $0 <= 1e18 }) ?? true else {
            throw .invalid("units.count must be a finite number from 0 to 1e18, or null")
        }
        guard Configuration.isUnitName(served.unit) else {
            throw .invalid("units.unit must be a word such as \"token\" or \"request\"")
        }
        guard served.source.utf8.count <= 4096, served.missing.count <= 20,
            served.missing.allSatisfy({ $0.utf8.count <= 1024 })
        else { throw .invalid("units.source (4096 bytes) and units.missing (20 of 1024 bytes) are bounded") }
    }
}
