import LinuxSupport
import SustainCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why a report could not be written or read: what, where, and what to do.
public struct ReportError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Report {
    /// The report as pretty, key-sorted JSON with ISO 8601 UTC dates.
    public func jsonData() throws -> Data {
        var data = try Self.fileEncoder().encode(self)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// The coding of sustain's files (reports, experiments): pretty, key-sorted JSON, dates in ISO 8601 UTC to
    /// the millisecond.
    public static func fileEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(timestamp(date))
        }
        return encoder
    }

    public static func fileDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            return try Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        }
        return decoder
    }

    /// ISO 8601 UTC with milliseconds, rounded to the nearest millisecond (the formatter truncates, and a parsed
    /// `.800` is stored as `.7999…`: without the nudge a report would not survive a read and a write unchanged).
    public static func timestamp(_ date: Date) -> String {
        UTCTimestamp.string(secondsSince1970: date.timeIntervalSince1970)
    }

    /// Reads a report written by `write(to:)`, and checks it (`validate()`): a file or an answer is not trusted.
    public static func decode(_ data: Data) throws -> Report {
        let report = try fileDecoder().decode(Report.self, from: data)
        try report.validate()
        return report
    }

    /// Writes the report to `path` atomically and privately (mode 0600, whatever the umask), creating missing
    /// directories (mode 0700); `-` writes it to standard output. A path that exists and is not a regular file
    /// (`/dev/null`, a FIFO, a symbolic link) is refused and left as it is (`SafeFile.replace`).
    public func write(to path: String) throws {
        if path == "-" {
            try jsonData().withUnsafeBytes { try writeAll(1, $0) }
            return
        }
        let destination: SafeFile.Destination
        do {
            destination = try SafeFile.Destination(path, createDirectories: true)
        } catch {
            throw ReportError("Cannot write report: \(error). Choose another --report path.")
        }
        try write(to: destination)
    }

    /// Writes the report into a destination opened before the job ran (`SafeFile.Destination`): atomically and
    /// privately (mode 0600), in the directory the path named then, whatever was moved since.
    public func write(to destination: SafeFile.Destination) throws {
        let data = try jsonData()
        do {
            try destination.replace(with: [UInt8](data), mode: 0o600)
        } catch {
            throw ReportError("Cannot write report: \(error). Choose another --report path.")
        }
    }
}
