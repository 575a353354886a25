import Impact
import SustainAPI

/// A series as it travels with a job from the wrapper to the service (`CarbonRequest.series`), and back.
extension SeriesRequest {
    /// The periods of `series` (already kept from the job's start on), at most `maximumPoints`.
    public init(_ series: IntensitySeries) {
        let kept = series.points.prefix(Self.maximumPoints)
        self.init(
            provider: series.provider, zone: series.zone, basis: series.basis.rawValue,
            attribution: series.attribution, fetchedAt: series.fetchedAt,
            points: kept.map { [$0.start, $0.end, $0.gramsPerKilowattHour, $0.forecast ? 1 : 0] },
            truncated: series.points.count > kept.count ? series.points.count - kept.count : nil)
    }
}

extension IntensitySeries {
    /// The series a job was sent with, checked as any series is (`IntensitySeries.init`): a malformed one is an
    /// error naming what is wrong.
    public init(_ request: SeriesRequest) throws(ImpactError) {
        guard let basis = IntensityBasis(rawValue: request.basis) else {
            throw .invalidText(field: "series.basis", value: request.basis, expected: "lifecycle, direct or marginal")
        }
        guard request.points.count <= SeriesRequest.maximumPoints else {
            throw .invalidText(
                field: "series.points", value: "\(request.points.count) periods",
                expected: "at most \(SeriesRequest.maximumPoints)")
        }
        var points: [IntensityPoint] = []
        for point in request.points {
            guard point.count == 4 else {
                throw .invalidText(
                    field: "series.points", value: "\(point.count) numbers", expected: "[start, end, g/kWh, forecast]")
            }
            points.append(
                IntensityPoint(start: point[0], end: point[1], gramsPerKilowattHour: point[2], forecast: point[3] != 0))
        }
        try self.init(
            provider: request.provider, zone: request.zone, basis: basis, points: points,
            fetchedAt: request.fetchedAt, attribution: request.attribution)
    }
}
