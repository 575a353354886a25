import Foundation
import LinuxSupport
import Testing

/// A systemd unit's cgroup found by its name in a hierarchy laid out as systemd lays it out (a directory tree
/// standing for the cgroup v2 mount): services under system.slice first, then anywhere, breadth first, bounded.
struct CgroupUnitTests {
    @Test func aUnitIsFoundWhereSystemdPutsIt() throws {
        let mount = "/tmp/sustain-cgroup-test-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: mount) }
        for path in [
            "system.slice/vllm.service", "system.slice/ollama.service/payload",
            "app.slice/inference.slice/tgi.service",
            "user.slice/user-1000.slice/user@1000.service/app.slice/llm.service",
            "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice",
        ] {
            try FileManager.default.createDirectory(atPath: "\(mount)/\(path)", withIntermediateDirectories: true)
        }
        #expect(CgroupV2.path(ofUnit: "vllm.service", mount: mount) == "/system.slice/vllm.service")
        #expect(CgroupV2.path(ofUnit: "tgi.service", mount: mount) == "/app.slice/inference.slice/tgi.service")
        #expect(
            CgroupV2.path(ofUnit: "llm.service", mount: mount)
                == "/user.slice/user-1000.slice/user@1000.service/app.slice/llm.service")
        #expect(
            CgroupV2.path(ofUnit: "kubepods-burstable-pod1.slice", mount: mount)
                == "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice")
        // Not started, not a name, or deeper than the bound: none, never a guess.
        #expect(CgroupV2.path(ofUnit: "stopped.service", mount: mount) == nil)
        for bad in ["", ".", "..", "system.slice/vllm.service"] {
            #expect(CgroupV2.path(ofUnit: bad, mount: mount) == nil, "\(bad)")
        }
        #expect(CgroupV2.path(ofUnit: "llm.service", mount: mount, maximumDepth: 3) == nil)
    }
}
