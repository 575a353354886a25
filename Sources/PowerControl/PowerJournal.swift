import FoundationEssentials
import LinuxSupport
import SustainCore

/// The originals of every limit changed and not yet put back, on disk before the first write: a service that
/// crashes (or is killed) with a limit set finds them at its next start and writes them back. One JSON file in the
/// service's state directory, replaced atomically and synced at every change; an empty list once all are back.
public struct PowerJournal: Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var device: String
        public var constraint: Int
        public var originalMicrowatts: UInt64
        /// Who holds it (job ids), for the log.
        public var holders: [String]

        enum CodingKeys: String, CodingKey {
            case device, constraint
            case originalMicrowatts = "original_uw"
            case holders
        }

        public var powerDevice: PowerLeases.Device { PowerLeases.Device(id: device, constraint: constraint) }
    }

    struct File: Codable {
        var format = "sustain.power-journal.v1"
        var entries: [Entry]
    }

    public let path: String

    public init(path: String) { self.path = path }

    /// The journal's name in the service's state directory.
    public static let fileName = "power-journal.json"

    /// Replaces the journal with `entries`, durably.
    public func write(_ entries: [Entry]) throws(PowerLimitError) {
        let bytes: [UInt8]
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            bytes = Array(try encoder.encode(File(entries: entries)))
        } catch {
            throw PowerLimitError("cannot encode the power journal: \(error)")
        }
        do {
            try SafeFile.replace(path, with: bytes, mode: 0o600)
        } catch {
            throw PowerLimitError("cannot write the power journal \(path): \(error)")
        }
    }

    /// The entries left, [] when there is no journal; an error when it is there and cannot be read.
    public func read() throws(PowerLimitError) -> [Entry] {
        guard SafeFile.kind(of: path) != nil else { return [] }
        do {
            let bytes = try SafeFile.readTrusted(path, limit: 1 << 20)
            return try JSONDecoder().decode(File.self, from: Data(bytes)).entries
        } catch {
            throw PowerLimitError("cannot read the power journal \(path): \(error)")
        }
    }
}
