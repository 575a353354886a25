import Glibc
import LinuxSupport

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
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Self.timestamp(date))
        }
        var data = try encoder.encode(self)
        data.append(UInt8(ascii: "\n"))
        return data
    }

    /// ISO 8601 UTC with milliseconds, rounded to the nearest millisecond (the formatter truncates, and a parsed
    /// `.800` is stored as `.7999…`: without the nudge a report would not survive a read and a write unchanged).
    public static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let fraction = String(milliseconds % 1000)
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec)).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)Z"
    }

    /// Reads a report written by `write(to:)`.
    public static func decode(_ data: Data) throws -> Report {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            return try Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        }
        return try decoder.decode(Report.self, from: data)
    }

    /// Writes the report to `path` atomically: a temporary file in the same directory, fsync, rename. Creates the
    /// directory (mode 0700) when missing.
    public func write(to path: String) throws {
        let data = try jsonData()
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !directory.isEmpty { try Self.makeDirectories(directory) }
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ReportError("Cannot write report \(path): \(Self.reason()). Choose another --report path.")
        }
        var failure: String?
        do {
            try data.withUnsafeBytes { try writeAll(fd, $0) }
        } catch {
            failure = (error as? SystemError)?.reason ?? "\(error)"
        }
        if failure == nil && fsync(fd) != 0 { failure = Self.reason() }
        close(fd)
        if failure == nil && rename(temporary, path) != 0 { failure = Self.reason() }
        if let failure {
            unlink(temporary)
            throw ReportError("Cannot write report \(path): \(failure). Choose another --report path.")
        }
    }

    static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw ReportError("Cannot create directory \(current): \(reason()). Choose another --report path.")
            }
        }
    }

    static func reason() -> String { String(cString: strerror(errno)) }
}
