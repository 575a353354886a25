import ArgumentParser
import Daemon
import Foundation
import Hummingbird
import Impact
import LinuxSupport
import Logging
import Meter
import PowerControl
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
                return EscapingLogHandler(handler)
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

            // Everything the daemon creates is its own (0600 files, 0700 directories) whatever umask it inherits;
            // the socket's mode is set explicitly.
            umask(0o077)
            let state: DaemonState
            do {
                state = try DaemonState.prepare(database: settings.database)
            } catch {
                logger.critical("cannot start: \(error)")
                throw ExitCode(1)
            }
            let socket: PublishedSocket
            do {
                socket = try PublishedSocket(path: settings.socket)
            } catch {
                logger.critical("cannot start: the socket \(error)")
                throw ExitCode(1)
            }

            // Power limits a killed service left set go back first, before anything is measured (the instance lock
            // is held: no other service is using the journal).
            let power = PowerController(
                hardware: SystemPowerHardware(
                    nvmlLibrary: environment["SUSTAIN_NVML_LIBRARY"].flatMap { $0.isEmpty ? nil : $0 }
                        ?? NVMLSource.defaultLibrary),
                journal: PowerJournal(path: "\(state.directory)/\(PowerJournal.fileName)"))
            for line in power.replayJournal() { logger.notice("power journal: \(line)") }

            let sources = MachineSources.discover(environment: environment, enabled: settings.sources, logger: logger)
            let sampler = try Sampler(
                sources: sources, requestedInterval: .seconds(fractional: settings.interval),
                publishesCheckpoints: true, timeline: .recent(buckets: JobRegistry.timelineSeconds),
                timelineBucket: .seconds(1), logger: logger)
            try sampler.start()
            for source in sources {
                for diagnostic in source.diagnostics { logger.notice("\(source.name): \(diagnostic)") }
            }
            let store = state.store
            let summaries = sources.map {
                SourceSummary(name: $0.name, channels: $0.channels, diagnostics: $0.diagnostics)
            }
            let registry = JobRegistry(
                sampler: sampler, sources: summaries, store: store, carbon: loaded.carbon,
                configuration: loaded.configuration,
                limits: loaded.configuration.daemon.limits, power: power,
                profiles: PowerProfileStore(directory: "\(state.directory)/\(PowerProfileStore.directoryName)"),
                logger: logger)
            if let baseline = sampler.latestCheckpoint {
                _ = await registry.recover(baseline: baseline)
            }
            let metrics = MetricsExporter(
                sampler: sampler, registry: registry,
                host: settings.host ?? Report.Host.current().hostname,
                finishedRetention: settings.finishedJobMetricsSeconds)
            let adminGroup = AdminGroup(settings.adminGroup)
            let router = API.router(
                registry: registry, store: store, sampler: sampler, metrics: metrics,
                identity: .peerCredentials(adminGroup: adminGroup))

            // Bound in a private directory, then linked into place with its group and mode already set.
            let app = Application(
                router: router,
                configuration: .init(address: .unixDomainSocket(path: socket.bindPath), serverName: "sustain-measured"),
                onServerRunning: { _ in
                    SocketFile.publish(socket, mode: settings.socketMode, group: settings.group, logger: logger)
                },
                logger: logger)
            let checkpointer = CheckpointService(
                registry: registry, store: store, socket: socket, interval: settings.checkpointInterval,
                retentionDays: settings.retentionDays,
                logger: logger)
            let watcher = WatchService(
                registry: registry, scrapeSeconds: settings.watchScrapeSeconds,
                reportSeconds: settings.watchReportSeconds)
            let reloader = ReloadService(
                load: load, running: loaded.configuration, logger: logger,
                apply: { new in
                    adminGroup.name = new.configuration.daemon.adminGroup
                    await registry.update(carbon: new.carbon, configuration: new.configuration)
                    await registry.update(limits: new.configuration.daemon.limits)
                    await metrics.update(finishedRetention: new.configuration.daemon.finishedJobMetricsSeconds)
                    await checkpointer.update(retentionDays: new.configuration.daemon.retentionDays)
                    await watcher.update(
                        scrapeSeconds: new.configuration.daemon.watchScrapeSeconds,
                        reportSeconds: new.configuration.daemon.watchReportSeconds)
                    await registry.configureWatches()
                })
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
                .init(service: SamplerService(sampler: sampler)), .init(service: checkpointer),
                .init(service: AttributionService(registry: registry)),
                .init(service: PowerWatchService(registry: registry)),
                .init(service: watcher),
                .init(service: reloader),
                .init(service: app),
            ]
            if let address = settings.metricsAddress, let (host, port) = Self.hostAndPort(address) {
                services.append(
                    .init(
                        service: API.metricsApplication(
                            metrics: metrics, perJob: settings.perJobMetrics, host: host, port: port, logger: logger)))
            }
            let group = ServiceGroup(
                configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            defer { socket.remove() }
            try await group.run()
            withExtendedLifetime(state) {}
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
