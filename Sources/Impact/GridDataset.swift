/// Where a grid intensity comes from.
public enum GridKind: String, Sendable, Codable, Hashable {
    /// A country (Ember, lifecycle).
    case country
    /// A US EPA eGRID subregion or the eGRID national figure (direct).
    case egrid
    /// A cloud region with its provider's own published figure (Google, direct).
    case cloud
    /// The world average (Ember, lifecycle).
    case world
}

/// One row of the bundled grid dataset (`config/grid-intensity.csv`).
public struct GridFactor: Sendable, Hashable {
    public var kind: GridKind
    /// `FR`, `CAMX`, `gcp:europe-west9`, `WORLD`.
    public var code: String
    /// The ISO alpha-3 code of a country (`FRA`); the country of a cloud region.
    public var alternateCode: String
    public var name: String
    public var year: Int
    public var intensity: CarbonIntensity
    public var source: String
    public var licence: String

    /// "Ember Yearly Electricity Data …, 2024": the dataset and the year, for reports.
    public var sourceAndYear: String { "\(source), \(year)" }
}

/// A region resolved to a grid factor: what the user gave, and which row answered.
public struct ResolvedRegion: Sendable, Hashable {
    /// The region as given (`aws:eu-west-3`), or `WORLD` for the default.
    public var requested: String
    /// The row that gave the intensity.
    public var factor: GridFactor
    /// How the request led to the row (`aws:eu-west-3 is in the FR grid`).
    public var via: String?
}

/// The bundled grid intensities and cloud-region mapping, parsed once. Pure: the data is compiled into the binary
/// (see `BundledData`), nothing is read from disk.
public struct GridDataset: Sendable {
    public let factors: [GridFactor]
    /// AWS and Azure regions → the grid code they draw from (`aws:eu-west-3` → `FR`).
    public let cloudGrids: [String: String]
    private let byCode: [String: GridFactor]

    /// The dataset shipped with sustain.
    public static let bundled: GridDataset = {
        do {
            return try GridDataset(intensityCSV: BundledData.gridIntensity, cloudRegionsCSV: BundledData.cloudRegions)
        } catch {
            preconditionFailure("the bundled grid dataset is malformed: \(error)")
        }
    }()

    /// The bundled world row, read alone.
    public static let bundledWorld: GridFactor = {
        // The wrapper's default at every start: the one row, read by a byte scan of its fixed columns (kind,
        // code, alt_code, name, year, g/kWh, basis, "source", licence) rather than the whole dataset's parse.
        let text = BundledData.gridIntensity.utf8
        guard let start = text.firstRange(of: "\nworld,".utf8)?.upperBound,
            let end = text[start...].firstIndex(of: UInt8(ascii: "\n"))
        else { return GridDataset.bundled.world }
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false
        for byte in text[start..<end] {
            if byte == UInt8(ascii: "\"") {
                quoted.toggle()
            } else if byte == UInt8(ascii: ","), !quoted {
                fields.append(String(decoding: field, as: UTF8.self))
                field.removeAll(keepingCapacity: true)
            } else {
                field.append(byte)
            }
        }
        fields.append(String(decoding: field, as: UTF8.self))
        guard fields.count == 8, let year = Int(fields[3]), let grams = Double(fields[4]),
            let basis = IntensityBasis(rawValue: fields[5])
        else { return GridDataset.bundled.world }
        return GridFactor(
            kind: .world, code: fields[0], alternateCode: fields[1], name: fields[2], year: year,
            intensity: CarbonIntensity(gramsPerKilowattHour: grams, basis: basis), source: fields[6],
            licence: fields[7])
    }()

