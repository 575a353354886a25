/// Why an impact input was rejected: the field, the value and what is expected.
public enum ImpactError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidValue(field: String, value: Double, expected: String)
    case invalidText(field: String, value: String, expected: String)
    case unknownRegion(String, closeMatches: [String])
    case malformed(file: String, line: Int, field: String?, reason: String)

    public var description: String {
        switch self {
        case .invalidValue(let field, let value, let expected):
            return "Invalid \(field): \(value). Expected \(expected)."
        case .invalidText(let field, let value, let expected):
            return "Invalid \(field): \"\(value)\". Expected \(expected)."
        case .unknownRegion(let region, let matches):
            let hint =
                matches.isEmpty
                ? "Use an ISO 3166 country code (FR, FRA), a US eGRID subregion (CAMX) or a cloud region "
                    + "(aws:eu-west-3, gcp:europe-west9, azure:francecentral)."
                : "Close matches: \(matches.joined(separator: ", "))."
            return "Unknown region \"\(region)\". \(hint)"
        case .malformed(let file, let line, let field, let reason):
            return "\(file):\(line)\(field.map { ", field \($0)" } ?? ""): \(reason)"
        }
    }
}
