import Foundation
import SustainCore
import Testing

@testable import Impact

struct CarbonTests {
    @Test(arguments: [
        (3_600_000.0, 1.0),  // 1 kWh = 3.6 MJ
        (1.0, 1.0 / 3_600_000),
        (0.0, 0.0),
        (36_000_000.0, 10.0),
    ])
    func joulesToKilowattHours(joules: Double, kilowattHours: Double) {
        #expect(abs(KilowattHours(Joules(joules)).value - kilowattHours) < 1e-15)
        #expect(abs(KilowattHours(kilowattHours).joules.value - joules) < 1e-6)
    }

    /// The seed's worked example with its units corrected: E = P·T, EI = E·EF. A 300 W job for 10 h is 3 kWh; at
    /// 475 gCO2e/kWh (CodeCarbon's world fallback) that is 1.425 kg, not joules × "kg per joule".
    @Test func energyTimesEmissionFactor() {
        let energy = KilowattHours(Watts(300) * .seconds(10 * 3600))
        #expect(abs(energy.value - 3) < 1e-12)
        let mass = CarbonIntensity(gramsPerKilowattHour: 475, basis: .lifecycle).emissions(of: energy)
        #expect(abs(mass.kilograms - 1.425) < 1e-12)
        #expect(abs(mass.grams - 1425) < 1e-9)
    }

    @Test func assessmentAppliesPUEThenIntensityThenPrice() throws {
        let settings = try CarbonSettings.given(
            gramsPerKilowattHour: 400, basis: .direct, pue: PowerUsageEffectiveness(1.5),
            price: ElectricityPrice(perKilowattHour: 0.20, currency: "eur"))
        let assessment = CarbonAssessment(energy: Joules(7_200_000), settings: settings)  // 2 kWh
        #expect(assessment.atMeter == KilowattHours(2))
        #expect(assessment.facility == KilowattHours(3))
        #expect(abs((assessment.emissions?.kilograms ?? 0) - 1.2) < 1e-12)
        #expect(abs((assessment.cost ?? 0) - 0.60) < 1e-12)
        #expect(settings.price?.currency == "EUR")
        let car = try #require(assessment.equivalents.first)
        #expect(abs(car.gramsPerItem - 244.1989) < 1e-3)  // 393 g/mile
        #expect(abs(car.quantity - 1200 / car.gramsPerItem) < 1e-9)
    }

    @Test func nothingMeasuredMeansNoCarbonNotZero() {
        let assessment = CarbonAssessment(energy: nil, settings: .worldAverage())
        #expect(assessment.emissions == nil)
        #expect(assessment.atMeter == nil)
        #expect(assessment.cost == nil)
        #expect(assessment.equivalents.isEmpty)
    }

    @Test(arguments: [Double.nan, -1, 0.99, 0, 5.5, .infinity])
    func invalidPUEIsRejectedByName(value: Double) {
        #expect(throws: ImpactError.self) { try PowerUsageEffectiveness(value) }
        do {
            _ = try PowerUsageEffectiveness(value)
        } catch {
            #expect(error.description.contains("pue"))
        }
    }

    @Test(arguments: [Double.nan, -0.1, 0, 1000])
    func invalidPriceIsRejected(value: Double) {
        #expect(throws: ImpactError.self) { try ElectricityPrice(perKilowattHour: value, currency: "EUR") }
    }

    @Test(arguments: ["", "EU", "EURO", "€€€", "12A"])
    func invalidCurrencyIsRejected(code: String) {
        #expect(throws: ImpactError.self) { try ElectricityPrice(perKilowattHour: 0.2, currency: code) }
    }

    @Test(arguments: [Double.nan, -5, 2500, .infinity])
    func invalidIntensityIsRejected(value: Double) {
        #expect(throws: ImpactError.self) { try CarbonSettings.given(gramsPerKilowattHour: value, basis: .lifecycle) }
    }
}

struct RegionTests {
    let dataset = GridDataset.bundled

