import ArgumentParser
import Foundation
import Impact
import IntensityData
import SustainCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Fetches a grid's carbon intensity over time into the cache that reports read. The only sustain program that
/// reaches the internet: it runs unprivileged (its own systemd timer, `DynamicUser=`), and the service reads what
/// it wrote without ever needing a network.
@main
struct SustainIntensity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sustain-intensity",
        abstract: "Fetch grid carbon intensity series into sustain's cache.",
        subcommands: [Fetch.self])
}

struct Fetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch the last hours and the forecast of one provider's zone, merged into the cache.",
        discussion: """
            Providers: uk-carbon-intensity (GB, GB-1 … GB-17; no key), energinet (DK1, DK2; no key), \
            electricity-maps (any zone; token), watttime (any region; user:password, marginal figures). \
            A failed fetch (no answer, an error, a rate limit, malformed data) changes nothing in the cache and \
            exits 1 with the reason.
            """)

    @Option(help: "uk-carbon-intensity, energinet, electricity-maps or watttime.")
    var provider: String

    @Option(help: "The provider's zone (GB, GB-13, DK1, DE, CAISO_NORTH).")
    var zone: String

    @Option(help: "The cache directory (default: /var/cache/sustain-intensity as root, ~/.cache/sustain/intensity).")
    var cache: String?

    @Option(
        help: "A file holding the token (Electricity Maps) or user:password (WattTime); or SUSTAIN_INTENSITY_TOKEN.")
    var tokenFile: String?

    @Option(help: "How many hours back to fetch (the forecast ahead comes too).")
    var hours: Double = 24

    @Option(help: "Seconds to wait for each answer.")
    var timeout: Double = 30

    @Option(help: "Another base URL for the provider's API (a mirror or a test server).")
    var endpoint: String?

    @Option(help: "Days of figures the cache keeps.")
    var keepDays: Double = 30

    func run() async throws {
        guard let provider = IntensityProvider(rawValue: provider.lowercased()) else {
            throw ValidationError(
                "Unknown provider \"\(provider)\": one of "
                    + IntensityProvider.allCases.map(\.rawValue).joined(separator: ", ") + ".")
        }
        guard hours > 0, hours <= 24 * 14, timeout > 0, timeout <= 600, keepDays > 0, keepDays <= 366 else {
            throw ValidationError("--hours from 0 to 336, --timeout from 0 to 600 s, --keep-days from 0 to 366.")
        }
        var credential = ProcessInfo.processInfo.environment["SUSTAIN_INTENSITY_TOKEN"]
        if let tokenFile {
            do {
                credential = try String(contentsOfFile: tokenFile, encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw ValidationError("Cannot read the token file \(tokenFile): \(error.localizedDescription)")
            }
        }
        let timeout = timeout
        let transport: IntensityFetch.Transport = { request in
            guard let url = URL(string: request.url) else { throw URLError(.badURL) }
            var urlRequest = URLRequest(url: url)
            urlRequest.setValue("sustain-intensity/\(toolVersion)", forHTTPHeaderField: "User-Agent")
            urlRequest.setValue("application/json", forHTTPHeaderField: "Accept")
            for (name, value) in request.headers { urlRequest.setValue(value, forHTTPHeaderField: name) }
            // The answer is capped at the size a cache file may have, and the exchange has one deadline.
            let (data, response) = try await BoundedExchange.run(
                urlRequest, credentialHeaders: request.headers.map(\.0), limit: SeriesFile.sizeLimit,
                deadline: timeout)
            let http = response as? HTTPURLResponse
            var headers: [String: String] = [:]
            for (name, value) in http?.allHeaderFields ?? [:] {
                headers[String(describing: name).lowercased()] = String(describing: value)
            }
            return (http?.statusCode ?? 0, headers, data)
        }
        let now = Date().timeIntervalSince1970
        let directory =
            cache
            ?? SeriesCache.defaultDirectory(
                environment: ProcessInfo.processInfo.environment, isRoot: geteuid() == 0)
        do {
            let series = try await IntensityFetch.fetch(
                provider: provider, zone: zone, credential: credential, endpoint: endpoint, now: now,
                hoursBack: hours, transport: transport)
            let stored = try SeriesCache.store(
                series, region: provider.region(of: series.zone), directory: directory, now: now,
                keepSeconds: keepDays * 86_400)
            if let note = stored.note { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            let forecasts = series.points.filter(\.forecast).count
            print(
                "\(stored.path): \(series.points.count) periods fetched (\(forecasts) forecast), "
                    + "\(stored.series.points.count) kept; \(provider.basis.rawValue) basis; \(provider.attribution)")
        } catch {
            FileHandle.standardError.write(Data("sustain-intensity: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

let toolVersion = "0.1.0"

/// A request that got no answer, in words.
struct TransportFailure: Error, CustomStringConvertible {
    var error: URLError

    var description: String {
        switch error.code {
        case .timedOut: "no answer in time (--timeout)"
        case .cannotConnectToHost: "connection refused"
        case .cannotFindHost, .dnsLookupFailed: "the host name does not resolve"
        case .notConnectedToInternet, .networkConnectionLost: "no network"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate:
            "the TLS connection failed (certificate or protocol)"
        default: "network error \(error.code.rawValue)"
        }
    }
}
