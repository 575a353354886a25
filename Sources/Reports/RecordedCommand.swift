#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A command as a report records it: its words as text and, when a word is not UTF-8 (a file name in Latin-1,
/// say), every word's exact bytes in base64 (`command_base64`), since JSON text cannot hold such bytes.
public struct RecordedCommand: Sendable, Equatable {
    /// The words, with bytes that are not UTF-8 shown as U+FFFD.
    public var text: [String]
    /// Each word's bytes in base64, only when some word is not UTF-8; nil otherwise.
    public var base64: [String]?
    /// How many words the command had, when `text` holds fewer (the service truncates a very long command).
    public var truncatedFrom: Int?

    public init(text: [String], base64: [String]? = nil, truncatedFrom: Int? = nil) {
        self.text = text
        self.base64 = base64
        self.truncatedFrom = truncatedFrom
    }

    /// The record of a command given as bytes.
    public init(_ words: [[UInt8]]) {
        text = words.map { String(decoding: $0, as: UTF8.self) }
        let exact = words.allSatisfy { String(validating: $0, as: UTF8.self) != nil }
        base64 = exact ? nil : words.map { Data($0).base64EncodedString() }
        truncatedFrom = nil
    }

    /// The most bytes of command the service stores per job (text and base64 together).
    public static let storedBytesLimit = 64 * 1024

    /// At most `limit` bytes of words (and their base64, when present), cut at a word, saying how many there were.
    public func truncated(toBytes limit: Int = storedBytesLimit) -> RecordedCommand {
        var total = 0
        var kept = 0
        for (index, word) in text.enumerated() {
            total += word.utf8.count + (base64?[index].utf8.count ?? 0) + 4
            if total > limit { break }
            kept += 1
        }
        guard kept < text.count else { return self }
        return RecordedCommand(
            text: Array(text.prefix(kept)), base64: base64.map { Array($0.prefix(kept)) },
            truncatedFrom: truncatedFrom ?? text.count)
    }

    /// The warnings a report carries about this record.
    public var warnings: [String] {
        var result: [String] = []
        if base64 != nil {
            result.append(
                "The command has words that are not UTF-8: `command` shows those bytes as U+FFFD; `command_base64` "
                    + "holds every word exactly (it ran exactly as given).")
        }
        if let truncatedFrom {
            result.append(
                "The command had \(truncatedFrom) words; the first \(text.count) are recorded (it ran whole, and was "
                    + "measured whole).")
        }
        return result
    }

    /// The words as one line for a terminal or a log: joined by spaces, control characters escaped.
    public var displayLine: String { text.joined(separator: " ").escapingControlCharacters }
}
