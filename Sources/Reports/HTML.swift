/// Markup for the HTML report, escaping by default: text interpolated into an `HTML` literal is escaped for content
/// and attribute values unless it is itself `HTML`; the literal parts, written in this source, are markup. The one
/// way to put other text in as markup is `HTML.trusted(_:)`, for markup this program made (the style sheet).
///
/// A report file can hold anything (a crafted one, a command line with `<script>`): nothing from it can become
/// markup by a forgotten call. Numbers are formatted before they are interpolated (`HTMLReport.number`), so no
/// locale or `description` decides what a page shows.
public struct HTML: Sendable, Equatable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public private(set) var markup: String

    private init(markup: String) { self.markup = markup }

    /// Markup that this program wrote, taken as it is.
    static func trusted(_ markup: String) -> HTML { HTML(markup: markup) }

    public init(stringLiteral markup: String) { self.markup = markup }

    public init(stringInterpolation: StringInterpolation) { markup = stringInterpolation.markup }

    public var description: String { markup }

    public static let empty = HTML(markup: "")

    public var isEmpty: Bool { markup.isEmpty }

    public struct StringInterpolation: StringInterpolationProtocol {
        fileprivate var markup = ""

        public init(literalCapacity: Int, interpolationCount: Int) {
            markup.reserveCapacity(literalCapacity + 16 * interpolationCount)
        }

        /// The literal parts: markup written here.
        public mutating func appendLiteral(_ literal: String) { markup += literal }

        /// Markup, as it is.
        public mutating func appendInterpolation(_ html: HTML) { markup += html.markup }

        /// Markup fragments one after another.
        public mutating func appendInterpolation(_ parts: [HTML]) {
            for part in parts { markup += part.markup }
        }

        /// Text, escaped.
        public mutating func appendInterpolation(_ text: some StringProtocol) { markup += HTML.escape(String(text)) }

        /// A whole number.
        public mutating func appendInterpolation(_ value: some BinaryInteger) { markup += String(value) }
    }

    public static func + (lhs: HTML, rhs: HTML) -> HTML { HTML(markup: lhs.markup + rhs.markup) }

    /// Appends in place: a drawing of many parts is built without copying what it holds so far.
    public static func += (lhs: inout HTML, rhs: HTML) { lhs.markup += rhs.markup }

    /// Text made safe for HTML content and attribute values; control characters are shown as `\u{…}`.
    public static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                    result += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }
}

extension Array where Element == HTML {
    /// The fragments joined by `separator`.
    func joined(separator: HTML = .empty) -> HTML {
        .trusted(map(\.markup).joined(separator: separator.markup))
    }
}
