import Impact
import LinuxSupport
import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why a series file or a provider's answer could not be used: what, where, and what to do.
public struct IntensityDataError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Intensity series on disk: the files users give (`--intensity-series`) and the cache `intensity fetch` writes.
///
/// - CSV: a header `timestamp,g_per_kwh[,basis]`, then one row per period start (ISO 8601; no zone means UTC).
///   Each period lasts until the next row; the last one as long as the one before it (an hour when alone).
/// - JSON: the cache's own format, `sustain.intensity.v1` (below), or an array of
///   `{"timestamp": ..., "g_per_kwh": ...}` objects read like the CSV.
public enum SeriesFile {
    public static let schema = "sustain.intensity.v1"
    /// A file larger than this is refused (a cache holds at most 20,000 points, about 2 MB).
    public static let sizeLimit = 16 << 20

    /// The cache's JSON form.
    struct Document: Codable {
        struct Point: Codable {
            var start: String
            var end: String
            var gPerKwh: Double
            var forecast: Bool?
            enum CodingKeys: String, CodingKey {
                case start, end, forecast
                case gPerKwh = "g_per_kwh"
            }
        }
        var schema: String
        var provider: String
        var zone: String
        var region: String?
        var basis: String
        var attribution: String
        var fetchedAt: String?
        var points: [Point]
        enum CodingKeys: String, CodingKey {
            case schema, provider, zone, region, basis, attribution, points
            case fetchedAt = "fetched_at"
        }
    }

    struct Row: Codable {
        var timestamp: String
        var gPerKwh: Double
        var basis: String?
        enum CodingKeys: String, CodingKey {
            case timestamp, basis
            case gPerKwh = "g_per_kwh"
        }
    }

    /// A series and the dataset region its yearly fallback comes from, when the file names one.
    public struct Loaded: Sendable {
        public var series: IntensitySeries
        public var region: String?
    }

    /// A loaded series with the bytes it was read from.
    public struct Cached: Sendable {
        public var bytes: [UInt8]
        public var loaded: Loaded
    }

    /// Reads `path` (CSV or JSON, by content). `basis` applies to a CSV or array without a basis column
    /// (default lifecycle, like the yearly figures).
    public static func load(_ path: String, basis: IntensityBasis = .lifecycle) throws(IntensityDataError) -> Loaded {
        try load(path, basis: basis, reusing: nil).loaded
    }

    /// Reads `path` again and parses it only if its bytes changed since `cached` (a service reads the configured
    /// series at every job's end; the fetch timer replaces it every 30 minutes).
    /// `trusted`: read as a root service must (`SafeFile.readTrusted`: no symbolic link, no hard link, owned by
    /// root or the directory's owner).
    public static func load(
        _ path: String, basis: IntensityBasis = .lifecycle, reusing cached: Cached?, trusted: Bool = false
    ) throws(IntensityDataError) -> Cached {
        let bytes: [UInt8]
        do {
            bytes =
                trusted
                ? try SafeFile.readTrusted(path, limit: sizeLimit) : try SafeFile.readRegular(path, limit: sizeLimit)
        } catch {
            throw IntensityDataError("Cannot read the intensity series \(path): \(error)")
        }
        if let cached, cached.bytes == bytes { return cached }
        let name = String(path.split(separator: "/").last ?? Substring(path))
        let first = bytes.first { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }
        do throws(IntensityDataError) {
            let loaded: Loaded
            switch first {
            case UInt8(ascii: "{"): loaded = try decodeDocument(Data(bytes), name: name)
            case UInt8(ascii: "["):
                let rows: [Row]
                do {
                    rows = try JSONDecoder().decode([Row].self, from: Data(bytes))
                } catch {
                    throw IntensityDataError(
                        "not an array of {\"timestamp\": ISO 8601, \"g_per_kwh\": number} (\(error))")
                }
                loaded = Loaded(series: try series(rows, basis: basis, name: name), region: nil)
            default:
                loaded = Loaded(series: try parseCSV(bytes, basis: basis, name: name), region: nil)
            }
            return Cached(bytes: bytes, loaded: loaded)
        } catch {
            throw IntensityDataError("\(path): \(error.description)")
        }
    }