    @Test(arguments: [
        ("FR", "FR", GridKind.country, IntensityBasis.lifecycle),
        ("fr", "FR", .country, .lifecycle),
        ("FRA", "FR", .country, .lifecycle),
        ("deu", "DE", .country, .lifecycle),
        ("CAMX", "CAMX", .egrid, .direct),
        ("erct", "ERCT", .egrid, .direct),
        ("gcp:europe-west9", "gcp:europe-west9", .cloud, .direct),
        ("aws:eu-west-3", "FR", .country, .lifecycle),
        ("azure:francecentral", "FR", .country, .lifecycle),
        ("aws:us-west-1", "CAMX", .egrid, .direct),
        ("WORLD", "WORLD", .world, .lifecycle),
    ])
    func resolves(region: String, code: String, kind: GridKind, basis: IntensityBasis) throws {
        let resolved = try dataset.resolve(region)
        #expect(resolved.factor.code == code)
        #expect(resolved.factor.kind == kind)
        #expect(resolved.factor.intensity.basis == basis)
        #expect(resolved.requested == region)
        if region.contains("aws:") || region.contains("azure:") { #expect(resolved.via != nil) }
    }

    @Test func knownFigures() throws {
        // Straight from the reference data: Ember 2024 France 44.18 (lifecycle), eGRID2022 CAMX 226.47 (direct),
        // Google 2024 europe-west9 16.30 (direct), Ember 2024 world 472.94.
        #expect(try dataset.resolve("FR").factor.intensity.gramsPerKilowattHour == 44.18)
        #expect(try dataset.resolve("CAMX").factor.intensity.gramsPerKilowattHour == 226.47)
        #expect(try dataset.resolve("gcp:europe-west9").factor.intensity.gramsPerKilowattHour == 16.30)
        #expect(dataset.world.intensity.gramsPerKilowattHour == 472.94)
        #expect(dataset.world.year == 2024)
    }

    @Test(arguments: [
        ("frnce", "FR (France)"), ("aws:eu-wst-3", "aws:eu-west-3 (FR grid)"), ("germany", "DE (Germany)"),
    ])
    func unknownRegionListsCloseMatches(region: String, expected: String) {
        do {
            _ = try dataset.resolve(region)
            Issue.record("\(region) resolved")
        } catch {
            guard case .unknownRegion(let name, let matches) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(name == region)
            #expect(matches.contains(expected), "\(matches)")
        }
    }

    @Test func nonsenseHasNoMatchesButAHint() {
        #expect(throws: ImpactError.unknownRegion("qqqqqqqqqqqqqqqqqq", closeMatches: [])) {
            try dataset.resolve("qqqqqqqqqqqqqqqqqq")
        }
        let message = ImpactError.unknownRegion("x", closeMatches: []).description
        #expect(message.contains("aws:eu-west-3"))
    }
}

struct DatasetIntegrityTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func embeddedDataEqualsTheConfigFilesByteForByte() throws {
        let grid = try String(
            contentsOf: Self.root.appendingPathComponent("config/grid-intensity.csv"), encoding: .utf8)
        let cloud = try String(
            contentsOf: Self.root.appendingPathComponent("config/cloud-regions.csv"), encoding: .utf8)
        #expect(BundledData.gridIntensity + "\n" == grid, "run scripts/embed-data.py")
        #expect(BundledData.cloudRegions + "\n" == cloud, "run scripts/embed-data.py")
    }

    @Test func everyRowHasSourceYearBasisAndLicence() {
        let dataset = GridDataset.bundled
        #expect(dataset.factors.count > 250)
        for factor in dataset.factors {
            #expect(!factor.source.isEmpty && !factor.licence.isEmpty, "\(factor.code)")
            #expect((2015...2030).contains(factor.year), "\(factor.code) year \(factor.year)")
            #expect(factor.intensity.gramsPerKilowattHour > 0 && factor.intensity.gramsPerKilowattHour < 1500)
            // Bases never mixed: Ember is lifecycle, eGRID and Google are direct.
            switch factor.kind {
            case .country, .world: #expect(factor.intensity.basis == .lifecycle, "\(factor.code)")
            case .egrid, .cloud: #expect(factor.intensity.basis == .direct, "\(factor.code)")
            }
            #expect(!factor.source.contains("Electricity Maps"), "ODbL data must not ship")
        }
    }

    @Test func noDuplicateCodes() {
        let dataset = GridDataset.bundled
        let codes = dataset.factors.map { $0.code.uppercased() }
        #expect(Set(codes).count == codes.count)
        let alpha3 = dataset.factors.filter { $0.kind == .country }.map(\.alternateCode).filter { !$0.isEmpty }
        #expect(Set(alpha3).count == alpha3.count)
        #expect(Set(alpha3).isDisjoint(with: Set(codes)))
    }

    @Test func everyCloudRegionResolves() throws {
        let dataset = GridDataset.bundled
        #expect(dataset.cloudGrids.count > 60)
        for region in dataset.cloudGrids.keys {
            _ = try dataset.resolve(region.lowercased())
        }
    }

    @Test func malformedDatasetNamesTheLineAndField() {
        let header = "kind,code,alt_code,name,year,gco2e_per_kwh,basis,source,licence\n"
        let bad = header + "country,FR,FRA,France,2024,abc,lifecycle,Ember,CC-BY\n"
        #expect(
            throws: ImpactError.malformed(
                file: "grid-intensity.csv", line: 2, field: "gco2e_per_kwh", reason: "not a number")
        ) {
            try GridDataset(intensityCSV: bad, cloudRegionsCSV: "provider,region,location,grid,note\n")
        }
    }
}

struct CSVTests {
    @Test func quotedFieldsCommasAndEscapedQuotes() {
        let rows = CSV.parse("a,b,c\n1,\"x, y\",\"he said \"\"hi\"\"\"\n\n2,,z\n")
        #expect(rows.count == 3)
        #expect(rows[1].fields == ["1", "x, y", "he said \"hi\""])
        #expect(rows[1].line == 2)
        #expect(rows[2].fields == ["2", "", "z"])
        #expect(rows[2].line == 4)
    }

    /// The wrapper's start-up reads only the world row, by a byte scan: it must be the full parse's row exactly.
    @Test func theWorldRowReadAloneIsTheDatasetsWorldRow() throws {
        #expect(GridDataset.bundledWorld == GridDataset.bundled.world)
        #expect(GridDataset.bundledWorld.intensity.gramsPerKilowattHour == 472.94)
        #expect(GridDataset.bundledWorld.source.contains(", via Green Web Foundation co2.js"))
    }
}
