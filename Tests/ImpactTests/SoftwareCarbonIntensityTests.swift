import Impact
import SustainCore
import Testing

/// SCI = ((E × I) + M) / R on figures worked by hand, the embodied share by time and resources, and the edges.
struct SoftwareCarbonIntensityTests {
    @Test func aServiceHourWorkedByHand() throws {
        // A server of 1,500 kg CO2e over 4 years; one hour of it, the whole machine: 1500 / (4 × 8766) kg.
        let embodied = try #require(EmbodiedEmissions(kilograms: 1500, lifetimeYears: 4))
        let hour = embodied.share(ofSeconds: 3600)
        #expect(abs(hour.grams - 1_500_000 / (4 * 8766)) < 1e-9)
        // 2 kWh at 400 g/kWh = 800 g operational; 100,000 tokens.
        let sci = SoftwareCarbonIntensity(
            energy: KilowattHours(2), intensity: CarbonIntensity(gramsPerKilowattHour: 400, basis: .lifecycle),
            embodied: hour, units: 100_000)
        #expect(sci.operational.grams == 800)
        let perToken = try #require(sci.gramsPerUnit)
        #expect(abs(perToken - (800 + 1_500_000 / 35_064) / 100_000) < 1e-12)
    }

    @Test func theEmbodiedShareFollowsTimeAndResources() throws {
        let embodied = try #require(EmbodiedEmissions(kilograms: 1000, lifetimeYears: 5))
        let year = embodied.share(ofSeconds: EmbodiedEmissions.secondsPerYear)
        #expect(abs(year.kilograms - 200) < 1e-9)
        #expect(
            abs(embodied.share(ofSeconds: EmbodiedEmissions.secondsPerYear, resourceShare: 0.25).kilograms - 50) < 1e-9)
        #expect(embodied.share(ofSeconds: -5).grams == 0)
        #expect(embodied.share(ofSeconds: 100, resourceShare: 7) == embodied.share(ofSeconds: 100))
    }

    @Test func noUnitsNoScoreAndNoEmbodiedIsOperationalOnly() {
        let intensity = CarbonIntensity(gramsPerKilowattHour: 100, basis: .direct)
        #expect(
            SoftwareCarbonIntensity(energy: KilowattHours(1), intensity: intensity, embodied: nil, units: 0)
                .gramsPerUnit == nil)
        #expect(
            SoftwareCarbonIntensity(energy: KilowattHours(1), intensity: intensity, embodied: nil, units: .nan)
                .gramsPerUnit == nil)
        #expect(
            SoftwareCarbonIntensity(energy: KilowattHours(1), intensity: intensity, embodied: nil, units: 50)
                .gramsPerUnit == 2)
    }

    @Test func badFiguresAreRefused() {
        #expect(EmbodiedEmissions(kilograms: -1, lifetimeYears: 4) == nil)
        #expect(EmbodiedEmissions(kilograms: 100, lifetimeYears: 0) == nil)
        #expect(EmbodiedEmissions(kilograms: .infinity, lifetimeYears: 4) == nil)
        #expect(WaterUsage(litresPerKilowattHour: -0.1) == nil)
        #expect(WaterUsage(litresPerKilowattHour: 1.8)?.litres(for: KilowattHours(10)) == 18)
    }
}
