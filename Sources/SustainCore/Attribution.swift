/// Shares one interval's energy of one domain among cgroups by CPU time: the model a service uses to say what each
/// of several concurrent jobs cost, documented in the README with its reasoning.
///
/// The domain's energy is split into a static part (its idle baseline power × the interval) and a dynamic part
/// (the rest). The dynamic part goes to each cgroup in proportion to the CPU time its processes used in the
/// interval, against the machine's busy CPU time (`/proc/stat`; processes outside every job keep their share
/// unattributed). The static part is either left unattributed, or split by each cgroup's allocated CPUs
/// (`cpuset.cpus.effective`) over the machine's. Nothing is created or lost: what no cgroup gets is the remainder,
/// and `Σ shares + remainder = energy`.
public enum CPUTimeAttribution {
    public enum IdlePolicy: String, Sendable, Codable, CaseIterable {
        /// The static part stays unattributed: a job pays for what it ran, not for the machine being on.
        case unattributed
        /// The static part is split by allocated CPUs: a job pays for the share of the machine it holds.
        case cpuset
    }

    public struct Share: Sendable, Equatable {
        /// From the dynamic part, by CPU time.
        public var dynamic: Double
        /// From the static part, by allocated CPUs (`cpuset` policy only).
        public var idle: Double
        public var total: Double { dynamic + idle }
    }

    /// Each cgroup's share of `energy` joules; `idleEnergy` is the static part (clamped to `0...energy`),
    /// `machineBusy` the machine's busy CPU seconds in the interval, `groupBusy` each cgroup's CPU seconds,
    /// `groupCPUs` each cgroup's allocated CPUs (nil: none known) out of `totalCPUs`.
    public static func split(
        energy: Double, idleEnergy: Double, machineBusy: Double, groupBusy: [Double], groupCPUs: [Int?],
        totalCPUs: Int, policy: IdlePolicy
    ) -> [Share] {
        guard energy.isFinite, energy > 0 else { return groupBusy.map { _ in Share(dynamic: 0, idle: 0) } }
        let idle = min(max(0, idleEnergy.isFinite ? idleEnergy : 0), energy)
        let dynamic = energy - idle
        let busy = groupBusy.map { $0.isFinite ? max(0, $0) : 0 }
        // Cgroup and /proc/stat accounting differ by a tick or so: never hand out more than the whole.
        let busyTotal = max(machineBusy.isFinite ? machineBusy : 0, busy.reduce(0, +))
        var shares = busy.map { Share(dynamic: busyTotal > 0 ? dynamic * $0 / busyTotal : 0, idle: 0) }
        if policy == .cpuset, totalCPUs > 0 {
            let cpus = groupCPUs.map { max(0, $0 ?? 0) }
            let held = max(totalCPUs, cpus.reduce(0, +))
            for index in shares.indices { shares[index].idle = idle * Double(cpus[index]) / Double(held) }
        }
        return shares
    }
}
