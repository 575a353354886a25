import Impact

extension CandidateFile {
    /// Candidates from TOML: one `[[candidate]]` table per model, with the same keys as the CSV columns.
    ///
    /// ```toml
    /// [[candidate]]
    /// name = "small"
    /// params = 1.3e9
    /// tokens = 2.6e10
    /// hardware = "nvidia-a100-sxm"
    /// devices = 8
    /// ```
    public static func parse(toml text: String, file: String) throws(ImpactError) -> [Candidate] {
        let table: ConfigTable
        do {
            table = try ConfigTable(toml: text)
        } catch {
            throw .malformed(file: file, line: error.line, field: nil, reason: "not valid TOML: \(error.reason)")
        }
        for key in table.keys where key != "candidate" {
            throw .malformed(file: file, line: 1, field: key, reason: "unknown key (use [[candidate]] tables)")
        }
        guard let array = table["candidate"]?.array, !array.isEmpty else {
            throw .malformed(file: file, line: 1, field: "candidate", reason: "no [[candidate]] tables")
        }
        // Errors name the line of the candidate's [[candidate]] header.
        let headerLines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            .filter { $0.element.trimmingCharacters(in: " \t").hasPrefix("[[candidate]]") }.map { $0.offset + 1 }
        var records: [(line: Int, values: [String: String])] = []
        for (index, element) in array.enumerated() {
            let line = index < headerLines.count ? headerLines[index] : 1
            guard let entry = element.table else {
                throw .malformed(file: file, line: line, field: "candidate", reason: "must be a table")
            }
            var values: [String: String] = [:]
            for (key, value) in entry.entries {
                guard keys.contains(key) else {
                    throw .malformed(
                        file: file, line: line, field: key,
                        reason: "unknown key (known: \(keys.joined(separator: ", ")))")
                }
                if let string = value.string {
                    values[key] = string
                } else if let int = value.int {
                    values[key] = String(int)
                } else if let double = value.double {
                    values[key] = "\(double)"
                } else {
                    throw .malformed(file: file, line: line, field: key, reason: "must be a number or a string")
                }
            }
            records.append((line, values))
        }
        return try candidates(from: records, file: file)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        drop { set.contains($0) }
    }
}
