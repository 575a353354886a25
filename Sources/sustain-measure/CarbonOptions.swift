import ArgumentParser
import Impact

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

    /// The validated settings; a `ValidationError` names the bad field.
    func settings(dataset: GridDataset = .bundled) throws -> CarbonSettings {
        do {
            let pue = try pue.map(PowerUsageEffectiveness.init) ?? .measuredMachine
            let price: ElectricityPrice?
            switch (self.price, currency) {
            case (nil, nil): price = nil
            case (let amount?, let currency?): price = try ElectricityPrice(perKilowattHour: amount, currency: currency)
            case (_?, nil): throw ValidationError("--price needs --currency (for example --currency EUR).")
            case (nil, _?): throw ValidationError("--currency needs --price (the price per kWh).")
            }
            if let intensity {
                guard let basis = IntensityBasis(rawValue: intensityBasis.lowercased()) else {
                    throw ValidationError("--intensity-basis must be lifecycle or direct, got \(intensityBasis).")
                }
                return try .given(gramsPerKilowattHour: intensity, basis: basis, pue: pue, price: price)
            }
            if let region {
                return .region(try dataset.resolve(region), pue: pue, price: price)
            }
            return .worldAverage(dataset, pue: pue, price: price)
        } catch let error as ImpactError {
            throw ValidationError(error.description)
        }
    }
}
