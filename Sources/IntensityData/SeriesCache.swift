import Impact
import LinuxSupport
import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The cache `intensity fetch` writes and reports read: one `sustain.intensity.v1` file per provider and zone,
/// replaced atomically (a reader sees the old file or the new one whole), readable by all (the figures are public
/// or the account holder's to share), bounded (points older than `keepSeconds`, or beyond 20,000, are pruned).
public enum SeriesCache {
    /// Root's cache (the timer's `CacheDirectory=`), and each user's own otherwise.
    public static let systemDirectory = "/var/cache/sustain-intensity"

    public static func defaultDirectory(environment: [String: String], isRoot: Bool) -> String {
        if isRoot { return systemDirectory }
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") { return cache + "/sustain/intensity" }
        return (environment["HOME"] ?? "/tmp") + "/.cache/sustain/intensity"
    }

    public static func path(directory: String, provider: String, zone: String) -> String {
        "\(directory)/\(provider)-\(zone).json"
    }

    /// Merges `fetched` into the cached series of its provider and zone (newer figures replace older ones and
    /// forecasts), prunes, and replaces the file. A cache file that cannot be read is replaced, and said.
    public static func store(
        _ fetched: IntensitySeries, region: String?, directory: String, now: Double,
        keepSeconds: Double = 30 * 86_400
    ) throws(IntensityDataError) -> (path: String, series: IntensitySeries, note: String?) {
        let path = path(directory: directory, provider: fetched.provider, zone: fetched.zone)
        // What the cache holds, if it can be read; else the fetched series alone (merged with itself: pruned).
        var cached = fetched
        var note: String?
        if SafeFile.kind(of: path) != nil {
            do {
                cached = try SeriesFile.load(path).series
            } catch {
                note = "The cache file \(path) could not be read (\(error)); it was replaced."
            }
        }
        let merged: IntensitySeries
        do {
            merged = try cached.merged(with: fetched, keepAfter: now - keepSeconds)
        } catch {
            throw IntensityDataError("\(path): \(error.description)")
        }
        do {
            try SafeFile.makeDirectories(directory, mode: 0o755)
            try SafeFile.replace(path, with: SeriesFile.encode(merged, region: region), mode: 0o644)
        } catch {
            throw IntensityDataError("Cannot write the cache \(path): \(error)")
        }
        return (path, merged, note)
    }

    /// Every readable series in `directory`, by file name.
    public static func all(in directory: String) -> [(path: String, loaded: SeriesFile.Loaded)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted().compactMap { name in
            let path = "\(directory)/\(name)"
            return (try? SeriesFile.load(path)).map { (path, $0) }
        }
    }
}

/// One fetch: the provider's requests through `transport`, every answer checked, the points of all of them as one
/// series. Nothing is written here; a failed fetch leaves the cache as it was.
public enum IntensityFetch {
    /// Status, headers (lower-case names) and body of an answer. Throws for a transport failure (no answer).
    public typealias Transport = @Sendable (ProviderRequest) async throws -> (Int, [String: String], Data)

    public static func fetch(
        provider: IntensityProvider, zone: String, credential: String?, endpoint: String?, now: Double,
        hoursBack: Double = 24, transport: Transport
    ) async throws(IntensityDataError) -> IntensitySeries {
        let zone = try provider.validate(zone: zone)
        if provider.needsToken, credential?.isEmpty ?? true {
            throw IntensityDataError(
                "\(provider.rawValue) needs "
                    + (provider == .wattTime ? "an account (user:password)" : "an API token")
                    + ": give it in a file with --token-file FILE or in SUSTAIN_INTENSITY_TOKEN.")
        }
        var headers: [String: String] = [:]
        if provider == .electricityMaps, let credential { headers["auth-token"] = credential }
        if provider == .wattTime, let credential {
            let login = ProviderRequest(
                url: (endpoint ?? provider.defaultEndpoint) + "/login",
                headers: ["authorization": "Basic " + Data(credential.utf8).base64EncodedString()])
            let body = try await answer(login, provider: provider, transport: transport)
            struct Token: Decodable { var token: String }
            guard let body, let token = try? JSONDecoder().decode(Token.self, from: body) else {
                throw IntensityDataError("watttime's /login answered without a token")
            }
            headers["authorization"] = "Bearer " + token.token
        }
        let from = (now - hoursBack * 3600) / 1800
        var points: [IntensityPoint] = []
        for var request in provider.requests(
            zone: zone, from: from.rounded(.down) * 1800, to: (now / 1800).rounded(.down) * 1800, endpoint: endpoint)
        {
            request.headers.merge(headers) { _, new in new }
            guard let body = try await answer(request, provider: provider, transport: transport) else { continue }
            points += try provider.decode(body, now: now)
        }
        // Forecast and figure for the same period (the fw48h answer repeats the current half-hour): the figure.
        var byStart: [Double: IntensityPoint] = [:]
        for point in points {
            if let kept = byStart[point.start], !kept.forecast, point.forecast { continue }
            byStart[point.start] = point
        }
        guard !byStart.isEmpty else {
            throw IntensityDataError(
                "\(provider.rawValue) answered with no figures for \(zone) in the last \(Int(hoursBack)) h; the cache "
                    + "is unchanged.")
        }
        do {
            return try IntensitySeries(
                provider: provider.rawValue, zone: zone, basis: provider.basis, points: Array(byStart.values),
                fetchedAt: now, attribution: provider.attribution)
        } catch {
            throw IntensityDataError("\(provider.rawValue) answered with figures that cannot be used: \(error)")
        }
    }

    /// The body of a successful answer, nil for an optional request's 404; a clear error for anything else.
    static func answer(
        _ request: ProviderRequest, provider: IntensityProvider, transport: Transport
    ) async throws(IntensityDataError) -> Data? {
        let status: Int
        let headers: [String: String]
        let body: Data
        do {
            (status, headers, body) = try await transport(request)
        } catch {
            throw IntensityDataError(
                "\(provider.rawValue): no answer from \(redacted(request.url)) (\(error)); the cache is unchanged.")
        }
        let excerpt = String(decoding: body.prefix(200), as: UTF8.self).escapingControlCharacters
        switch status {
        case 200..<300: return body
        case 404 where request.optional: return nil
        case 401, 403:
            throw IntensityDataError(
                "\(provider.rawValue) refused the credentials (HTTP \(status)): check the token or account; the "
                    + "cache is unchanged. It said: \(excerpt)")
        case 429:
            let retry = headers["retry-after"].map { " (Retry-After: \($0) s)" } ?? ""
            throw IntensityDataError(
                "\(provider.rawValue) is rate-limiting this client (HTTP 429)\(retry); the cache is unchanged, the "
                    + "next scheduled fetch tries again.")
        default:
            throw IntensityDataError(
                "\(provider.rawValue) answered HTTP \(status) to \(redacted(request.url)); the cache is unchanged. "
                    + "It said: \(excerpt)")
        }
    }

    static func redacted(_ url: String) -> String {
        String(url.prefix(200))
    }
}
