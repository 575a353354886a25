/// A reader for the subset of TOML that sustain's files use: `[table]` and `[[array of tables]]` headers, bare
/// keys, basic ("…", with `\" \\ \n \t` escapes) and literal ('…') strings, integers, floats (`1.3e9`),
/// booleans, one-line arrays of those (`["a", "b"]`), and `#` comments. Anything else is rejected with its line, never misread.
///
/// Why not TOMLKit: it imports the whole of Foundation, which links ICU into `sustain-measure` and costs the
/// wrapper about 15 ms of start-up and 7 MB of memory, beyond its budget. A test checks that this reader and
/// TOMLKit agree on every file in the documented subset.
struct ConfigTable: Sendable, Equatable {
    private(set) var entries: [(key: String, value: ConfigValue)] = []

    var keys: [String] { entries.map(\.key) }

    subscript(key: String) -> ConfigValue? {
        get { entries.first { $0.key == key }?.value }
        set {
            if let index = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[index].value = newValue } else { entries.remove(at: index) }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }

    static func == (lhs: ConfigTable, rhs: ConfigTable) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

indirect enum ConfigValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case table(ConfigTable)
    case array([ConfigValue])

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var int: Int? { if case .integer(let value) = self { value } else { nil } }
    var double: Double? { if case .float(let value) = self { value } else { nil } }
    var table: ConfigTable? { if case .table(let value) = self { value } else { nil } }
    var array: [ConfigValue]? { if case .array(let value) = self { value } else { nil } }
}

/// Where and why a file is not in the subset.
struct ConfigTOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    var line: Int
    var reason: String
    var description: String { "line \(line): \(reason)" }
}

extension ConfigTable {
    init(toml text: String) throws(ConfigTOMLError) {
        self.init()
        var path: [String] = []  // the current table: [] is the root; [name] or [name, "#index"] for [[name]]
        // LF or CRLF line ends ("\r\n" is one Character in Swift), and a leading byte-order mark, as TOML allows.
        let body = text.hasPrefix("\u{FEFF}") ? text.dropFirst() : Substring(text)
        let lines = body.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (offset, rawLine) in lines.enumerated() {
            let line = offset + 1
            let content = Self.stripComment(Substring(rawLine)).trimmed()
            if content.isEmpty { continue }
            if content.hasPrefix("[[") {
                guard content.hasSuffix("]]"), let name = Self.bareKey(content.dropFirst(2).dropLast(2).trimmed())
                else {
                    throw ConfigTOMLError(line: line, reason: "malformed [[table]] header")
                }
                var array = self[name]?.array ?? []
                if self[name] != nil && self[name]?.array == nil {
                    throw ConfigTOMLError(line: line, reason: "\(name) is already defined")
                }
                array.append(.table(ConfigTable()))
                self[name] = .array(array)
                path = [name, "#\(array.count - 1)"]
            } else if content.hasPrefix("[") {
                guard content.hasSuffix("]"), let name = Self.bareKey(content.dropFirst().dropLast().trimmed()) else {
                    throw ConfigTOMLError(line: line, reason: "malformed [table] header")
                }
                guard self[name] == nil else {
                    throw ConfigTOMLError(line: line, reason: "table \(name) defined twice")
                }
                self[name] = .table(ConfigTable())
                path = [name]
            } else {
                guard let equals = content.firstIndex(of: "="),
                    let key = Self.bareKey(content[..<equals].trimmed())
                else { throw ConfigTOMLError(line: line, reason: "expected key = value") }
                let value = try Self.value(content[content.index(after: equals)...].trimmed(), line: line)
                try insert(key, value, at: path, line: line)
            }
        }
    }

    private mutating func insert(_ key: String, _ value: ConfigValue, at path: [String], line: Int)
        throws(ConfigTOMLError)
    {
        guard let first = path.first else {
            guard self[key] == nil else { throw ConfigTOMLError(line: line, reason: "key \(key) defined twice") }
            self[key] = value
            return
        }
        if path.count == 2, case .array(var array)? = self[first], var table = array.last?.table {
            guard table[key] == nil else { throw ConfigTOMLError(line: line, reason: "key \(key) defined twice") }
            table[key] = value
            array[array.count - 1] = .table(table)
            self[first] = .array(array)
        } else if case .table(var table)? = self[first] {
            guard table[key] == nil else { throw ConfigTOMLError(line: line, reason: "key \(key) defined twice") }
            table[key] = value
            self[first] = .table(table)
        }
    }

