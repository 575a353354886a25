/// One mark a job sends about its own steps: `begin NAME`, `end NAME [units=N] [unit=WORD]`, `event NAME` (a bare
/// `NAME` is an event too), or `metric NAME=VALUE` (a quality figure of the run: accuracy, loss). Names are one word
/// (no blank), 1 to 128 bytes of UTF-8, no control characters.
public enum Mark: Equatable, Sendable {
    case begin(String)
    case end(String, units: Double?, unit: String?)
    case event(String)
    case metric(String, Double)

    /// The longest name, in bytes.
    public static let maximumNameBytes = 128

    /// Parses one line; throws why it is not a mark.
    public static func parse(_ line: [UInt8]) throws(MarkError) -> Mark {
        guard let text = String(validating: line, as: UTF8.self) else { throw .notUTF8 }
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first else { throw .empty }
        switch first {
        case "begin":
            guard words.count == 2 else { throw .malformed("begin takes one name") }
            return .begin(try name(words[1]))
        case "event":
            guard words.count == 2 else { throw .malformed("event takes one name") }
            return .event(try name(words[1]))
        case "metric":
            guard words.count == 2 else { throw .malformed("metric takes NAME=VALUE") }
            return try metric(words[1])
        case "end":
            guard words.count >= 2 else { throw .malformed("end takes a name") }
            var units: Double?
            var unit: String?
            for option in words.dropFirst(2) {
                if option.hasPrefix("units=") {
                    guard let value = Double(option.dropFirst(6)), value.isFinite, value >= 0, value < 1e18 else {
                        throw .malformed("units must be a number from 0 to 1e18")
                    }
                    units = value
                } else if option.hasPrefix("unit=") {
                    unit = try name(String(option.dropFirst(5)))
                } else {
                    throw .malformed("unknown option \(option.escapingControlCharacters.excerpt(40))")
                }
            }
            return .end(try name(words[1]), units: units, unit: unit)
        default:
            guard words.count == 1 else { throw .malformed("a mark is begin NAME, end NAME or event NAME") }
            return .event(try name(first))
        }
    }

    /// `NAME=VALUE` as a metric: a valid name and a finite number.
    public static func metric(_ text: String) throws(MarkError) -> Mark {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let value = Double(parts[1]), value.isFinite else {
            throw .malformed("a metric is NAME=VALUE with a finite number")
        }
        return .metric(try name(parts[0]), value)
    }

    /// `text` when it is a valid phase name; else why not.
    public static func name(_ text: String) throws(MarkError) -> String {
        guard !text.isEmpty, text.utf8.count <= maximumNameBytes else { throw .badName(text.excerpt(40)) }
        guard !text.containsControlCharacters else {
            throw .badName(text.escapingControlCharacters.excerpt(40))
        }
        return text
    }
}

/// Why a line is not a mark.
public enum MarkError: Error, Equatable, Sendable, CustomStringConvertible {
    case notUTF8
    case empty
    case badName(String)
    case malformed(String)

    public var description: String {
        switch self {
        case .notUTF8: "not UTF-8"
        case .empty: "empty"
        case .badName(let name):
            "bad name \"\(name)\" (one word, 1 to \(Mark.maximumNameBytes) bytes, no control characters)"
        case .malformed(let reason): reason
        }
    }
}
