import SustainCore

/// A provider of energy, power and temperature channels: RAPL through libpowercap, hwmon through libsensors.
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
    /// See the extension's default.
    func refine(_ decisions: inout [ChannelID: DomainDecision])
    /// A daemon's job: watch which of this source's devices run processes of the tree under `root`.
    func watch(jobRoot root: Int32)
    func unwatch(jobRoot root: Int32)
    /// Like `refine(_:)`, for one of many jobs the source watches (a daemon's).
    func refine(_ decisions: inout [ChannelID: DomainDecision], jobRoot: Int32?, visibleDevices: String?)
}

extension EnergySource {
    /// Adjusts which of this source's channels are counted once the measurement has ended (which GPUs ran the
    /// job is known only then). The default keeps the decisions as they are.
    public func refine(_ decisions: inout [ChannelID: DomainDecision]) {}
    public func watch(jobRoot root: Int32) {}
    public func unwatch(jobRoot root: Int32) {}
    public func refine(_ decisions: inout [ChannelID: DomainDecision], jobRoot: Int32?, visibleDevices: String?) {}
}
