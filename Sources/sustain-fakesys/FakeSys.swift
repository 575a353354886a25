import ArgumentParser
import FoundationEssentials
import Glibc
import LinuxSupport

/// Test fixture: inside a private mount namespace, builds a fake `/sys/class` tree for a scenario, drives its
/// counters at known power, runs a command against it and writes the injected ground truth.
///
///     unshare -m --propagation private sustain-fakesys --scenario two-socket --truth t.json -- CMD...
@main
struct FakeSys: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sustain-fakesys",
        abstract: "Run a command against a simulated /sys/class tree (tests only; needs a private mount namespace)."
    )

    @Option(help: "Scenario: \(Scenario.all.joined(separator: ", ")).")
    var scenario: String

    @Option(help: "Write the injected ground truth (JSON) here.")
    var truth: String?

    @Option(
        help: """
            The load file: a decimal factor on every channel's power, read each tick (default: a new file, \
            exported to the command as SUSTAIN_FAKESYS_LOAD, starting at 1).
            """)
    var loadFile: String?

    @Flag(help: "Power also follows the machine's CPU use: 30 % of it when idle, 100 % when every CPU is busy.")
    var powerFollowsCPU = false

    @Option(help: "How often the counters move, in microseconds (real RAPL: about 1000).")
    var periodMicroseconds: Int = 1000

    @Argument(parsing: .postTerminator)
    var command: [String] = []

    struct Truth: Codable {
        struct Channel: Codable {
            var id: String
            var name: String
            var watts: Double
        }
        var scenario: String
        var zones: [Channel]
        var chips: [Channel]
        /// Energy injected into each zone over the whole run, in joules (power × load, integrated).
        var injectedJoules: [String: Double]
        var updates: Int
        var maxGapSeconds: Double
        /// Every time the counters stood still for two periods or more (the first 10,000).
        var stalls: [Simulator.Stall]
        var exitCode: Int32
    }

    func run() throws {
        ChildProcess.prepareSignals()
        guard let scenario = Scenario.named(scenario) else {
            throw ValidationError("Unknown scenario \(self.scenario); known: \(Scenario.all.joined(separator: ", ")).")
        }
        guard Self.inPrivateMountNamespace() else {
            throw ValidationError(
                "Refusing to mount over /sys/class outside a private mount namespace. "
                    + "Run: unshare -m --propagation private sustain-fakesys ...")
        }
        try FakeTree.mountTmpfs()
        let tree = try FakeTree(scenario)
        let load = try loadFile ?? Self.makeLoadFile()
        defer {
            if loadFile == nil {
                unlink(load)
                rmdir(String(load.dropLast("/load".count)))
            }
        }
        setenv("SUSTAIN_FAKESYS_LOAD", load, 1)
        let simulator = try Simulator(
            scenario: scenario, tree: tree, loadFile: load, followsCPU: powerFollowsCPU,
            period: .microseconds(max(100, min(periodMicroseconds, 100_000))))
        try simulator.run()
        var exitCode: Int32 = 0
        if !command.isEmpty {
            let child = try ChildProcess(executable: ChildProcess.resolve(command[0]), arguments: command)
            exitCode = child.wait().shellCode
        }
        let statistics = simulator.stop()
        if let truth {
            let record = Truth(
                scenario: scenario.name,
                zones: scenario.zones.map { .init(id: $0.id, name: $0.name, watts: $0.watts) },
                chips: scenario.chips.flatMap { chip in
                    (chip.power + chip.energy).map { .init(id: chip.name, name: $0.file, watts: $0.watts) }
                },
                injectedJoules: simulator.injectedJoules(), updates: statistics.updates,
                maxGapSeconds: statistics.maxGap.seconds, stalls: statistics.stalls, exitCode: exitCode)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(record)
            guard let file = fopen(truth, "w") else { throw ValidationError("Cannot write \(truth).") }
            _ = data.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
            fclose(file)
        }
        throw ExitCode(exitCode)
    }

    /// A new load file holding `1`, writable by the command whoever it runs as. It lies in a directory of its own
    /// (0755), not in sticky /tmp, where `fs.protected_regular` would refuse another user's `open(O_CREAT)`.
    static func makeLoadFile() throws -> String {
        var template = Array("/tmp/sustain-fakesys.XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else {
            throw ValidationError("Cannot create a directory in /tmp for the load file: errno \(errno).")
        }
        let directory = String(cString: template)
        chmod(directory, 0o755)
        let path = directory + "/load"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw ValidationError("Cannot create \(path): errno \(errno).") }
        defer { close(fd) }
        _ = write(fd, "1\n", 2)
        fchmod(fd, 0o666)
        return path
    }

    /// True when this process's mount namespace differs from its parent's (`unshare -m` made it).
    static func inPrivateMountNamespace() -> Bool {
        func target(_ path: String) -> String? {
            var buffer = [CChar](repeating: 0, count: 256)
            let count = readlink(path, &buffer, buffer.count - 1)
            return count > 0 ? String(cString: buffer) : nil
        }
        guard let own = target("/proc/self/ns/mnt"), let initial = target("/proc/\(getppid())/ns/mnt") else {
            return false
        }
        return own != initial
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
