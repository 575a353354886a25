/// SLURM's compressed host lists, expanded as SLURM does (`scontrol show hostnames`): `gpu[01-04,07]` →
/// gpu01 gpu02 gpu03 gpu04 gpu07, zero padding kept; `a,b[1-2]` → a b1 b2; several brackets in one name multiply
/// (`r[1-2]n[1-2]` → r1n1 r1n2 r2n1 r2n2).
public enum SlurmHostList {
    public struct Malformed: Error, CustomStringConvertible, Equatable, Sendable {
        public var list: String
        public var reason: String
        public var description: String { "host list \"\(list)\": \(reason)" }
    }

    /// At most this many names, whatever the list says.
    public static let maximumHosts = 100_000

    public static func expand(_ list: String) throws(Malformed) -> [String] {
        var hosts: [String] = []
        for name in try split(list) {
            for host in try expandName(Substring(name), list: list) {
                hosts.append(host)
                guard hosts.count <= maximumHosts else {
                    throw Malformed(list: list, reason: "more than \(maximumHosts) hosts")
                }
            }
        }
        return hosts
    }

    /// The top-level names: commas outside brackets separate them.
    static func split(_ list: String) throws(Malformed) -> [String] {
        var names: [String] = []
        var current = ""
        var depth = 0
        for character in list {
            switch character {
            case "[": depth += 1
            case "]":
                depth -= 1
                guard depth >= 0 else { throw Malformed(list: list, reason: "a ] without its [") }
            case "," where depth == 0:
                if !current.isEmpty { names.append(current) }
                current = ""
                continue
            default: break
            }
            guard depth <= 1 else { throw Malformed(list: list, reason: "nested brackets") }
            current.append(character)
        }
        guard depth == 0 else { throw Malformed(list: list, reason: "a [ without its ]") }
        if !current.isEmpty { names.append(current) }
        return names
    }

    static func expandName(_ name: Substring, list: String) throws(Malformed) -> [String] {
        guard let open = name.firstIndex(of: "[") else { return [String(name)] }
        guard let close = name[open...].firstIndex(of: "]") else {
            throw Malformed(list: list, reason: "a [ without its ]")
        }
        let prefix = String(name[..<open])
        let rest = try expandName(name[name.index(after: close)...], list: list)
        var values: [String] = []
        for range in name[name.index(after: open)..<close].split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = range.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), bounds.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) }),
                let low = Int(bounds[0]), let high = Int(bounds[bounds.count - 1]), low <= high, low >= 0
            else { throw Malformed(list: list, reason: "\"\(range)\" is not a number or a range low-high") }
            guard high - low < maximumHosts else {
                throw Malformed(list: list, reason: "more than \(maximumHosts) hosts")
            }
            let width = bounds[0].count
            for value in low...high {
                let digits = String(value)
                values.append(String(repeating: "0", count: max(0, width - digits.count)) + digits)
            }
        }
        var names: [String] = []
        for value in values {
            for suffix in rest { names.append(prefix + value + suffix) }
            guard names.count <= maximumHosts else {
                throw Malformed(list: list, reason: "more than \(maximumHosts) hosts")
            }
        }
        return names
    }
}
