import SustainCore
import Testing

struct SlurmHostListTests {
    @Test(arguments: [
        ("gpu[01-04,07]", ["gpu01", "gpu02", "gpu03", "gpu04", "gpu07"]),
        ("node7", ["node7"]),
        ("a,b[1-2],c", ["a", "b1", "b2", "c"]),
        ("r[1-2]n[1-2]", ["r1n1", "r1n2", "r2n1", "r2n2"]),
        ("n[8-10]", ["n8", "n9", "n10"]),
        ("n[098-101]", ["n098", "n099", "n100", "n101"]),
    ])
    func expandsAsSlurmDoes(list: String, hosts: [String]) throws {
        #expect(try SlurmHostList.expand(list) == hosts)
    }

    @Test(arguments: ["gpu[01-04", "gpu]01[", "gpu[4-1]", "gpu[a-b]", "gpu[1-99999999]", "x[[1]]"])
    func refusesWhatIsNotAHostList(list: String) {
        #expect(throws: SlurmHostList.Malformed.self) { try SlurmHostList.expand(list) }
    }
}