    public init(intensityCSV: String, cloudRegionsCSV: String) throws(ImpactError) {
        var factors: [GridFactor] = []
        for (line, row) in CSV.records(intensityCSV) {
            func field(_ name: String) throws(ImpactError) -> String {
                guard let value = row[name], !value.isEmpty else {
                    throw .malformed(file: "grid-intensity.csv", line: line, field: name, reason: "missing value")
                }
                return value
            }
            guard let kind = GridKind(rawValue: try field("kind")) else {
                throw .malformed(file: "grid-intensity.csv", line: line, field: "kind", reason: "unknown kind")
            }
            guard let year = Int(try field("year")) else {
                throw .malformed(file: "grid-intensity.csv", line: line, field: "year", reason: "not a year")
            }
            guard let grams = Double(try field("gco2e_per_kwh")), grams.isFinite, grams >= 0 else {
                throw .malformed(file: "grid-intensity.csv", line: line, field: "gco2e_per_kwh", reason: "not a number")
            }
            guard let basis = IntensityBasis(rawValue: try field("basis")) else {
                throw .malformed(file: "grid-intensity.csv", line: line, field: "basis", reason: "not lifecycle/direct")
            }
            factors.append(
                GridFactor(
                    kind: kind, code: try field("code"), alternateCode: row["alt_code"] ?? "", name: try field("name"),
                    year: year, intensity: CarbonIntensity(gramsPerKilowattHour: grams, basis: basis),
                    source: try field("source"), licence: try field("licence")))
        }
        var byCode: [String: GridFactor] = [:]
        for factor in factors {
            byCode[factor.code.uppercased()] = factor
            if factor.kind == .country || factor.kind == .world, !factor.alternateCode.isEmpty {
                byCode[factor.alternateCode.uppercased()] = factor
            }
        }
        var cloudGrids: [String: String] = [:]
        for (line, row) in CSV.records(cloudRegionsCSV) {
            guard let provider = row["provider"], let region = row["region"], let grid = row["grid"],
                byCode[grid.uppercased()] != nil
            else {
                throw .malformed(file: "cloud-regions.csv", line: line, field: "grid", reason: "unknown grid")
            }
            cloudGrids["\(provider):\(region)".uppercased()] = grid
        }
        self.factors = factors
        self.byCode = byCode
        self.cloudGrids = cloudGrids
    }

    /// The world average, the default when nothing else is given.
    public var world: GridFactor {
        guard let world = byCode["WORLD"] else { preconditionFailure("the dataset has no WORLD row") }
        return world
    }

    /// Resolves an ISO 3166 alpha-2 or alpha-3 country, a US eGRID subregion, or a cloud region
    /// (`aws:eu-west-3`, `gcp:europe-west9`, `azure:francecentral`); case does not matter.
    public func resolve(_ region: String) throws(ImpactError) -> ResolvedRegion {
        let key = region.trimmingSpaces().uppercased()
        if let factor = byCode[key] { return ResolvedRegion(requested: region, factor: factor, via: nil) }
        if let grid = cloudGrids[key], let factor = byCode[grid.uppercased()] {
            return ResolvedRegion(
                requested: region, factor: factor,
                via: "\(region) draws from the \(factor.code) grid (\(factor.name)); its provider publishes no figure")
        }
        // No region code or name is longer than 64 characters: a longer key has no close match worth the
        // quadratic edit distance.
        throw .unknownRegion(region.excerpt(64), closeMatches: key.count > 64 ? [] : closeMatches(to: key))
    }

    /// Up to five regions nearest to `key` by edit distance to their code or name (`FR (France)`).
    func closeMatches(to key: String) -> [String] {
        var candidates: [(label: String, score: Int)] = factors.map { factor in
            let name = factor.name.uppercased()
            var score = min(Self.editDistance(key, factor.code.uppercased()), Self.editDistance(key, name))
            if key.count >= 3 && name.hasPrefix(key) { score = 0 }
            return ("\(factor.code) (\(factor.name))", score)
        }
        for (region, grid) in cloudGrids {
            candidates.append(("\(region.lowercased()) (\(grid) grid)", Self.editDistance(key, region)))
        }
        let limit = max(2, key.count / 3)
        return candidates.filter { $0.score <= limit }.sorted { ($0.score, $0.label) < ($1.score, $1.label) }
            .prefix(5).map(\.label)
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
