import Foundation
import SustainConfiguration
import Testing

/// The Kubernetes manifest (deploy/kubernetes/sustain.yaml): its embedded sustain.toml is a valid configuration,
/// and the DaemonSet mounts every host path that configuration names. (The manifest itself is untested on a live
/// cluster, as its README says.)
struct DeployManifestTests {
    static let manifest = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy/kubernetes/sustain.yaml")

    /// The block scalar under `sustain.toml: |`, unindented.
    static func embeddedConfiguration(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasSuffix("sustain.toml: |") }) else { return "" }
        var body: [Substring] = []
        for line in lines[(start + 1)...] {
            if !line.isEmpty && !line.hasPrefix("    ") { break }
            body.append(line.dropFirst(min(4, line.count)))
        }
        return body.joined(separator: "\n")
    }

    @Test func theEmbeddedConfigurationParsesAndItsPathsAreMounted() throws {
        let text = try String(contentsOf: Self.manifest, encoding: .utf8)
        let toml = Self.embeddedConfiguration(text)
        #expect(toml.contains("[daemon]"), "\(toml)")
        let configuration = try Configuration(toml: toml, path: "sustain.yaml")
        let daemon = configuration.daemon
        let mounts = text.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("mountPath: ") ? String(trimmed.dropFirst("mountPath: ".count)) : nil
        }
        for path in [
            daemon.cgroupRoot ?? "", (daemon.socket as NSString).deletingLastPathComponent,
            (daemon.database as NSString).deletingLastPathComponent, "/sys/class/powercap", "/etc/sustain",
        ] {
            #expect(mounts.contains(path), "\(path) is not mounted: \(mounts)")
        }
        #expect(daemon.metricsAddress?.hasSuffix(":9464") == true && text.contains("containerPort: 9464"))
        for line in ["hostPID: true", "readOnlyRootFilesystem: true", "add: [\"DAC_READ_SEARCH\"]"] {
            #expect(text.contains(line), "\(line)")
        }
    }
}
