import Impact
import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An HTTP GET to make: the transport (in `sustain-intensity`) only sends it and hands back the answer.
public struct ProviderRequest: Sendable, Equatable {
    public var url: String
    public var headers: [String: String]
    /// Whether a 404 means "no figures for this window" rather than an error.
    public var optional: Bool = false
}

/// The grid-intensity services `intensity fetch` knows: where to ask, how to read the answer, under which terms.
/// Each decoder follows the provider's documented payload (cited on the case) and keeps only what it says.
public enum IntensityProvider: String, Sendable, CaseIterable {
    /// NESO's Carbon Intensity API for Great Britain, no key: https://carbon-intensity.github.io/api-definitions/
    /// National `GET /intensity/{from}/{to}` and `/intensity/{from}/fw48h` (`data[]` of `from`, `to`,
    /// `intensity.forecast`, `intensity.actual`); regional `GET /regional/intensity/{from}/{to}/regionid/{id}` and
    /// `.../fw48h/regionid/{id}` (`data.data[]`, forecast only). Half-hour periods, gCO2/kWh. Zones: `GB`,
    /// `GB-1` … `GB-17` (the API's region ids).
    case ukCarbonIntensity = "uk-carbon-intensity"
    /// Energinet's Energi Data Service, no key: https://www.energidataservice.dk/tso-electricity/CO2Emis
    /// `GET /dataset/CO2Emis` and `/dataset/CO2EmisProg` (forecast) with `start`, `end` and a `PriceArea` filter:
    /// `records[]` of `Minutes5UTC`, `PriceArea`, `CO2Emission` (g/kWh), five-minute periods. Zones: `DK1`, `DK2`.
    case energinet
    /// Electricity Maps, with a token (`auth-token` header): https://static.electricitymaps.com/api/docs/index.html
    /// `GET /v3/carbon-intensity/history?zone=Z` (`history[]` of `datetime`, `carbonIntensity`,
    /// `emissionFactorType`) and `/v3/carbon-intensity/forecast?zone=Z` (`forecast[]`). Hourly, gCO2eq/kWh.
    case electricityMaps = "electricity-maps"
    /// WattTime, with an account (`user:password`; `GET /login` gives a bearer token): https://docs.watttime.org/
    /// `GET /v3/historical` and `/v3/forecast` with `region` and `signal_type=co2_moer`: `data[]` of `point_time`
    /// and `value`, `meta.units` `lbs_co2_per_mwh`, `meta.dataPointPeriodSeconds`. Marginal, not average.
    case wattTime = "watttime"

    public var defaultEndpoint: String {
        switch self {
        case .ukCarbonIntensity: "https://api.carbonintensity.org.uk"
        case .energinet: "https://api.energidataservice.dk"
        case .electricityMaps: "https://api.electricitymap.org"
        case .wattTime: "https://api.watttime.org"
        }
    }

    public var needsToken: Bool { self == .electricityMaps || self == .wattTime }

    /// Who publishes the figures and the terms, as the report cites them.
    public var attribution: String {
        switch self {
        case .ukCarbonIntensity:
            "Carbon Intensity API, National Energy System Operator (NESO) and University of Oxford, CC BY 4.0"
        case .energinet: "Energi Data Service, Energinet (CO2Emis/CO2EmisProg), CC BY 4.0"
        case .electricityMaps: "Electricity Maps API, under the account holder's Electricity Maps terms"
        case .wattTime: "WattTime API (co2_moer), under the account holder's WattTime terms"
        }
    }

    /// The yearly dataset's row for a zone's fallback, where the zone names one.
    public func region(of zone: String) -> String? {
        switch self {
        case .ukCarbonIntensity: "GB"
        case .energinet: "DK"
        case .electricityMaps:
            zone.count == 2 ? zone.uppercased() : zone.split(separator: "-").first.map { String($0).uppercased() }
        case .wattTime: nil
        }
    }

