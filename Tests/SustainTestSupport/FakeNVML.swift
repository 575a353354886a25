import Foundation

/// A fake `libnvidia-ml.so.1` (Tests/Fixtures/fake-nvml.c, compiled here with `cc`) that simulates GPUs at known
/// power and honours power limits; the programs load it with dlopen through `SUSTAIN_NVML_LIBRARY`.
public enum FakeNVML {
    public static let library: String? = {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/fake-nvml.c").path
        guard let directory = try? Harness.temporaryDirectory() else { return nil }
        // Readable by the unprivileged users the tests run as.
        chmod(directory.path, 0o755)
        let output = directory.appendingPathComponent("libnvidia-ml.so.1").path
        let outcome = try? Harness.run(["/usr/bin/env", "cc", "-shared", "-fPIC", "-O2", "-o", output, source])
        guard outcome?.status == 0 else { return nil }
        chmod(output, 0o755)
        return output
    }()

    public static let skipped = "SKIPPED: no C compiler (cc) to build the fake libnvidia-ml"
}