    /// CSV text as a series (`name` for messages and the series' zone).
    public static func parseCSV(_ text: String, basis: IntensityBasis, name: String) throws(IntensityDataError)
        -> IntensitySeries
    {
        try parseCSV(Array(text.utf8), basis: basis, name: name)
    }

    /// CSV bytes as a series, in one pass over the bytes: a 16 MiB file (640,000 rows) makes no String per line
    /// or field, only its points.
    public static func parseCSV(_ bytes: [UInt8], basis: IntensityBasis, name: String) throws(IntensityDataError)
        -> IntensitySeries
    {
        func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D }
        func trimmed(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
            var line = line
            while let first = line.first, isBlank(first) { line = line.dropFirst() }
            while let last = line.last, isBlank(last) { line = line.dropLast() }
            return line
        }
        func excerpt(_ line: ArraySlice<UInt8>) -> String { String(decoding: line.prefix(80), as: UTF8.self) }
        var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var lineNumber = 0
        var columns = 0
        var starts: [(Double, Double)] = []
        var bases: Set<String> = []
        while start <= bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            let line = trimmed(bytes[start..<end])
            lineNumber += 1
            start = end + 1
            if lineNumber == 1 {
                let header = String(decoding: line, as: UTF8.self).lowercased().split(separator: ",").map {
                    SeriesFile.trimmed($0)
                }
                guard header.count >= 2, header[0] == "timestamp", header[1] == "g_per_kwh",
                    header.count == 2 || (header.count == 3 && header[2] == "basis")
                else {
                    throw IntensityDataError(
                        "line 1: expected the header timestamp,g_per_kwh (and optionally ,basis), found "
                            + "\"\(excerpt(line))\"")
                }
                columns = header.count
                continue
            }
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            // The fields, cut where the commas are (no array per line).
            let comma = UInt8(ascii: ",")
            let first = line.firstIndex(of: comma)
            let rest = first.map { line[($0 + 1)...] } ?? line[line.endIndex...]
            let second = rest.firstIndex(of: comma)
            let timestamp = trimmed(first.map { line[..<$0] } ?? line)
            let figure = trimmed(second.map { rest[..<$0] } ?? rest)
            let basisField = second.map { trimmed(rest[($0 + 1)...]) }
            let count = first == nil ? 1 : second == nil ? 2 : 3 + (basisField?.count(where: { $0 == comma }) ?? 0)
            guard count == columns, let value = Double(String(decoding: figure, as: UTF8.self)) else {
                throw IntensityDataError(
                    "line \(lineNumber): expected \(columns) fields, a timestamp and a number, found \"\(excerpt(line))\""
                )
            }
            guard let seconds = UTCTimestamp.seconds(parsingUTF8: timestamp) else {
                throw IntensityDataError(
                    "\"\(String(decoding: timestamp.prefix(40), as: UTF8.self))\" is not an ISO 8601 time "
                        + "(2026-11-29T14:00:00Z)")
            }
            starts.append((seconds, value))
            if let basisField, !basisField.isEmpty, bases.count < 2 {
                bases.insert(String(decoding: basisField, as: UTF8.self).lowercased())
            }
        }
        return try series(starts: starts, bases: bases, basis: basis, name: name)
    }

    /// Without the spaces, tabs and carriage returns around it.
    static func trimmed(_ text: some StringProtocol) -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = text.firstIndex(where: { !blank($0) }), let last = text.lastIndex(where: { !blank($0) })
        else { return "" }
        return String(text[first...last])
    }

    static func series(_ rows: [Row], basis: IntensityBasis, name: String) throws(IntensityDataError)
        -> IntensitySeries
    {
        var starts: [(Double, Double)] = []
        for row in rows {
            guard let start = UTCTimestamp.seconds(parsing: row.timestamp) else {
                throw IntensityDataError(
                    "\"\(row.timestamp.prefix(40))\" is not an ISO 8601 time (2026-11-29T14:00:00Z)")
            }
            starts.append((start, row.gPerKwh))
        }
        let bases = Set(rows.compactMap { $0.basis?.lowercased() }.filter { !$0.isEmpty })
        return try series(starts: starts, bases: bases, basis: basis, name: name)
    }

    /// Rows (start, g/kWh) as periods that last until the next row's start, on the rows' one basis.
    static func series(starts: [(Double, Double)], bases: Set<String>, basis: IntensityBasis, name: String)
        throws(IntensityDataError) -> IntensitySeries
    {
        guard !starts.isEmpty else { throw IntensityDataError("no rows: a series needs at least one figure") }
        var starts = starts
        guard bases.count <= 1 else {
            throw IntensityDataError(
                "rows on different bases (\(bases.sorted().joined(separator: ", "))): one series has one basis")
        }
        var rowBasis = basis
        if let text = bases.first {
            guard let value = IntensityBasis(rawValue: text) else {
                throw IntensityDataError("unknown basis \"\(text)\" (lifecycle, direct or marginal)")
            }
            rowBasis = value
        }
        starts.sort { $0.0 < $1.0 }
        var points: [IntensityPoint] = []
        for (index, (start, value)) in starts.enumerated() {
            let end: Double
            if index + 1 < starts.count {
                end = starts[index + 1].0
            } else {
                end = start + (index > 0 ? start - starts[index - 1].0 : 3600)
            }
            guard end > start else {
                throw IntensityDataError(
                    "two rows at \(UTCTimestamp.string(secondsSince1970: start))")
            }
            points.append(IntensityPoint(start: start, end: end, gramsPerKilowattHour: value))
        }
        do {
            return try IntensitySeries(
                provider: "file", zone: name, basis: rowBasis, points: points,
                attribution: "given by the user (\(name))")
        } catch {
            throw IntensityDataError(error.description)
        }
    }

    static func decodeDocument(_ data: Data, name: String) throws(IntensityDataError) -> Loaded {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: data)
        } catch {
            throw IntensityDataError("not a \(schema) document (\(error))")
        }
        guard document.schema == schema else {
            throw IntensityDataError("schema \"\(document.schema)\", expected \"\(schema)\"")
        }
        guard let basis = IntensityBasis(rawValue: document.basis) else {
            throw IntensityDataError("unknown basis \"\(document.basis)\"")
        }
        var points: [IntensityPoint] = []
        for point in document.points {
            guard let start = UTCTimestamp.seconds(parsing: point.start),
                let end = UTCTimestamp.seconds(parsing: point.end)
            else { throw IntensityDataError("a point's start or end is not an ISO 8601 time: \(point.start)") }
            points.append(
                IntensityPoint(
                    start: start, end: end, gramsPerKilowattHour: point.gPerKwh, forecast: point.forecast ?? false))
        }
        do {
            let series = try IntensitySeries(
                provider: document.provider, zone: document.zone, basis: basis, points: points,
                fetchedAt: document.fetchedAt.flatMap { UTCTimestamp.seconds(parsing: $0) },
                attribution: document.attribution)
            return Loaded(series: series, region: document.region)
        } catch {
            throw IntensityDataError(error.description)
        }
    }

    /// The cache's JSON for `series`.
    public static func encode(_ series: IntensitySeries, region: String?) -> [UInt8] {
        let time = UTCTimestamp.string(secondsSince1970:)
        let document = Document(
            schema: schema, provider: series.provider, zone: series.zone, region: region,
            basis: series.basis.rawValue, attribution: series.attribution, fetchedAt: series.fetchedAt.map(time),
            points: series.points.map {
                Document.Point(
                    start: time($0.start), end: time($0.end), gPerKwh: $0.gramsPerKilowattHour,
                    forecast: $0.forecast ? true : nil)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(document)) ?? Data())
    }
}
