import Glibc
import Impact

extension Configuration {
    /// Loads the configuration: the file at `explicit` (which must exist), else the first file of
    /// `searchPath(environment:)` that exists, else the defaults.
    public static func load(explicit: String?, environment: [String: String]) throws(ConfigurationError)
        -> Configuration
    {
        if let explicit {
            guard let text = read(explicit) else {
                throw ConfigurationError(
                    path: explicit, key: nil, reason: "cannot be read (\(String(cString: strerror(errno))))")
            }
            return try Configuration(toml: text, path: explicit)
        }
        for path in searchPath(environment: environment) where access(path, F_OK) == 0 {
            guard let text = read(path) else {
                throw ConfigurationError(path: path, key: nil, reason: "exists but cannot be read")
            }
            return try Configuration(toml: text, path: path)
        }
        return Configuration()
    }

    /// The file's text, or nil when it cannot be read.
    static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count > 0 { bytes += buffer[0..<count] }
            if count < buffer.count { break }
            if bytes.count > 1_048_576 { return nil }  // a configuration file is small
        }
        return ferror(file) == 0 ? String(decoding: bytes, as: UTF8.self) : nil
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
