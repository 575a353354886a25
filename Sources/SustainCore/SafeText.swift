/// Text from users (commands, labels, configuration values) made safe to print on a terminal or in a log line:
/// control characters are escaped so that nothing can forge a log line or send escape sequences to root's terminal,
/// and long text is cut with its length said.
extension String {
    /// The text with every control character (C0, DEL, C1; a newline, a tab, an escape) written as `\n`, `\t`,
    /// `\r` or `\u{1B}`, and backslashes doubled, so the escaped form reads back unambiguously.
    public var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: { Self.needsEscape($0) }) else { return self }
        var result = ""
        result.reserveCapacity(utf8.count + 8)
        for scalar in unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            case _ where Self.needsEscape(scalar): result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// At most `limit` characters: longer text is cut and says how long it was.
    public func excerpt(_ limit: Int = 200) -> String {
        guard count > limit else { return self }
        return "\(prefix(limit))… (\(count) characters)"
    }

    /// True when the text holds a control character (C0, DEL or C1).
    public var containsControlCharacters: Bool { unicodeScalars.contains(where: Self.isControl) }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        isControl(scalar) || scalar == "\\" || scalar == "\u{2028}" || scalar == "\u{2029}"
    }
}
