import ArgumentParser
import Daemon
import Foundation
import Hummingbird
import Impact
import LinuxSupport
import Logging
import Meter
import Reports
import ServiceLifecycle
import SustainConfiguration
import UnixSignals

/// The sustain service: samples every source as root, serves users over a Unix socket, and logs a carbon report
/// for every job. `sustain-measured [serve]` runs it; `sustain-measured query` reads its database when it is down.
@main
struct SustainMeasured: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sustain-measured",
        abstract: "Measure energy for every user's jobs as root, over a Unix socket, with a per-job carbon log.",
        version: Report.toolVersion,
        subcommands: [Serve.self, Query.self],
        defaultSubcommand: Serve.self
    )
}

/// Answers an API GET from the database alone, for `sustain-measure report` as root while the daemon is down.
struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the answer to GET /v1/jobs?… or /v1/jobs/ID from the database alone (root).",
        discussion: "sustain-measure report runs this when the daemon is down. Finished jobs only.")

    @Option(help: ArgumentHelp("The carbon log.", valueName: "path"))
    var database = SustainConfiguration.Configuration.Daemon().database

    @Argument(help: ArgumentHelp("The API target, such as /v1/jobs?limit=10.", valueName: "target"))
    var target: String

    func run() throws {
        guard geteuid() == 0 else {
            try fail(
                "it reads every user's jobs, so it is for root; users read their own through the daemon "
                    + "(sustain-measure report).")
        }
        guard FileManager.default.fileExists(atPath: database) else {
            try fail("no carbon log at \(database): pass --database, or check [daemon] database.")
        }
        do {
            print(try API.offline(target, store: try JobStore(path: database, readOnly: true)))
        } catch let error as HTTPError {
            try fail(error.body ?? "\(error.status)")
        }
    }

    /// A plain message on stderr and exit status 1 (no usage text: the caller is usually sustain-measure).
    func fail(_ message: String) throws -> Never {
        FileHandle.standardError.write(Data("sustain-measured query: \(message)\n".utf8))
        throw ExitCode(1)
    }
}

extension SustainMeasured {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the service (the default): sample, serve the API, log every job.")

        @Option(
            help: ArgumentHelp(
                "Configuration file (default: /etc/sustain/sustain.toml when present).", valueName: "path"))
        var config: String?

        @Option(help: ArgumentHelp("Unix socket path; overrides [daemon] socket.", valueName: "path"))
        var socket: String?

        @Option(help: ArgumentHelp("Database path; overrides [daemon] database.", valueName: "path"))
        var database: String?

        @Flag(help: "Log debug details.")
        var verbose = false

        func run() async throws {
            // SIGHUP reloads (ReloadService); until that service listens, a reload must not end the daemon.
            signal(SIGHUP, SIG_IGN)
            // Small allocations from many threads (NIO event loops, the concurrency pool): without a cap, glibc
            // gives each thread its own arena and keeps the freed memory of each.
            limitMallocArenas(2)
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = verbose ? .debug : .info
                return handler
            }
            let logger = Logger(label: "sustain.measured")
            let environment = ProcessInfo.processInfo.environment
            let loaded: Loaded
            do {
                loaded = try load()
            } catch {
                throw ValidationError(error.description)
            }
            let settings = loaded.configuration.daemon

