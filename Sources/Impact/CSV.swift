/// A minimal RFC 4180 reader: comma-separated fields, double quotes around fields that hold commas, quotes or line
/// breaks, `""` for a quote inside them. Returns the rows with their 1-based line numbers.
enum CSV {
    static func parse(_ text: String) -> [(line: Int, fields: [String])] {
        // Bytes, not Characters: the bundled data is parsed at every start, and grapheme breaking is slow.
        var text = text
        return text.withUTF8 { bytes in
            let quote = UInt8(ascii: "\"")
            let comma = UInt8(ascii: ",")
            let newline = UInt8(ascii: "\n")
            let carriageReturn = UInt8(ascii: "\r")
            var rows: [(Int, [String])] = []
            var fields: [String] = []
            var field: [UInt8] = []
            var quoted = false
            var line = 1
            var rowLine = 1
            var index = 0
            func endField() {
                fields.append(String(decoding: field, as: UTF8.self))
                field.removeAll(keepingCapacity: true)
            }
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if quoted {
                    if byte == quote {
                        if index < bytes.count, bytes[index] == quote {
                            field.append(quote)
                            index += 1
                        } else {
                            quoted = false
                        }
                    } else {
                        if byte == newline { line += 1 }
                        field.append(byte)
                    }
                    continue
                }
                switch byte {
                case quote where field.isEmpty: quoted = true
                case comma: endField()
                case carriageReturn where index < bytes.count && bytes[index] == newline: continue
                case newline:
                    endField()
                    if !(fields.count == 1 && fields[0].isEmpty) { rows.append((rowLine, fields)) }
                    fields = []
                    line += 1
                    rowLine = line
                default: field.append(byte)
                }
            }
            if !field.isEmpty || !fields.isEmpty {
                endField()
                rows.append((rowLine, fields))
            }
            return rows
        }
    }

    /// Rows as dictionaries keyed by the header row, with their line numbers.
    static func records(_ text: String) -> [(line: Int, values: [String: String])] {
        let rows = parse(text)
        guard let header = rows.first?.fields else { return [] }
        return rows.dropFirst().map { row in
            var values: [String: String] = [:]
            for (index, name) in header.enumerated() where index < row.fields.count {
                values[name.trimmingSpaces()] = row.fields[index]
            }
            return (row.line, values)
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while slice.first?.isWhitespace == true { slice = slice.dropFirst() }
        while slice.last?.isWhitespace == true { slice = slice.dropLast() }
        return String(slice)
    }
}