    private static func stripComment(_ line: Substring) -> Substring {
        var quote: Character?
        var escaped = false
        for index in line.indices {
            let character = line[index]
            if let open = quote {
                if open == "\"" && character == "\\" && !escaped {
                    escaped = true
                    continue
                }
                if character == open && !escaped { quote = nil }
                escaped = false
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "#" {
                return line[..<index]
            }
        }
        return line
    }

    private static func bareKey(_ text: Substring) -> String? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
        else { return nil }
        return String(text)
    }

    private static func value(_ text: Substring, line: Int) throws(ConfigTOMLError) -> ConfigValue {
        if text.hasPrefix("[") {
            guard text.hasSuffix("]") else { throw ConfigTOMLError(line: line, reason: "unterminated array") }
            var elements: [ConfigValue] = []
            var current = Substring()
            var quote: Character?
            var escaped = false
            for character in text.dropFirst().dropLast() {
                if let open = quote {
                    if escaped {
                        escaped = false
                    } else if character == "\\" && open == "\"" {
                        escaped = true
                    } else if character == open {
                        quote = nil
                    }
                    current.append(character)
                } else if character == "\"" || character == "'" {
                    quote = character
                    current.append(character)
                } else if character == "[" || character == "{" {
                    throw ConfigTOMLError(line: line, reason: "nested arrays and inline tables are not supported")
                } else if character == "," {
                    let element = current.trimmed()
                    guard !element.isEmpty else { throw ConfigTOMLError(line: line, reason: "empty array element") }
                    elements.append(try value(element, line: line))
                    current = Substring()
                } else {
                    current.append(character)
                }
            }
            guard quote == nil else { throw ConfigTOMLError(line: line, reason: "unterminated string in array") }
            let last = current.trimmed()
            if !last.isEmpty { elements.append(try value(last, line: line)) }  // a trailing comma is allowed
            return .array(elements)
        }
        if text.hasPrefix("\"") {
            guard text.count >= 2, text.hasSuffix("\"") else {
                throw ConfigTOMLError(line: line, reason: "unterminated string")
            }
            var result = ""
            var escaped = false
            for character in text.dropFirst().dropLast() {
                if escaped {
                    switch character {
                    case "\"": result.append("\"")
                    case "\\": result.append("\\")
                    case "n": result.append("\n")
                    case "t": result.append("\t")
                    default: throw ConfigTOMLError(line: line, reason: "unsupported escape \\\(character)")
                    }
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    throw ConfigTOMLError(line: line, reason: "unexpected quote in string")
                } else {
                    result.append(character)
                }
            }
            guard !escaped else { throw ConfigTOMLError(line: line, reason: "unterminated escape") }
            return .string(result)
        }
        if text.hasPrefix("'") {
            guard text.count >= 2, text.hasSuffix("'"), !text.dropFirst().dropLast().contains("'") else {
                throw ConfigTOMLError(line: line, reason: "unterminated literal string")
            }
            return .string(String(text.dropFirst().dropLast()))
        }
        if text == "true" { return .boolean(true) }
        if text == "false" { return .boolean(false) }
        let digits = text.replacingOccurrences(of: "_", with: "")
        if let integer = Int(digits), !digits.hasPrefix("+0"), digits == "0" || !digits.trimmingSign().hasPrefix("0") {
            return .integer(integer)
        }
        if digits.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let float = Double(digits), float.isFinite,
            !digits.hasPrefix("."), !digits.hasSuffix(".")
        {
            return .float(float)
        }
        throw ConfigTOMLError(
            line: line, reason: "unsupported value \(text) (strings, numbers, true/false and arrays of them only)")
    }
}

extension Substring {
    fileprivate func trimmed() -> Substring {
        var slice = self
        while let first = slice.first, first == " " || first == "\t" || first == "\r" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" || last == "\r" { slice = slice.dropLast() }
        return slice
    }

    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        String(self).split(separator: Character(target), omittingEmptySubsequences: false).joined(
            separator: replacement)
    }
}

extension String {
    fileprivate func trimmingSign() -> Substring {
        hasPrefix("-") || hasPrefix("+") ? dropFirst() : Substring(self)
    }
}
