import Foundation

/// The result of running a process to completion.
public struct ProcessOutcome: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: String
}

/// Runs built products and other commands for end-to-end tests.
public enum Harness {
    /// The directory holding the built executables (next to the test bundle).
    public static let productsDirectory: URL = {
        if let override = ProcessInfo.processInfo.environment["SUSTAIN_BIN_DIR"] {
            return URL(fileURLWithPath: override)
        }
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // swift-testing may run from inside the .xctest bundle directory on some platforms.
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("sustain-measure").path),
            url.path != "/"
        {
            url.deleteLastPathComponent()
        }
        return url
    }()

    public static func product(_ name: String) -> String { productsDirectory.appendingPathComponent(name).path }

    public static var isRoot: Bool { geteuid() == 0 }

    /// True when this process may build a private mount namespace (root, and `unshare` works).
    public static let canUseMountNamespace: Bool = {
        guard isRoot else { return false }
        let outcome = try? run(["/usr/bin/unshare", "-m", "--propagation", "private", "true"])
        return outcome?.status == 0
    }()

    /// The message a skipped root-only test prints, loudly.
    public static let rootOnlyNotice =
        "SKIPPED: needs root and a private mount namespace (unshare -m) to build a fake /sys/class tree; CI runs it as root"

    /// Runs `arguments` to completion, with optional stdin data, and collects stdout and stderr.
    @discardableResult
    public static func run(
        _ arguments: [String], stdin: Data? = nil, environment: [String: String]? = nil,
        whileRunning: ((Process) -> Void)? = nil
    ) throws -> ProcessOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        if let environment { process.environment = environment }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try process.run()
        // Drain both pipes concurrently so a chatty child cannot block.
        let group = DispatchGroup()
        nonisolated(unsafe) var stdoutData = Data()
        nonisolated(unsafe) var stderrData = Data()
        group.enter()
        DispatchQueue.global().async {
            stdoutData = out.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            stderrData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        if let stdin {
            group.enter()
            DispatchQueue.global().async {
                input.fileHandleForWriting.write(stdin)
                try? input.fileHandleForWriting.close()
                group.leave()
            }
        }
        whileRunning?(process)
        process.waitUntilExit()
        group.wait()
        let status =
            process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return ProcessOutcome(status: status, stdout: stdoutData, stderr: String(decoding: stderrData, as: UTF8.self))
    }

    /// A fresh temporary directory, world-writable and sticky (like /tmp) so an unprivileged user can write reports
    /// into it and the daemon accepts it for its socket and state.
    public static func temporaryDirectory() throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("sustain-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        chmod(url.path, 0o1777)
        return url
    }
}
