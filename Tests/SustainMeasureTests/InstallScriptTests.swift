import Foundation
import SustainTestSupport
import Testing

/// `scripts/install.sh` into a staging root (DESTDIR, another prefix): every shipped program, unit, script, rule,
/// dashboard and document lands, paths in the units and SLURM scripts follow the prefix, nothing is enabled; then
/// `--uninstall` removes exactly that, keeping the configuration and a file the admin added.
struct InstallScriptTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func everythingShippedIsInstalledAndRemovedAgain() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let binaries = directory.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: binaries, withIntermediateDirectories: true)
        for product in ["sustain-measure", "sustain-measured", "sustain-intensity"] {
            try FileManager.default.copyItem(
                atPath: Harness.product(product), toPath: binaries.appendingPathComponent(product).path)
        }
        let root = directory.appendingPathComponent("root").path
        let script = Self.repository.appendingPathComponent("scripts/install.sh").path
        var environment = ProcessInfo.processInfo.environment
        environment["DESTDIR"] = root
        let installed = try Harness.run(
            ["/bin/bash", script, "--prefix", "/opt/sustain", "--binaries", binaries.path], environment: environment)
        #expect(installed.status == 0, "\(installed.stderr)")
        let expected = [
            "/opt/sustain/bin/sustain-measure", "/opt/sustain/bin/sustain-measured",
            "/opt/sustain/bin/sustain-intensity",
            "/opt/sustain/libexec/sustain/slurm-prolog", "/opt/sustain/libexec/sustain/slurm-epilog",
            "/etc/systemd/system/sustain-measured.service", "/etc/systemd/system/sustain-intensity-fetch.service",
            "/etc/systemd/system/sustain-intensity-fetch.timer", "/usr/lib/sysusers.d/sustain.conf",
            "/opt/sustain/share/sustain/systemd/metrics.conf", "/opt/sustain/share/sustain/systemd/watch.conf",
            "/opt/sustain/share/sustain/prometheus/sustain-rules.yml",
            "/opt/sustain/share/sustain/grafana/sustain-dashboard.json", "/opt/sustain/share/doc/sustain/README.md",
            "/etc/sustain/sustain.toml",
        ]
        for path in expected {
            #expect(FileManager.default.fileExists(atPath: root + path), "\(path) is not installed")
        }
        #expect(FileManager.default.isExecutableFile(atPath: root + "/opt/sustain/bin/sustain-intensity"))
        let unit = try String(contentsOfFile: root + "/etc/systemd/system/sustain-measured.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/opt/sustain/bin/sustain-measured") && !unit.contains("/usr/local/"))
        let prolog = try String(contentsOfFile: root + "/opt/sustain/libexec/sustain/slurm-prolog", encoding: .utf8)
        #expect(prolog.contains("/opt/sustain/bin/sustain-measure") && !prolog.contains("/usr/local/"))

        let mine = root + "/opt/sustain/share/doc/sustain/notes.txt"
        try "the admin's own".write(toFile: mine, atomically: true, encoding: .utf8)
        let removed = try Harness.run(
            ["/bin/bash", script, "--uninstall", "--prefix", "/opt/sustain"], environment: environment)
        #expect(removed.status == 0, "\(removed.stderr)")
        for path in expected where !path.hasPrefix("/etc/sustain/") {
            #expect(!FileManager.default.fileExists(atPath: root + path), "\(path) is left after --uninstall")
        }
        #expect(FileManager.default.fileExists(atPath: root + "/etc/sustain/sustain.toml"), "the configuration stays")
        #expect(FileManager.default.fileExists(atPath: mine), "a file the script did not install stays")
        #expect(!FileManager.default.fileExists(atPath: root + "/opt/sustain/libexec/sustain"))
    }
}
