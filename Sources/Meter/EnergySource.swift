import SustainCore

/// A provider of energy, power and temperature channels: RAPL through libpowercap, hwmon through libsensors, NVIDIA
/// GPUs through NVML.
///
/// A source discovers its channels once, when it is created, and is then read only by the sampler's thread.
public protocol EnergySource: AnyObject, Sendable {
    /// A short name for messages: `powercap`, `hwmon`.
    var name: String { get }
    /// The channels found at discovery, readable or not.
    var channels: [ChannelDescriptor] { get }
    /// Facts about discovery worth telling the user: why nothing was found, what could not be opened.
    var diagnostics: [String] { get }
    /// Reads channel `index` (into `channels`) now.
    func read(_ index: Int) -> Reading
}

/// A source whose devices are charged to a job by which of its processes ran on them (NVIDIA GPUs), known only
/// once the job has ended. The sampler asks its sources for this role in one place and drives them through it.
public protocol JobAttributingSource: EnergySource {
    /// The devices (GPUs), for the report.
    var gpus: [GPUDescription] { get }
    /// The wrapper's job: its process tree is the child's.
    func attach(jobRoot root: Int32)
    /// A daemon's job: watch which of this source's devices run processes of the tree under `root`.
    func watch(jobRoot root: Int32)
    func unwatch(jobRoot root: Int32)
    /// Which devices the attached job is charged (its processes', else its `CUDA_VISIBLE_DEVICES`, else all).
    func refine(_ decisions: inout [ChannelID: DomainDecision])
    /// Like `refine(_:)`, for one of many jobs the source watches (a daemon's). With `processesOnly` (a watched
    /// or attached server) only the devices its processes ran on are charged: never all of them for want of any.
    func refine(
        _ decisions: inout [ChannelID: DomainDecision], jobRoot: Int32?, visibleDevices: String?, processesOnly: Bool)
}
