import Impact
import LinuxSupport

extension Configuration {
    /// Loads the configuration: the file at `explicit` (which must exist), else the first file of
    /// `searchPath(environment:)` that exists, else the defaults.
    public static func load(explicit: String?, environment: [String: String]) throws(ConfigurationError)
        -> Configuration
    {
        if let explicit { return try Configuration(toml: try read(explicit), path: explicit) }
        for path in searchPath(environment: environment) where SafeFile.kind(of: path) != nil {
            return try Configuration(toml: try read(path), path: path)
        }
        return Configuration()
    }

    /// The largest configuration file read: a configuration is a few kilobytes.
    public static let maximumFileSize = 1 << 20

    /// The file's text: a regular file (a FIFO or a device is refused, never waited on) of at most
    /// `maximumFileSize` bytes, in UTF-8.
    static func read(_ path: String) throws(ConfigurationError) -> String {
        let bytes: [UInt8]
        do {
            bytes = try SafeFile.readRegular(path, limit: maximumFileSize)
        } catch {
            throw ConfigurationError(path: path, key: nil, reason: "cannot be read: \(error.reason)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationError(path: path, key: nil, reason: "is not UTF-8 text")
        }
        return text
    }

    /// The carbon settings: flags first, then this file, then the world average.
    public func carbonSettings(
        region: String?, intensity: Double?, intensityBasis: IntensityBasis?, pue: Double?, price: Double?,
        currency: String?, dataset: GridDataset? = nil
    ) throws(ImpactError) -> CarbonSettings {
        let pue = try (pue ?? impact.pue).map(PowerUsageEffectiveness.init) ?? .measuredMachine
        var resolvedPrice: ElectricityPrice?
        switch (price ?? impact.price, currency ?? impact.currency) {
        case (nil, nil): resolvedPrice = nil
        case (let amount?, let code?): resolvedPrice = try ElectricityPrice(perKilowattHour: amount, currency: code)
        case (_?, nil):
            throw .invalidText(field: "currency", value: "", expected: "a currency with the price (--currency EUR)")
        case (nil, _?):
            throw .invalidText(field: "price", value: "", expected: "a price per kWh with the currency (--price)")
        }
        if let intensity {
            return try .given(
                gramsPerKilowattHour: intensity, basis: intensityBasis ?? .lifecycle, pue: pue, price: resolvedPrice)
        }
        if let region {
            return .region(try (dataset ?? .bundled).resolve(region), pue: pue, price: resolvedPrice)
        }
        if let intensity = impact.intensity {
            var settings = try CarbonSettings.given(
                gramsPerKilowattHour: intensity, basis: impact.intensityBasis, pue: pue, price: resolvedPrice)
            settings.origin = .configuration
            settings.intensitySource = "given in \(path ?? "the configuration")"
            return settings
        }
        if let region = impact.region {
            return .region(
                try (dataset ?? .bundled).resolve(region), origin: .configuration, pue: pue, price: resolvedPrice)
        }
        return .worldAverage(dataset, pue: pue, price: resolvedPrice)
    }
}
