import ArgumentParser
import Impact
import LinuxSupport
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
        help: ArgumentHelp("What --intensity counts: lifecycle or direct.", valueName: "basis"))
    var intensityBasis: String = IntensityBasis.lifecycle.rawValue

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

    /// The options given on the command line, for a job the service measures.
    var request: CarbonRequest {
        CarbonRequest(
            region: region, intensity: intensity, intensityBasis: intensity == nil ? nil : intensityBasis, pue: pue,
            price: price, currency: currency)
    }

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
                throw ValidationError("--intensity-basis must be lifecycle or direct, got \(intensityBasis).")
            }
            basis = value
        }
        do {
            return try configuration.carbonSettings(
                region: region, intensity: intensity, intensityBasis: basis, pue: pue, price: price, currency: currency,
                dataset: dataset)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
