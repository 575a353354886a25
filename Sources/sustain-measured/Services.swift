import Daemon
import Foundation
import LinuxSupport
import Logging
import Meter
import ServiceLifecycle
import SustainConfiguration
import UnixSignals

/// Keeps the sampler running until graceful shutdown, then takes its last sample.
struct SamplerService: Service {
    let sampler: Sampler

    func run() async throws {
        try? await gracefulShutdown()
        _ = sampler.stop()
    }
}

/// Every checkpoint interval: closes the jobs whose client process is gone, saves the sampler's running totals
/// (so every open job's energy so far is on disk), and deletes finished jobs past the retention. Saves once more
/// at shutdown, after the API has stopped.
actor CheckpointService: Service {
    let registry: JobRegistry
    let store: JobStore
    let socket: PublishedSocket?
    let interval: Double
    var retentionDays: Int
    let logger: Logger
    var lastPrune: ContinuousClock.Instant?
    var ticks = 0

    init(
        registry: JobRegistry, store: JobStore, socket: PublishedSocket?, interval: Double, retentionDays: Int,
        logger: Logger
    ) {
        self.registry = registry
        self.store = store
        self.socket = socket
        self.interval = interval
        self.retentionDays = retentionDays
        self.logger = logger
    }

    func update(retentionDays: Int) { self.retentionDays = retentionDays }

    func run() async throws {
        await tick()
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: .seconds(self.interval))
                    await self.tick()
                }
            }
        } catch is CancellationError {}
        await registry.saveCheckpoint()
        let open = await registry.openJobs
        logger.info("checkpoint saved at shutdown", metadata: ["open_jobs": "\(open)"])
    }

    private func tick() async {
        // A pid that is gone is noticed at the next tick; a reused pid within about a minute.
        ticks += 1
        if let socket { SocketFile.watch(socket, logger: logger) }
        await registry.maintainStore()
        await registry.closeAbandonedJobs(startTimes: ticks % max(1, Int(60 / interval)) == 1)
        await registry.saveCheckpoint()
        guard retentionDays > 0, lastPrune.map({ $0.duration(to: .now) >= .seconds(3600) }) ?? true else { return }
        lastPrune = .now
        do {
            let deleted = try store.prune(endedBefore: Date(timeIntervalSinceNow: -Double(retentionDays) * 86_400))
            if deleted > 0 { logger.info("retention: deleted \(deleted) job(s) older than \(retentionDays) days") }
        } catch {
            logger.error("retention: cannot delete old jobs", metadata: ["error": "\(error)"])
        }
    }
}

/// Once a second: shares the machine's energy since the last second among the open jobs by their cgroups' CPU
/// time (the job registry's attribution ledger).
struct AttributionService: Service {
    let registry: JobRegistry

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: .seconds(1))
                    await registry.attribute()
                }
            }
        } catch is CancellationError {}
    }
}

/// Every 0.2 s: the jobs that hold power limits and whose client died are closed, so that their limits come
/// back within a second even after a SIGKILL of the client and its command. Puts every limit back when the
/// service stops (a graceful shutdown: SIGTERM, SIGINT).
struct PowerWatchService: Service {
    let registry: JobRegistry

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: .seconds(JobRegistry.powerWatchInterval))
                    await registry.closeAbandonedPowerJobs()
                }
            }
        } catch is CancellationError {}
        await registry.releaseAllPowerLimits()
    }
}

/// The watched servers (`[[watch]]`): every `[daemon] watch_scrape_seconds` their units endpoints are scraped
/// (each on a thread of its own, off the cooperative pool: a scrape blocks for up to 2 s), the servers found
/// again and their energy accounted; every `[daemon] watch_report_seconds` each gets a report. At shutdown each
/// gets the report of its last, shorter period.
actor WatchService: Service {
    let registry: JobRegistry
    var scrapeSeconds: Double
    var reportSeconds: Double

    init(registry: JobRegistry, scrapeSeconds: Double, reportSeconds: Double) {
        self.registry = registry
        self.scrapeSeconds = scrapeSeconds
        self.reportSeconds = reportSeconds
    }

    func update(scrapeSeconds: Double, reportSeconds: Double) {
        self.scrapeSeconds = scrapeSeconds
        self.reportSeconds = reportSeconds
    }

    func run() async throws {
        await registry.configureWatches()
        await tick()
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: .seconds(await self.scrapeSeconds))
                    await self.tick()
                }
            }
        } catch is CancellationError {}
        await registry.reportWatches(olderThan: reportSeconds, force: true)
    }

    /// The watches whose scrape has not come back yet: not scraped again until it has, so a slow or huge endpoint
    /// (2 s and 8 MiB at most) holds up its own watch only.
    private var inFlight: Set<String> = []

    private func tick() async {
        for (name, scraper) in await registry.watchScrapers() where !inFlight.contains(name) {
            inFlight.insert(name)
            Task {
                let result = await withCheckedContinuation { continuation in
                    DispatchQueue.global().async { continuation.resume(returning: scraper.scrape()) }
                }
                await registry.recordScrapes([(name, result)])
                await self.landed(name)
            }
        }
        await registry.refreshWatches()
        await registry.reportWatches(olderThan: reportSeconds)
    }

    private func landed(_ name: String) { inFlight.remove(name) }
}

/// Reloads the configuration on SIGHUP. A bad file is rejected with its key and reason and the running
/// configuration is kept; keys that only a restart can change are named.
struct ReloadService: Service {
    let load: @Sendable () throws(ConfigurationError) -> Loaded
    let running: SustainConfiguration.Configuration
    let logger: Logger
    let apply: @Sendable (Loaded) async -> Void

    func run() async throws {
        let current = running  // restart-only keys stay as they started
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            let loaded: Loaded
            do {
                loaded = try load()
            } catch {
                logger.error("configuration reload rejected; the running configuration is kept: \(error)")
                continue
            }
            await apply(loaded)
            let new = loaded.configuration.daemon
            var restart: [String] = []
            if new.socket != current.daemon.socket { restart.append("socket") }
            if new.socketMode != current.daemon.socketMode || new.group != current.daemon.group {
                restart.append("socket_mode/group")
            }
            if new.interval != current.daemon.interval { restart.append("interval") }
            if new.database != current.daemon.database { restart.append("database") }
            if new.metricsAddress != current.daemon.metricsAddress { restart.append("metrics_address") }
            if new.perJobMetrics != current.daemon.perJobMetrics { restart.append("per_job_metrics") }
            if new.checkpointInterval != current.daemon.checkpointInterval { restart.append("checkpoint_interval") }
            if new.sources != current.daemon.sources { restart.append("sources") }
            if new.attributionIdle != current.daemon.attributionIdle { restart.append("attribution_idle") }
            if new.cgroupRoot != current.daemon.cgroupRoot { restart.append("cgroup_root") }
            if new.host != current.daemon.host { restart.append("host") }
            logger.notice(
                "configuration reloaded",
                metadata: [
                    "intensity_g_per_kwh": "\(loaded.carbon.intensity.gramsPerKilowattHour)",
                    "admin_group": "\(new.adminGroup ?? "none")",
                    "needs_restart": "\(restart.isEmpty ? "nothing" : restart.joined(separator: ", "))",
                ])
        }
    }
}
