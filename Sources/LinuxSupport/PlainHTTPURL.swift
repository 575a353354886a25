/// A plain `http://host[:port][/path]` URL, the only kind sustain's bounded HTTP client speaks (no TLS): a
/// Prometheus server for `report cluster`, a watched model server's metrics endpoint. IPv6 literals in brackets;
/// port 80 by default.
public struct PlainHTTPURL: Sendable, Equatable, CustomStringConvertible {
    public enum Malformed: Error, Sendable, Equatable {
        case notPlainHTTP
        case badPort
        case noHost
    }

    public let host: String
    public let port: UInt16
    /// The path as given (empty when none).
    public let path: String

    public init(_ text: String) throws(Malformed) {
        guard text.hasPrefix("http://") else { throw .notPlainHTTP }
        let rest = text.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        path = String(rest.dropFirst(authority.count))
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { throw .badPort }
            guard let port = after.isEmpty ? 80 : UInt16(after.dropFirst()) else { throw .badPort }
            self.port = port
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let port = UInt16(authority[authority.index(after: colon)...]) else { throw .badPort }
            self.port = port
        } else {
            host = String(authority)
            port = 80
        }
        guard port > 0 else { throw .badPort }
        guard !host.isEmpty else { throw .noHost }
    }

    /// The request target: the path, `/` when there is none.
    public var target: String { path.isEmpty ? "/" : path }

    public var description: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(path)" }
}
