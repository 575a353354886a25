import ArgumentParser
import Daemon
import Foundation
import Hummingbird
import Impact
import Logging
import Meter
import Reports
import ServiceLifecycle
import SustainConfiguration

/// The sustain service: samples every source as root, serves users over a Unix socket, and logs a carbon report
/// for every job.
@main
struct SustainMeasured: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sustain-measured",
        abstract: "Measure energy for every user's jobs as root, over a Unix socket, with a per-job carbon log.",
        version: Report.toolVersion
    )

    @Option(
        help: ArgumentHelp("Configuration file (default: /etc/sustain/sustain.toml when present).", valueName: "path"))
    var config: String?

    @Option(help: ArgumentHelp("Unix socket path; overrides [daemon] socket.", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("Database path; overrides [daemon] database.", valueName: "path"))
    var database: String?

    @Flag(help: "Log debug details.")
    var verbose = false

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .debug : .info
            return handler
        }
        let logger = Logger(label: "sustain.measured")
        let environment = ProcessInfo.processInfo.environment
        var configuration: SustainConfiguration.Configuration
        do {
            // The service reads /etc only (or --config), never a user's file.
            configuration = try .load(explicit: config ?? Self.systemConfig(), environment: [:])
        } catch {
            throw ValidationError(error.description)
        }
        if let socket { configuration.daemon.socket = socket }
        if let database { configuration.daemon.database = database }
        let settings = configuration.daemon
        let carbon: CarbonSettings
        do {
            carbon = try configuration.carbonSettings(
                region: nil, intensity: nil, intensityBasis: nil, pue: nil, price: nil, currency: nil)
        } catch {
            throw ValidationError("Configuration: \(error)")
        }

        let sources = MachineSources.discover(environment: environment, logger: logger)
        let sampler = try Sampler(
            sources: sources, requestedInterval: .seconds(fractional: settings.interval), publishesCheckpoints: true,
            logger: logger)
        try sampler.start()
        for source in sources {
            for diagnostic in source.diagnostics { logger.notice("\(source.name): \(diagnostic)") }
        }
        try FileManager.default.createDirectory(
            atPath: (settings.database as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let store = try JobStore(path: settings.database)
        let summaries = sources.map { SourceSummary(name: $0.name, channels: $0.channels, diagnostics: $0.diagnostics) }
        let registry = JobRegistry(sampler: sampler, sources: summaries, store: store, carbon: carbon, logger: logger)
        let metrics = MetricsExporter(
            sampler: sampler, registry: registry, intensityGramsPerKilowattHour: carbon.intensity.gramsPerKilowattHour)
        let router = API.router(
            registry: registry, store: store, sampler: sampler, metrics: metrics,
            identity: .peerCredentials(adminGroup: settings.adminGroup))

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
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: SamplerService(sampler: sampler)), .init(service: app)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    static func systemConfig() -> String? {
        FileManager.default.fileExists(atPath: "/etc/sustain/sustain.toml") ? "/etc/sustain/sustain.toml" : nil
    }
}

/// Keeps the sampler running until graceful shutdown, then takes its last sample.
struct SamplerService: Service {
    let sampler: Sampler

    func run() async throws {
        try? await gracefulShutdown()
        _ = sampler.stop()
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
