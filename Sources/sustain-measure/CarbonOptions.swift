import ArgumentParser
import FoundationEssentials
import Impact
import IntensityData
import LinuxSupport
import Reports
import SustainAPI
import SustainConfiguration
import Synchronization

/// The options that decide how energy becomes carbon and cost, shared by the commands that report them.
struct CarbonOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Grid region: ISO 3166 country (FR, FRA), US eGRID subregion (CAMX) or cloud region "
                + "(aws:eu-west-3, gcp:europe-west9, azure:francecentral). Default: world average.",
            valueName: "code"))
    var region: String?

    @Option(help: ArgumentHelp("Grid carbon intensity in gCO2e/kWh; overrides --region.", valueName: "g"))
    var intensity: Double?

    @Option(
        name: .customLong("intensity-basis"),
        help: ArgumentHelp("What --intensity counts: lifecycle, direct or marginal.", valueName: "basis"))
    var intensityBasis: String = IntensityBasis.lifecycle.rawValue

    @Option(
        name: .customLong("intensity-series"),
        help: ArgumentHelp(
            "Grid intensity over time: CSV (timestamp,g_per_kwh[,basis]), JSON, or a file of "
                + "`sustain-measure intensity fetch`. Where it covers the job, carbon follows it; the yearly figure "
                + "fills the rest.", valueName: "file"))
    var intensitySeries: String?

    @Option(
        help: ArgumentHelp(
            "Power usage effectiveness, facility ÷ IT energy (default 1.0 for a machine measured directly; "
                + "typical data centres 1.1–1.6).", valueName: "ratio"))
    var pue: Double?

    @Option(help: ArgumentHelp("Electricity price per kWh, with --currency. No default.", valueName: "amount"))
    var price: Double?

    @Option(help: ArgumentHelp("ISO 4217 currency of --price (EUR, USD).", valueName: "code"))
    var currency: String?

    @Option(
        help: ArgumentHelp(
            "Configuration file (default: $SUSTAIN_CONFIG, ~/.config/sustain/sustain.toml, /etc/sustain/sustain.toml).",
            valueName: "path"))
    var config: String?

    /// The configuration file's contents, or the defaults; a `ValidationError` names the file and key. Read once
    /// per process (validation and the run both need it; each read was a file and a parse at start-up).
    func configuration() throws -> Configuration {
        try Self.loaded.withLock { cache in
            if let (path, configuration) = cache, path == config { return configuration }
            let configuration: Configuration
            do {
                configuration = try Configuration.load(explicit: config, environment: CurrentProcess.environment)
            } catch {
                throw ValidationError("\(error)")
            }
            cache = (config, configuration)
            return configuration
        }
    }

    private static let loaded = Mutex<(String?, Configuration)?>(nil)

    /// The validated settings: flags, then the configuration file, then the world average.
    func settings(dataset: GridDataset? = nil) throws -> CarbonSettings {
        let configuration = try configuration()
        var basis: IntensityBasis?
        if intensity != nil {
            guard let value = IntensityBasis(rawValue: intensityBasis.lowercased()) else {
                throw ValidationError(
                    "--intensity-basis must be lifecycle, direct or marginal, got \(intensityBasis).")
            }
            basis = value
        }
        // A series from a known grid answers "which region" when nothing else did (its yearly figure fills gaps).
        var region = region
        if region == nil, intensity == nil, configuration.impact.region == nil, configuration.impact.intensity == nil,
            let seriesRegion = try series().loaded?.region
        {
            region = seriesRegion
        }
        do {
            return try configuration.carbonSettings(
                region: region, intensity: intensity, intensityBasis: basis, pue: pue, price: price, currency: currency,
                dataset: dataset)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The intensity series to apply, with a warning for the report: `--intensity-series` that cannot be read
    /// stops before the command runs; a configured one that cannot be read is only said (a stale cache never
    /// blocks a job). Read once per process.
    func series() throws -> (loaded: SeriesFile.Loaded?, warning: String?) {
        try Self.loadedSeries.withLock { cache in
            if let cache { return cache }
            var result: (SeriesFile.Loaded?, String?) = (nil, nil)
            // Read before the command runs, kept while it runs: only the periods from now on (a job cannot
            // start in the past), so a long file costs its parse, not its memory.
            let now = Date().timeIntervalSince1970 - 1
            func load(_ path: String) throws(IntensityDataError) -> SeriesFile.Loaded {
                var loaded = try SeriesFile.load(path)
                loaded.series = loaded.series.ending(after: now)
                return loaded
            }
            if let path = intensitySeries {
                do {
                    result = (try load(path), nil)
                } catch {
                    throw ValidationError("--intensity-series: \(error)")
                }
            } else if let path = try configuration().impact.intensitySeries {
                do {
                    result = (try load(path), nil)
                } catch {
                    result = (
                        nil,
                        "The configured intensity series could not be used (\(error)): the yearly figure was used. "
                            + "Fetch it with sustain-measure intensity fetch."
                    )
                }
            }
            cache = result
            return result
        }
    }

    private static let loadedSeries = Mutex<(SeriesFile.Loaded?, String?)?>(nil)
}

extension CarbonOptions {
    /// What the service needs to compute a job's one carbon figure as this wrapper would: the flags over the
    /// user's configuration file (where the file says nothing, the service's own settings apply), the region a
    /// series names, and the series itself (its periods from now on), which the service may not be able to read.
    func request() throws -> CarbonRequest {
        let impact = try configuration().impact
        let loaded = try series().loaded
        let intensity = intensity ?? (region == nil ? impact.intensity : nil)
        var region = region ?? (self.intensity == nil ? impact.region : nil)
        if region == nil, intensity == nil, let seriesRegion = loaded?.region { region = seriesRegion }
        return CarbonRequest(
            region: region, intensity: intensity,
            intensityBasis: intensity == nil
                ? nil : (self.intensity != nil ? intensityBasis : impact.intensityBasis.rawValue),
            pue: pue ?? impact.pue, price: price ?? impact.price, currency: currency ?? impact.currency,
            series: loaded.map { SeriesRequest($0.series) })
    }
}