    /// Checks the zone's spelling for this provider (it goes into a URL and a file name).
    public func validate(zone: String) throws(IntensityDataError) -> String {
        let allowed = zone.unicodeScalars.allSatisfy {
            ($0.properties.isASCIIHexDigit || ($0.value >= 0x41 && $0.value <= 0x5A)
                || ($0.value >= 0x61 && $0.value <= 0x7A)
                || ($0.value >= 0x30 && $0.value <= 0x39) || $0 == "-" || $0 == "_")
        }
        guard allowed, !zone.isEmpty, zone.count <= 64 else {
            throw IntensityDataError("Invalid zone \"\(zone.prefix(64))\": letters, digits, - and _ only.")
        }
        switch self {
        case .ukCarbonIntensity:
            let upper = zone.uppercased()
            if upper == "GB" { return "GB" }
            if upper.hasPrefix("GB-"), let id = Int(upper.dropFirst(3)), (1...17).contains(id) { return "GB-\(id)" }
            throw IntensityDataError(
                "Unknown zone \"\(zone)\" for uk-carbon-intensity: GB (national) or GB-1 … GB-17 (regions: 13 is "
                    + "London, 16 Scotland, 17 Wales; see carbon-intensity.github.io/api-definitions).")
        case .energinet:
            let upper = zone.uppercased()
            guard upper == "DK1" || upper == "DK2" else {
                throw IntensityDataError("Unknown zone \"\(zone)\" for energinet: DK1 (west) or DK2 (east).")
            }
            return upper
        case .electricityMaps, .wattTime:
            return zone
        }
    }

    /// The requests for the figures from `from` to `to` (seconds since 1970) and the forecast after.
    public func requests(zone: String, from: Double, to: Double, endpoint: String? = nil) -> [ProviderRequest] {
        let base =
            (endpoint ?? defaultEndpoint).hasSuffix("/")
            ? String((endpoint ?? defaultEndpoint).dropLast()) : (endpoint ?? defaultEndpoint)
        func minute(_ seconds: Double) -> String {  // 2026-11-29T14:00Z
            String(UTCTimestamp.string(secondsSince1970: seconds).prefix(16)) + "Z"
        }
        func local(_ seconds: Double) -> String { String(minute(seconds).dropLast()) }  // 2026-11-29T14:00
        switch self {
        case .ukCarbonIntensity:
            if zone == "GB" {
                return [
                    ProviderRequest(url: "\(base)/intensity/\(minute(from))/\(minute(to))", headers: [:]),
                    ProviderRequest(url: "\(base)/intensity/\(minute(to))/fw48h", headers: [:]),
                ]
            }
            let id = zone.dropFirst(3)
            return [
                ProviderRequest(
                    url: "\(base)/regional/intensity/\(minute(from))/\(minute(to))/regionid/\(id)", headers: [:]),
                ProviderRequest(url: "\(base)/regional/intensity/\(minute(to))/fw48h/regionid/\(id)", headers: [:]),
            ]
        case .energinet:
            let filter = "%7B%22PriceArea%22:%5B%22\(zone)%22%5D%7D"  // {"PriceArea":["DK1"]}
            return ["CO2Emis", "CO2EmisProg"].map { dataset in
                ProviderRequest(
                    url:
                        "\(base)/dataset/\(dataset)?start=\(local(from))&end=\(local(to + (dataset == "CO2Emis" ? 0 : 86_400)))"
                        + "&filter=\(filter)&sort=Minutes5UTC%20ASC&limit=0",
                    headers: [:])
            }
        case .electricityMaps:
            return [
                ProviderRequest(url: "\(base)/v3/carbon-intensity/history?zone=\(zone)", headers: [:]),
                ProviderRequest(url: "\(base)/v3/carbon-intensity/forecast?zone=\(zone)", headers: [:], optional: true),
            ]
        case .wattTime:
            return [
                ProviderRequest(
                    url: "\(base)/v3/historical?region=\(zone)&start=\(minute(from))&end=\(minute(to))"
                        + "&signal_type=co2_moer",
                    headers: [:]),
                ProviderRequest(url: "\(base)/v3/forecast?region=\(zone)&signal_type=co2_moer", headers: [:]),
            ]
        }
    }

