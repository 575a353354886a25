/// A deployed model's unit of work (tokens, requests) as its server counts them: one Prometheus counter, selected by
/// name and label matchers (`http_requests_total{code="200"}`), its matching series summed; and the units counted
/// across scrapes with resets (a restarted server's counter starting again from zero) handled as Prometheus's
/// `increase()` does. Pure: table-tested; the scrape itself is the service's.
public struct UnitsSelector: Sendable, Equatable, CustomStringConvertible {
    public let metric: String
    public let matchers: [String: String]

    public struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// `name` or `name{label="value",…}`: a Prometheus metric name and equality matchers.
    public init(_ text: String) throws(Malformed) {
        let open = text.firstIndex(of: "{")
        let name = String(open.map { text[..<$0] } ?? text[...])
        guard Self.isMetricName(name) else {
            throw Malformed(description: "\"\(text)\" is not a metric name (letters, digits, _ and :)")
        }
        var matchers: [String: String] = [:]
        if let open {
            guard text.hasSuffix("}") else { throw Malformed(description: "\"\(text)\": a { without its }") }
            let body = text[text.index(after: open)..<text.index(before: text.endIndex)]
            for pair in Self.splitPairs(body) where !pair.isEmpty {
                guard let equals = pair.firstIndex(of: "=") else {
                    throw Malformed(description: "\"\(text)\": \(pair) is not label=\"value\"")
                }
                let label = String(pair[..<equals]).trimmingSpaces()
                let quoted = String(pair[pair.index(after: equals)...]).trimmingSpaces()
                guard Self.isLabelName(label), quoted.count >= 2, quoted.hasPrefix("\""), quoted.hasSuffix("\"")
                else { throw Malformed(description: "\"\(text)\": \(pair) is not label=\"value\"") }
                matchers[label] = String(quoted.dropFirst().dropLast())
            }
        }
        self.metric = name
        self.matchers = matchers
    }

    public var description: String {
        matchers.isEmpty
            ? metric
            : metric + "{" + matchers.keys.sorted().map { "\($0)=\"\(matchers[$0] ?? "")\"" }.joined(separator: ",")
                + "}"
    }

    /// The sum of the matching series' values in Prometheus text `exposition`, nil when none matches. A value that
    /// is not a finite, non-negative number makes the whole scrape unusable (`.failure`): a garbled counter must
    /// not count.
    public func value(in exposition: String) -> Result<Double?, Malformed> {
        var total: Double?
        for line in exposition.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            guard !line.hasPrefix("#"), line.hasPrefix(metric) else { continue }
            let rest = line.dropFirst(metric.count)
            var labels: [String: String] = [:]
            var valuePart: Substring
            if rest.hasPrefix("{") {
                guard let close = rest.lastIndex(of: "}") else { continue }
                labels = Self.parseLabels(rest[rest.index(after: rest.startIndex)..<close])
                valuePart = rest[rest.index(after: close)...]
            } else if rest.hasPrefix(" ") || rest.hasPrefix("\t") {
                valuePart = rest
            } else if rest.isEmpty {
                return .failure(Malformed(description: "\(metric): \"\(line.prefix(120))\" has no value"))
            } else {
                continue  // another metric whose name starts with this one
            }
            guard matchers.allSatisfy({ labels[$0.key] == $0.value }) else { continue }
            let fields = valuePart.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = fields.first, let value = Double(first), value.isFinite, value >= 0 else {
                return .failure(Malformed(description: "\(metric): \"\(line.prefix(120))\" has no usable value"))
            }
            total = (total ?? 0) + value
        }
        return .success(total)
    }

    static func isMetricName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.utf8.count <= 200 else { return false }
        let head: (Unicode.Scalar) -> Bool = { $0.isASCIILetter || $0 == "_" || $0 == ":" }
        return head(first) && text.unicodeScalars.allSatisfy { head($0) || ("0"..."9").contains($0) }
    }

    static func isLabelName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.utf8.count <= 100 else { return false }
        return (first.isASCIILetter || first == "_")
            && text.unicodeScalars.allSatisfy { $0.isASCIILetter || $0 == "_" || ("0"..."9").contains($0) }
    }

    /// `a="x",b="y, z"` split at the commas outside quotes.
    static func splitPairs(_ body: Substring) -> [Substring] {
        var pairs: [Substring] = []
        var start = body.startIndex
        var quoted = false
        var escaped = false
        for index in body.indices {
            let character = body[index]
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == ",", !quoted {
                pairs.append(body[start..<index])
                start = body.index(after: index)
            }
        }
        pairs.append(body[start...])
        return pairs
    }

    static func parseLabels(_ body: Substring) -> [String: String] {
        var labels: [String: String] = [:]
        for pair in splitPairs(body) {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            let value = String(pair[pair.index(after: equals)...]).trimmingSpaces()
            guard value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") else { continue }
            labels[String(pair[..<equals]).trimmingSpaces()] = String(value.dropFirst().dropLast())
        }
        return labels
    }
}

/// Units counted across scrapes: the increase of a counter, a reset (the value going down: the server restarted)
/// counted as a new start from zero, as Prometheus's `increase()` does. The first scrape sets the base.
public struct UnitsCounter: Sendable, Equatable {
    public private(set) var total: Double = 0
    public private(set) var resets = 0
    private var last: Double?

    public init() {}

    public mutating func add(scraped value: Double) {
        defer { last = value }
        guard let last else { return }
        if value >= last {
            total += value - last
        } else {
            resets += 1
            total += value
        }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
