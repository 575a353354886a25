import SustainCore
import Testing

/// Real-shaped cgroup paths of each runtime and driver, cgroup v2 and v1 lines, and paths that are no container.
struct ContainerIdentityTests {
    static let id = "3f6c2b8e9a1d4c5b7e0f2a4c6e8b0d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b"
    static let uid = "6d6f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    static let escaped = "6d6f1a2b_3c4d_4e5f_8a9b_0c1d2e3f4a5b"

    struct Case: Sendable, CustomStringConvertible {
        let path: String
        let expected: ContainerIdentity?
        var description: String { path }
    }

    static let cases: [Case] = [
        // Kubernetes, systemd driver (cgroup v2), each QoS class and runtime.
        Case(
            path: "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(escaped).slice/"
                + "cri-containerd-\(id).scope",
            expected: ContainerIdentity(
                runtime: .containerd, containerID: id, podUID: uid, qosClass: .burstable, driver: .systemd)),
        Case(
            path: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(escaped).slice/crio-\(id).scope",
            expected: ContainerIdentity(
                runtime: .crio, containerID: id, podUID: uid, qosClass: .bestEffort, driver: .systemd)),
        Case(
            path: "/kubepods.slice/kubepods-pod\(escaped).slice/docker-\(id).scope",
            expected: ContainerIdentity(
                runtime: .docker, containerID: id, podUID: uid, qosClass: .guaranteed, driver: .systemd)),
        // The pod's own cgroup: the pod, no container.
        Case(
            path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(escaped).slice",
            expected: ContainerIdentity(podUID: uid, qosClass: .burstable, driver: .systemd)),
        // Kubernetes, cgroupfs driver (a cgroup v1 line and v2 paths).
        Case(
            path: "4:memory:/kubepods/burstable/pod\(uid)/\(id)",
            expected: ContainerIdentity(
                runtime: .containerd, containerID: id, podUID: uid, qosClass: .burstable, driver: .cgroupfs)),
        Case(
            path: "/kubepods/pod\(uid)/crio-\(id)",
            expected: ContainerIdentity(
                runtime: .crio, containerID: id, podUID: uid, qosClass: .guaranteed, driver: .cgroupfs)),
        Case(
            path: "0::/kubepods/besteffort/pod\(uid)",
            expected: ContainerIdentity(podUID: uid, qosClass: .bestEffort, driver: .cgroupfs)),
        // Docker alone: systemd and cgroupfs drivers.
        Case(
            path: "0::/system.slice/docker-\(id).scope",
            expected: ContainerIdentity(runtime: .docker, containerID: id, driver: .systemd)),
        Case(
            path: "12:cpu,cpuacct:/docker/\(id)",
            expected: ContainerIdentity(runtime: .docker, containerID: id, driver: .cgroupfs)),
        // Podman: rootful, rootless (with its inner `container` cgroup), cgroupfs; conmon is not the container.
        Case(
            path: "/machine.slice/libpod-\(id).scope",
            expected: ContainerIdentity(runtime: .podman, containerID: id, driver: .systemd)),
        Case(
            path: "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-\(id).scope/container",
            expected: ContainerIdentity(runtime: .podman, containerID: id, driver: .systemd)),
        Case(
            path: "/libpod_parent/libpod-\(id)",
            expected: ContainerIdentity(runtime: .podman, containerID: id, driver: .cgroupfs)),
        Case(path: "/machine.slice/libpod-conmon-\(id).scope", expected: nil),
        // No container: a service, a session, SLURM, the root, a short or non-hex id, garbage.
        Case(path: "0::/system.slice/vllm.service", expected: nil),
        Case(path: "0::/user.slice/user-1000.slice/session-3.scope", expected: nil),
        Case(path: "/system.slice/slurmstepd.scope/job_4711/step_0/user/task_0", expected: nil),
        Case(path: "0::/", expected: nil),
        Case(path: "/system.slice/docker-abc123.scope", expected: nil),
        Case(path: "/docker/\(id.uppercased())", expected: nil),
        Case(path: "/kubepods/burstable/podnot-a-uid/\(id)", expected: nil),
        Case(path: "", expected: nil),
        Case(path: "::::", expected: nil),
    ]

    @Test(arguments: cases) func eachRuntimeAndDriverIsRecognisedFromThePathAlone(_ test: Case) {
        #expect(ContainerIdentity.parse(test.path) == test.expected)
    }

    @Test func theLabelsSayOnlyWhatIsKnown() throws {
        let pod = try #require(ContainerIdentity.parse("/kubepods/besteffort/pod\(Self.uid)"))
        #expect(pod.labels == ["cgroup_driver": "cgroupfs", "pod_uid": Self.uid, "qos_class": "BestEffort"])
        let docker = try #require(ContainerIdentity.parse("/system.slice/docker-\(Self.id).scope"))
        #expect(docker.labels == ["cgroup_driver": "systemd", "container_runtime": "docker", "container_id": Self.id])
    }
}
