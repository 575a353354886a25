/// What a cgroup path says about the container or Kubernetes pod a process runs in: the runtime (containerd,
/// CRI-O, Docker, Podman), the container's id, the pod's UID and QoS class, and the cgroup driver (systemd's
/// `.slice`/`.scope` units or cgroupfs directories), from the path alone: no runtime socket, no API server.
/// Takes a path as in `/proc/PID/cgroup` (cgroup v2's `0::/…` line or a v1 controller's `4:memory:/…`, or the
/// path itself). Pure: table-tested on real-shaped paths of each runtime and driver.
public struct ContainerIdentity: Sendable, Equatable {
    public enum Runtime: String, Sendable {
        case containerd
        case crio = "cri-o"
        case docker
        case podman
    }

    public enum Driver: String, Sendable {
        case systemd
        case cgroupfs
    }

    public enum QoSClass: String, Sendable {
        case guaranteed = "Guaranteed"
        case burstable = "Burstable"
        case bestEffort = "BestEffort"
    }

    /// Nil for a pod's own cgroup (no container in the path) or a runtime not recognised.
    public var runtime: Runtime?
    /// The full id (64 hexadecimal digits, as the runtime prints it with `--no-trunc`).
    public var containerID: String?
    /// The pod's UID with its dashes (systemd's slice names carry underscores).
    public var podUID: String?
    public var qosClass: QoSClass?
    public var driver: Driver

    public init(
        runtime: Runtime? = nil, containerID: String? = nil, podUID: String? = nil, qosClass: QoSClass? = nil,
        driver: Driver
    ) {
        self.runtime = runtime
        self.containerID = containerID
        self.podUID = podUID
        self.qosClass = qosClass
        self.driver = driver
    }

    /// The labels a report and a metric carry: `container_runtime`, `container_id`, `pod_uid`, `qos_class`,
    /// `cgroup_driver`, each only when known.
    public var labels: [String: String] {
        var labels = ["cgroup_driver": driver.rawValue]
        if let runtime { labels["container_runtime"] = runtime.rawValue }
        if let containerID { labels["container_id"] = containerID }
        if let podUID { labels["pod_uid"] = podUID }
        if let qosClass { labels["qos_class"] = qosClass.rawValue }
        return labels
    }

    /// The container or pod `path` is in; nil when it is in neither (a user session, a system service, the root).
    public static func parse(_ path: String) -> ContainerIdentity? {
        let components = Self.path(of: path).split(separator: "/").map(String.init)
        guard !components.isEmpty else { return nil }
        if let pod = kubernetes(components) { return pod }
        // Outside Kubernetes: the innermost component that names a container.
        for component in components.reversed() {
            if let found = container(in: component) { return found }
        }
        // cgroupfs drivers: `/docker/ID`, `/libpod_parent/libpod-ID`.
        for (parent, child) in zip(components, components.dropFirst()) {
            if parent == "docker", isID(child) {
                return ContainerIdentity(runtime: .docker, containerID: child, driver: .cgroupfs)
            }
            if parent == "libpod_parent", child.hasPrefix("libpod-"), isID(String(child.dropFirst(7))) {
                return ContainerIdentity(runtime: .podman, containerID: String(child.dropFirst(7)), driver: .cgroupfs)
            }
        }
        return nil
    }

    /// The path part of a `/proc/PID/cgroup` line (`0::/a/b`, `4:memory:/a/b`), or `line` when it is a path.
    static func path(of line: String) -> Substring {
        guard !line.hasPrefix("/") else { return Substring(line) }
        let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        return parts.count == 3 ? parts[2] : Substring(line)
    }

    /// A Kubernetes pod's cgroup, either driver: `kubepods[-QOS].slice/kubepods-QOS-podUID.slice/RUNTIME-ID.scope`
    /// or `kubepods[/QOS]/podUID[/ID]`.
    static func kubernetes(_ components: [String]) -> ContainerIdentity? {
        guard let root = components.firstIndex(where: { $0 == "kubepods" || $0 == "kubepods.slice" }) else {
            return nil
        }
        let systemd = components[root].hasSuffix(".slice")
        var qos: QoSClass = .guaranteed
        var podUID: String?
        var podIndex: Int?
        for index in components.indices.dropFirst(root + 1) {
            let component = components[index]
            let name = systemd ? String(component.dropLast(component.hasSuffix(".slice") ? 6 : 0)) : component
            if name.hasSuffix("burstable") { qos = .burstable }
            if name.hasSuffix("besteffort") { qos = .bestEffort }
            if podUID == nil, let tail = name.afterLast("pod") {
                let uid = tail.replacingUnderscores()
                if isUID(uid) {
                    podUID = uid
                    podIndex = index
                }
            }
        }
        guard let podUID, let podIndex else { return nil }
        var identity = ContainerIdentity(podUID: podUID, qosClass: qos, driver: systemd ? .systemd : .cgroupfs)
        if podIndex + 1 < components.count {
            let child = components[podIndex + 1]
            if let found = container(in: child) {
                identity.runtime = found.runtime
                identity.containerID = found.containerID
            } else if isID(child) {
                identity.containerID = child  // cgroupfs with containerd: the bare id
                identity.runtime = .containerd
            } else if child.hasPrefix("crio-"), isID(String(child.dropFirst(5))) {
                identity.containerID = String(child.dropFirst(5))
                identity.runtime = .crio
            }
        }
        return identity
    }

    /// A systemd scope that is a container: `cri-containerd-ID.scope`, `crio-ID.scope`, `docker-ID.scope`,
    /// `libpod-ID.scope` (not `libpod-conmon-ID.scope`, Podman's monitor).
    static func container(in component: String) -> ContainerIdentity? {
        guard component.hasSuffix(".scope") else { return nil }
        let unit = String(component.dropLast(6))
        let prefixes: [(String, Runtime)] = [
            ("cri-containerd-", .containerd), ("crio-", .crio), ("docker-", .docker), ("libpod-", .podman),
        ]
        for (prefix, runtime) in prefixes where unit.hasPrefix(prefix) {
            let id = String(unit.dropFirst(prefix.count))
            guard isID(id) else { return nil }
            return ContainerIdentity(runtime: runtime, containerID: id, driver: .systemd)
        }
        return nil
    }

    /// A container id: 64 lowercase hexadecimal digits.
    static func isID(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// A pod UID: 8-4-4-4-12 hexadecimal digits.
    static func isUID(_ text: String) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        return groups.map(\.utf8.count) == [8, 4, 4, 4, 12]
            && groups.allSatisfy { $0.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) } }
    }
}

extension String {
    /// What follows the last `marker`, nil when there is none.
    fileprivate func afterLast(_ marker: String) -> Substring? {
        var index = endIndex
        while index > startIndex {
            index = self.index(before: index)
            if self[index...].hasPrefix(marker) { return self[self.index(index, offsetBy: marker.count)...] }
        }
        return nil
    }
}

extension Substring {
    /// systemd's escaping of a pod UID in a slice name: `_` for `-`.
    fileprivate func replacingUnderscores() -> String {
        String(map { $0 == "_" ? "-" : $0 })
    }
}