    /// The basis of this provider's figures.
    public var basis: IntensityBasis {
        switch self {
        // Both count the CO2 of generation only: wind, solar and nuclear at 0 g/kWh (NESO's factors table,
        // Energinet's dataset description).
        case .ukCarbonIntensity, .energinet: .direct
        // Lifecycle by default (the answer's emissionFactorType says; checked when decoding).
        case .electricityMaps: .lifecycle
        case .wattTime: .marginal
        }
    }

    /// The points in one answer. `now` marks later periods as forecasts where the provider does not say.
    public func decode(_ data: Data, now: Double) throws(IntensityDataError) -> [IntensityPoint] {
        do {
            switch self {
            case .ukCarbonIntensity: return try decodeCarbonIntensity(data, now: now)
            case .energinet: return try decodeEnerginet(data, now: now)
            case .electricityMaps: return try decodeElectricityMaps(data, now: now)
            case .wattTime: return try decodeWattTime(data, now: now)
            }
        } catch let error as IntensityDataError {
            throw error
        } catch {
            throw IntensityDataError(
                "\(rawValue) answered with something that is not its documented format: \(Self.describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "no \"\(key.stringValue)\" at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "unexpected value at \(context.codingPath.map(\.stringValue).joined(separator: ".")): "
                + context.debugDescription
        case DecodingError.dataCorrupted(let context):
            return "not JSON (\(context.debugDescription))"
        default:
            return "\(error)"
        }
    }

    private func time(_ text: String) throws(IntensityDataError) -> Double {
        guard let value = UTCTimestamp.seconds(parsing: text) else {
            throw IntensityDataError("\(rawValue) answered with a time that is not ISO 8601: \"\(text.prefix(40))\"")
        }
        return value
    }

    private struct CarbonIntensityPeriod: Decodable {
        struct Intensity: Decodable {
            var forecast: Double?
            var actual: Double?
        }
        var from: String
        var to: String
        var intensity: Intensity
    }

    private struct CarbonIntensityRegion: Decodable {
        var data: [CarbonIntensityPeriod]
    }

    /// National answers hold `data[]` of periods; regional ones `data` (an object, or an array of one) holding
    /// `data[]`.
    private func decodeCarbonIntensity(_ data: Data, now: Double) throws -> [IntensityPoint] {
        struct National: Decodable { var data: [CarbonIntensityPeriod] }
        struct Regional: Decodable { var data: CarbonIntensityRegion }
        struct RegionalList: Decodable { var data: [CarbonIntensityRegion] }
        let periods: [CarbonIntensityPeriod]
        if let national = try? JSONDecoder().decode(National.self, from: data) {
            periods = national.data
        } else if let regional = try? JSONDecoder().decode(Regional.self, from: data) {
            periods = regional.data.data
        } else {
            periods = try JSONDecoder().decode(RegionalList.self, from: data).data.flatMap(\.data)
        }
        var points: [IntensityPoint] = []
        for period in periods {
            let start = try time(period.from)
            let end = try time(period.to)
            // The actual figure where there is one; the forecast otherwise (regional figures are forecasts, kept
            // as the region's figure once the period has passed).
            guard let value = period.intensity.actual ?? period.intensity.forecast else { continue }
            points.append(
                IntensityPoint(
                    start: start, end: end, gramsPerKilowattHour: value,
                    forecast: period.intensity.actual == nil && end > now))
        }
        return points
    }

    private func decodeEnerginet(_ data: Data, now: Double) throws -> [IntensityPoint] {
        struct Answer: Decodable {
            struct Record: Decodable {
                var minutes5UTC: String
                var co2Emission: Double?
                enum CodingKeys: String, CodingKey {
                    case minutes5UTC = "Minutes5UTC"
                    case co2Emission = "CO2Emission"
                }
            }
            var dataset: String?
            var records: [Record]
        }
        let answer = try JSONDecoder().decode(Answer.self, from: data)
        let forecast = answer.dataset == "CO2EmisProg"
        return try answer.records.compactMap { record throws(IntensityDataError) -> IntensityPoint? in
            guard let value = record.co2Emission else { return nil }
            let start = try time(record.minutes5UTC)
            return IntensityPoint(
                start: start, end: start + 300, gramsPerKilowattHour: value, forecast: forecast && start + 300 > now)
        }
    }

    private func decodeElectricityMaps(_ data: Data, now: Double) throws -> [IntensityPoint] {
        struct Entry: Decodable {
            var datetime: String
            var carbonIntensity: Double?
            var emissionFactorType: String?
        }
        struct Answer: Decodable {
            var history: [Entry]?
            var forecast: [Entry]?
        }
        let answer = try JSONDecoder().decode(Answer.self, from: data)
        guard answer.history != nil || answer.forecast != nil else {
            throw IntensityDataError("electricity-maps answered without \"history\" or \"forecast\"")
        }
        let isForecast = answer.forecast != nil
        var points: [IntensityPoint] = []
        for entry in answer.history ?? answer.forecast ?? [] {
            if let type = entry.emissionFactorType, type != basis.rawValue {
                throw IntensityDataError(
                    "electricity-maps answered with \(type) figures; sustain asks for lifecycle figures and never "
                        + "mixes bases")
            }
            guard let value = entry.carbonIntensity else { continue }
            let start = try time(entry.datetime)
            points.append(
                IntensityPoint(
                    start: start, end: start + 3600, gramsPerKilowattHour: value,
                    forecast: isForecast && start + 3600 > now))
        }
        return points
    }

    /// Pounds per MWh to grams per kWh: 453.59237 g per lb, 1,000 kWh per MWh.
    static let gramsPerKilowattHourPerPoundPerMegawattHour = 0.453_592_37

    private func decodeWattTime(_ data: Data, now: Double) throws -> [IntensityPoint] {
        struct Answer: Decodable {
            struct Point: Decodable {
                var pointTime: String
                var value: Double?
                enum CodingKeys: String, CodingKey {
                    case pointTime = "point_time"
                    case value
                }
            }
            struct Meta: Decodable {
                var dataPointPeriodSeconds: Double?
                var units: String?
                var signalType: String?
                enum CodingKeys: String, CodingKey {
                    case dataPointPeriodSeconds = "data_point_period_seconds"
                    case units
                    case signalType = "signal_type"
                }
            }
            var data: [Point]
            var meta: Meta
        }
        let answer = try JSONDecoder().decode(Answer.self, from: data)
        guard answer.meta.units == "lbs_co2_per_mwh" else {
            throw IntensityDataError(
                "watttime answered in \"\(answer.meta.units ?? "no unit")\", expected lbs_co2_per_mwh")
        }
        guard answer.meta.signalType == nil || answer.meta.signalType == "co2_moer" else {
            throw IntensityDataError("watttime answered with signal \(answer.meta.signalType ?? ""), not co2_moer")
        }
        let period = answer.meta.dataPointPeriodSeconds ?? 300
        guard period > 0, period <= 3600 else {
            throw IntensityDataError("watttime answered with a period of \(period) s")
        }
        return try answer.data.compactMap { point throws(IntensityDataError) -> IntensityPoint? in
            guard let value = point.value else { return nil }
            let start = try time(point.pointTime)
            return IntensityPoint(
                start: start, end: start + period,
                gramsPerKilowattHour: value * Self.gramsPerKilowattHourPerPoundPerMegawattHour,
                forecast: start + period > now)
        }
    }
}
