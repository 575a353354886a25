import TOMLKit
import Testing

@testable import SustainConfiguration

/// sustain's TOML reader against TOMLKit (the reference): same values on every file in the documented subset,
/// and a clear error (never a different value) on what lies outside it.
struct ConfigTOMLTests {
    static func shipped() throws -> String {
        try Configuration.read(
            #filePath.replacingOccurrences(
                of: "Tests/SustainConfigurationTests/ConfigTOMLTests.swift", with: "config/sustain.toml"))
    }

    static let documents: [String] = [
        "",
        "# only a comment\n",
        "[impact]\nregion = \"FR\"  # trailing comment\npue = 1.2\nprice = 0.25\ncurrency = 'EUR'\n",
        "[impact]\nintensity = 56\nintensity_basis = \"direct\"\n[estimate]\ncpu_tdp = 85.5\n",
        "[daemon]\nsocket = \"/run/x # not a comment\"\nsocket_mode = \"0660\"\ninterval = 1e-1\n",
        "[[candidate]]\nname = \"a\"\nparams = 1.3e9\ntokens = 2_600_000\n\n[[candidate]]\nname = \"b\\\"q\\\"\"\nparams = -7\n",
        "flag = true\nother = false\nnegative = -0.5\n",
        "[daemon]\nsources = [\"powercap\", 'nvml', ]  # a trailing comma\nmixed = [1, 2.5, -3]\nnone = []\n",
        "quoted = [\"a,b\", \"c]d\", 'e\"f', \"g\\\"h\"]\n",
    ]

    static func convert(_ value: TOMLValueConvertible) -> ConfigValue? {
        let value = value.tomlValue
        if let string = value.string { return .string(string) }
        if let bool = value.bool { return .boolean(bool) }
        if let int = value.int { return .integer(int) }
        if let double = value.double { return .float(double) }
        if let table = value.table { return .table(convert(table)) }
        if let array = value.array { return .array(array.compactMap { convert($0) }) }
        return nil
    }

    static func convert(_ table: TOMLTable) -> ConfigTable {
        var result = ConfigTable()
        for (key, value) in table { result[key] = convert(value) }
        return result
    }

    static func sameValues(_ a: ConfigTable, _ b: ConfigTable) -> Bool {
        Set(a.keys) == Set(b.keys) && a.keys.allSatisfy { key in same(a[key], b[key]) }
    }

    static func same(_ a: ConfigValue?, _ b: ConfigValue?) -> Bool {
        switch (a, b) {
        case (.table(let x)?, .table(let y)?): sameValues(x, y)
        case (.array(let x)?, .array(let y)?): x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        default: a == b
        }
    }

    @Test(arguments: documents)
    func agreesWithTOMLKit(document: String) throws {
        let ours = try ConfigTable(toml: document)
        let reference = Self.convert(try TOMLTable(string: document))
        #expect(Self.sameValues(ours, reference), "\(document)")
    }

    @Test func agreesOnTheShippedConfiguration() throws {
        let text = try Self.shipped()
        #expect(Self.sameValues(try ConfigTable(toml: text), Self.convert(try TOMLTable(string: text))))
    }

    @Test(arguments: [
        "key = [[1, 2]]\n", "key = [1, 2\n", "key = [\"a]\n", "key = [1,,2]\n", "key = { a = 1 }\n",
        "key = 1979-05-27\n", "a.b = 1\n", "key = \"\"\"multi\"\"\"\n",
        "[impact\n", "key = \"unterminated\n", "key = 0x1F\n", "key = inf\n", "key\n", "[a]\n[a]\n", "k = 1\nk = 2\n",
    ])
    func outsideTheSubsetIsAnErrorWithItsLine(document: String) {
        #expect(throws: ConfigTOMLError.self) { try ConfigTable(toml: document) }
    }
}