            let sources = MachineSources.discover(environment: environment, enabled: settings.sources, logger: logger)
            let sampler = try Sampler(
                sources: sources, requestedInterval: .seconds(fractional: settings.interval),
                publishesCheckpoints: true,
                logger: logger)
            try sampler.start()
            for source in sources {
                for diagnostic in source.diagnostics { logger.notice("\(source.name): \(diagnostic)") }
            }
            try FileManager.default.createDirectory(
                atPath: (settings.database as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let store = try JobStore(path: settings.database)
            let summaries = sources.map {
                SourceSummary(name: $0.name, channels: $0.channels, diagnostics: $0.diagnostics)
            }
            let registry = JobRegistry(
                sampler: sampler, sources: summaries, store: store, carbon: loaded.carbon, logger: logger)
            if let baseline = sampler.latestCheckpoint {
                _ = await registry.recover(baseline: baseline)
            }
            let metrics = MetricsExporter(
                sampler: sampler, registry: registry,
                intensityGramsPerKilowattHour: loaded.carbon.intensity.gramsPerKilowattHour)
            let adminGroup = AdminGroup(settings.adminGroup)
            let router = API.router(
                registry: registry, store: store, sampler: sampler, metrics: metrics,
                identity: .peerCredentials(adminGroup: adminGroup))

            try SocketFile.prepare(settings.socket)
            let app = Application(
                router: router,
                configuration: .init(address: .unixDomainSocket(path: settings.socket), serverName: "sustain-measured"),
                onServerRunning: { _ in
                    SocketFile.setPermissions(
                        settings.socket, mode: settings.socketMode, group: settings.group, logger: logger)
                    logger.info("listening", metadata: ["socket": "\(settings.socket)"])
                },
                logger: logger)
            let checkpointer = CheckpointService(
                registry: registry, store: store, interval: settings.checkpointInterval,
                retentionDays: settings.retentionDays,
                logger: logger)
            let reloader = ReloadService(
                load: load, running: loaded.configuration, logger: logger,
                apply: { new in
                    adminGroup.name = new.configuration.daemon.adminGroup
                    await registry.update(carbon: new.carbon)
                    await metrics.update(intensityGramsPerKilowattHour: new.carbon.intensity.gramsPerKilowattHour)
                    await checkpointer.update(retentionDays: new.configuration.daemon.retentionDays)
                })
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
                .init(service: SamplerService(sampler: sampler)), .init(service: checkpointer),
                .init(service: reloader),
                .init(service: app),
            ]
            if let address = settings.metricsAddress, let (host, port) = Self.hostAndPort(address) {
                services.append(
                    .init(service: API.metricsApplication(metrics: metrics, host: host, port: port, logger: logger)))
            }
            let group = ServiceGroup(
                configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }

        /// The configuration with this command's flags over it, and the carbon settings it gives. Read at start and
        /// again on SIGHUP; throws with the file, the key and the reason.
        func load() throws(ConfigurationError) -> Loaded {
            // The service reads /etc only (or --config), never a user's file.
            var configuration = try SustainConfiguration.Configuration.load(
                explicit: config ?? Self.systemConfig(), environment: [:])
            if let socket { configuration.daemon.socket = socket }
            if let database { configuration.daemon.database = database }
            do {
                let carbon = try configuration.carbonSettings(
                    region: nil, intensity: nil, intensityBasis: nil, pue: nil, price: nil, currency: nil)
                return Loaded(configuration: configuration, carbon: carbon)
            } catch {
                throw ConfigurationError(path: configuration.path ?? "defaults", key: "impact", reason: "\(error)")
            }
        }

        static func systemConfig() -> String? {
            FileManager.default.fileExists(atPath: "/etc/sustain/sustain.toml") ? "/etc/sustain/sustain.toml" : nil
        }

        static func hostAndPort(_ address: String) -> (String, Int)? {
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
                return nil
            }
            return (String(address[..<colon]), port)
        }
    }
}

/// A loaded configuration and the carbon settings it gives.
struct Loaded: Sendable {
    var configuration: SustainConfiguration.Configuration
    var carbon: CarbonSettings
}

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
    let interval: Double
    var retentionDays: Int
    let logger: Logger
    var lastPrune: ContinuousClock.Instant?
    var ticks = 0

    init(registry: JobRegistry, store: JobStore, interval: Double, retentionDays: Int, logger: Logger) {
        self.registry = registry
        self.store = store
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
            if new.checkpointInterval != current.daemon.checkpointInterval { restart.append("checkpoint_interval") }
            if new.sources != current.daemon.sources { restart.append("sources") }
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

/// The socket file: a stale one is removed before binding; permissions are set once it exists.
enum SocketFile {
    static func prepare(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
    }

    static func setPermissions(_ path: String, mode: UInt32, group: String, logger: Logger) {
        var info = stat()
        if let entry = getgrnam(group) {
            if stat(path, &info) == 0, info.st_gid == entry.pointee.gr_gid {
                // Already the group's (systemd's Group=): nothing to change, no CAP_CHOWN needed.
            } else if chown(path, UInt32.max, entry.pointee.gr_gid) != 0 {
                logger.warning("cannot give the socket to group \(group): \(String(cString: strerror(errno)))")
            }
        } else {
            logger.warning(
                "group \(group) does not exist: the socket stays root's (create it: see systemd/sustain.sysusers)")
        }
        if chmod(path, mode_t(mode)) != 0 {
            logger.warning("cannot set the socket's mode: \(String(cString: strerror(errno)))")
        }
    }
}
