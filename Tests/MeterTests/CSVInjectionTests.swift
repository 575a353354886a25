import Reports
import Testing

/// Formula injection in exports (hostile input, round 3): labels and commands that a spreadsheet would evaluate
/// are written with a leading `'` (OWASP's CSV-injection rule) and quoted as RFC 4180 says; numbers, negative ones
/// included, stay numbers.
struct CSVInjectionTests {
    @Test(arguments: [
        ("=HYPERLINK(\"http://evil\",\"x\")", "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("-2+3", "'-2+3"),
        ("\t=1", "'\t=1"),
        ("=1,2", "\"'=1,2\""),
        ("-0.5", "-0.5"),
        ("1e-3", "1e-3"),
        ("plain", "plain"),
        ("a,b", "\"a,b\""),
        ("", ""),
    ])
    func cellsThatWouldRunAsFormulasAreNeutralised(value: String, expected: String) {
        #expect(CodeCarbonCSV.field(value) == expected)
    }
}
