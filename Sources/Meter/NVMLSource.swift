internal import CNVML
import Glibc
import LinuxSupport
import Logging
import SustainCore
import Synchronization

/// What the report says about one NVIDIA GPU.
public struct GPUDescription: Sendable, Equatable {
    public var index: Int
    public var name: String
    public var uuid: String
    public var driverVersion: String
    public var channel: ChannelID
    /// `.counter` (nvmlDeviceGetTotalEnergyConsumption) or `.powerIntegration` (nvmlDeviceGetPowerUsage, polled).
    public var method: ChannelResult.Method
}

/// NVIDIA GPUs through NVML, loaded with `dlopen` at run time (no link-time dependency: the binary runs where there
/// is no driver). Energy from the total-energy counter (mJ, Volta and newer) by deltas; where that is not
/// supported, power polled at ≥ 10 Hz and integrated. NVML keeps process-global, reference-counted state: this
/// source is its one owner (`nvmlInit_v2` here, `nvmlShutdown` in `deinit`) and is read by the sampler's thread.
public final class NVMLSource: JobAttributingSource, @unchecked Sendable {
    public let name = "nvml"
    public private(set) var channels: [ChannelDescriptor] = []
    public private(set) var diagnostics: [String] = []
    public private(set) var gpus: [GPUDescription] = []

    /// The library's name; `SUSTAIN_NVML_LIBRARY` (read by the executable) may name another path for tests.
    public static let defaultLibrary = "libnvidia-ml.so.1"
    /// Power sensors are polled at least this often.
    public static let powerPollingInterval: Duration = .milliseconds(100)
    /// How often the GPUs' process lists are checked for the job's processes.
    public static let processCheckInterval = 1.0

    private struct API {
        let shutdown: sustain_nvmlShutdown
        let errorString: sustain_nvmlErrorString
        let energy: sustain_nvmlDeviceGetTotalEnergyConsumption?
        let power: sustain_nvmlDeviceGetPowerUsage?
        let processes: sustain_nvmlDeviceGetComputeRunningProcesses?
    }

    private var handle: UnsafeMutableRawPointer?
    private var api: API?
    private var devices: [nvmlDevice_t?] = []
    private var usesCounter: [Bool] = []
    private let visibleDevices: String?
    /// The wrapper's job (`attach`).
    private let attachedRoot = Mutex<Int32?>(nil)
    /// Every watched job's root (the wrapper's one, or a daemon's many).
    private let jobRoots = Mutex<Set<Int32>>([])
    private var lastProcessCheck: [Double] = []
    /// Per GPU: each watched root's processes seen on it. Written by the sampling thread, read by `refine`.
    private let jobProcesses = Mutex<[[Int32: Set<Int32>]]>([])

    /// Opens `library` and finds the GPUs. `visibleDevices` is the job's `CUDA_VISIBLE_DEVICES`, if set.
    public init(library: String = NVMLSource.defaultLibrary, visibleDevices: String?, logger: Logger) {
        self.visibleDevices = visibleDevices
        let nvml: NVMLLibrary
        switch NVMLLibrary.open(library) {
        case .success(let opened): nvml = opened
        case .failure(.notFound):
            diagnostics.append(
                "NVIDIA GPUs not measured: \(library) not found (no NVIDIA driver here, or not on the library path)")
            return
        case .failure(.missingSymbols):
            diagnostics.append("NVIDIA GPUs not measured: \(library) lacks nvmlInit_v2 or other required symbols")
            return
        case .failure(.initFailed(let status, let message)):
            diagnostics.append(
                "NVIDIA GPUs not measured: nvmlInit_v2 failed: \(message) (\(status))"
                    + (status == NVML_ERROR_DRIVER_NOT_LOADED ? "; is the nvidia kernel module loaded?" : ""))
            return
        }
        self.handle = nvml.handle
        let (shutdown, errorString, count, byIndex) = (nvml.shutdown, nvml.errorString, nvml.count, nvml.byIndex)
        let processes =
            nvml.symbol(
                "nvmlDeviceGetComputeRunningProcesses_v3", as: sustain_nvmlDeviceGetComputeRunningProcesses.self)
            ?? nvml.symbol(
                "nvmlDeviceGetComputeRunningProcesses_v2", as: sustain_nvmlDeviceGetComputeRunningProcesses.self)
        let api = API(
            shutdown: shutdown, errorString: errorString,
            energy: nvml.symbol(
                "nvmlDeviceGetTotalEnergyConsumption", as: sustain_nvmlDeviceGetTotalEnergyConsumption.self),
            power: nvml.symbol("nvmlDeviceGetPowerUsage", as: sustain_nvmlDeviceGetPowerUsage.self),
            processes: processes)
        self.api = api
        var driver = "unknown"
        if let version = nvml.symbol("nvmlSystemGetDriverVersion", as: sustain_nvmlSystemGetDriverVersion.self) {
            driver = Self.text(capacity: 96) { version($0, $1) } ?? "unknown"
        }
        var deviceCount: UInt32 = 0
        let countStatus = count(&deviceCount)
        guard countStatus == NVML_SUCCESS else {
            diagnostics.append("NVIDIA GPUs not measured: nvmlDeviceGetCount_v2 failed: \(message(countStatus))")
            return
        }
        for index in 0..<deviceCount {
            var device: nvmlDevice_t?
            let rc = byIndex(index, &device)
            guard rc == NVML_SUCCESS, let device else {
                diagnostics.append("GPU \(index) not measured: nvmlDeviceGetHandleByIndex_v2 failed: \(message(rc))")
                continue
            }
            addDevice(
                Int(index), device, driver: driver, api: api,
                getName: nvml.symbol("nvmlDeviceGetName", as: sustain_nvmlDeviceGetName.self),
                getUUID: nvml.symbol("nvmlDeviceGetUUID", as: sustain_nvmlDeviceGetUUID.self), logger: logger)
        }
        if deviceCount == 0 { diagnostics.append("NVML reports no NVIDIA GPU") }
    }

    deinit {
        api?.shutdown()
        if let handle { dlclose(handle) }
    }

    private func addDevice(
        _ index: Int, _ device: nvmlDevice_t, driver: String, api: API, getName: sustain_nvmlDeviceGetName?,
        getUUID: sustain_nvmlDeviceGetUUID?, logger: Logger
    ) {
        let name = getName.flatMap { call in Self.text(capacity: 96) { call(device, $0, $1) } } ?? "NVIDIA GPU \(index)"
        let uuid = getUUID.flatMap { call in Self.text(capacity: 96) { call(device, $0, $1) } } ?? "unknown"
        var millijoules: UInt64 = 0
        let energyStatus = api.energy.map { $0(device, &millijoules) } ?? NVML_ERROR_NOT_SUPPORTED
        let counter = energyStatus == NVML_SUCCESS
        var unreadable: String?
        if !counter {
            var milliwatts: UInt32 = 0
            let powerStatus = api.power.map { $0(device, &milliwatts) } ?? NVML_ERROR_NOT_SUPPORTED
            if powerStatus != NVML_SUCCESS {
                unreadable = "neither energy nor power readable: \(message(powerStatus))"
            }
        }
        let id = ChannelID("nvml:\(index)")
        let quantity: ChannelQuantity =
            counter
            ? .energyCounter(CounterRange(maxMicrojoules: nil, plausibleMaxPower: Watts(3000))) : .power
        channels.append(
            ChannelDescriptor(
                id: id, source: .nvml, name: name, kind: .gpu, quantity: quantity, group: "nvml:\(index)",
                path: uuid, unreadable: unreadable, maximumInterval: counter ? nil : Self.powerPollingInterval))
        devices.append(device)
        usesCounter.append(counter)
        lastProcessCheck.append(-.infinity)
        jobProcesses.withLock { $0.append([:]) }
        gpus.append(
            GPUDescription(
                index: index, name: name, uuid: uuid, driverVersion: driver, channel: id,
                method: counter ? .counter : .powerIntegration))
        logger.debug("nvml gpu", metadata: ["index": "\(index)", "name": "\(name)", "counter": "\(counter)"])
    }

    /// Tells the source which process tree is the job (the wrapper's child), to find the GPUs it runs on.
    public func attach(jobRoot pid: Int32) {
        attachedRoot.withLock { $0 = pid }
        watch(jobRoot: pid)
    }

    public func watch(jobRoot root: Int32) { _ = jobRoots.withLock { $0.insert(root) } }

    public func unwatch(jobRoot root: Int32) {
        _ = jobRoots.withLock { $0.remove(root) }
        jobProcesses.withLock { gpus in for index in gpus.indices { gpus[index][root] = nil } }
    }

    public func read(_ index: Int) -> Reading {
        guard let api, let device = devices[index] else { return .failed(ReadFailure(.vanished)) }
        checkProcesses(index, device: device, api: api)
        if usesCounter[index] {
            var millijoules: UInt64 = 0
            let rc = api.energy?(device, &millijoules) ?? NVML_ERROR_NOT_SUPPORTED
            guard rc == NVML_SUCCESS else { return .failed(Self.failure(rc)) }
            return .counter(MicrojouleCounter(millijoules &* 1000))
        }
        var milliwatts: UInt32 = 0
        let rc = api.power?(device, &milliwatts) ?? NVML_ERROR_NOT_SUPPORTED
        guard rc == NVML_SUCCESS else { return .failed(Self.failure(rc)) }
        return .power(Watts(Double(milliwatts) / 1000))
    }

    /// About once a second, records which watched jobs' processes run on GPU `index`.
    private func checkProcesses(_ index: Int, device: nvmlDevice_t, api: API) {
        let roots = jobRoots.withLock { $0 }
        guard let processes = api.processes, !roots.isEmpty else { return }
        let now = MonotonicInstant.now
        let seconds = Double(now.nanoseconds) / 1e9
        guard seconds - lastProcessCheck[index] >= Self.processCheckInterval else { return }
        lastProcessCheck[index] = seconds
        var count: UInt32 = 0
        var rc = processes(device, &count, nil)  // count 0 asks for the size
        guard rc == NVML_SUCCESS || rc == NVML_ERROR_INSUFFICIENT_SIZE, count > 0 else { return }
        var infos = [nvmlProcessInfo_t](repeating: nvmlProcessInfo_t(), count: Int(count) + 8)
        count = UInt32(infos.count)
        rc = processes(device, &count, &infos)
        guard rc == NVML_SUCCESS else { return }
        for info in infos.prefix(Int(count)) {
            let pid = Int32(bitPattern: info.pid)
            for ancestor in ProcessTree.lineage(of: pid) where roots.contains(ancestor) {
                jobProcesses.withLock { _ = $0[index][ancestor, default: []].insert(pid) }
            }
        }
    }

    /// The wrapper's job: the attached root and the wrapper's own `CUDA_VISIBLE_DEVICES`.
    public func refine(_ decisions: inout [ChannelID: DomainDecision]) {
        refine(&decisions, jobRoot: attachedRoot.withLock { $0 }, visibleDevices: visibleDevices, processesOnly: false)
    }

    /// Counts the GPUs that ran the job's processes; else those in `CUDA_VISIBLE_DEVICES`; else all (with
    /// `processesOnly`, a server's: none).
    public func refine(
        _ decisions: inout [ChannelID: DomainDecision], jobRoot: Int32?, visibleDevices: String?, processesOnly: Bool
    ) {
        let seen = jobRoot.map { root in jobProcesses.withLock { $0.map { $0[root] ?? [] } } }
        let used = Set(gpus.indices.filter { !(seen?[$0].isEmpty ?? true) })
        let visible = visibleDevices.map { Self.visibleIndices($0, gpus: gpus) }
        let suffix = "; whole-device energy: other processes on this GPU are included"
        for (position, gpu) in gpus.enumerated() {
            guard let decision = decisions[gpu.channel], decision.counted else { continue }
            let method =
                gpu.method == .counter
                ? "energy counter (nvmlDeviceGetTotalEnergyConsumption)"
                : "power polled every 0.1 s (nvmlDeviceGetPowerUsage; on A100/H100 the sensor samples only part "
                    + "of the time, the counter is preferred where supported)"
            let (counted, reason): (Bool, String)
            if !used.isEmpty {
                let pids = (seen?[position] ?? []).sorted().map(String.init).joined(separator: ", ")
                (counted, reason) =
                    used.contains(position)
                    ? (true, "ran the job's processes (pid \(pids))")
                    : (false, "no process of the job ran on it")
            } else if processesOnly {
                (counted, reason) = (false, "no process of the server ran on it")
            } else if let visible {
                (counted, reason) =
                    visible.contains(position)
                    ? (true, "named in CUDA_VISIBLE_DEVICES (no job process seen on any GPU)")
                    : (false, "not in CUDA_VISIBLE_DEVICES")
            } else {
                (counted, reason) = (true, "no job process seen on any GPU and CUDA_VISIBLE_DEVICES unset: all GPUs")
            }
            decisions[gpu.channel] = DomainDecision(
                counted: counted, note: "\(gpu.name): \(reason); \(method)\(suffix)")
        }
    }

    /// The GPU positions `CUDA_VISIBLE_DEVICES` names: indices, or UUIDs (`GPU-…`, prefixes allowed).
    static func visibleIndices(_ value: String, gpus: [GPUDescription]) -> Set<Int> {
        var result: Set<Int> = []
        for entry in value.split(separator: ",").map({ String($0).trimmingTrailingNewlines().trimmingLeadingSpaces() })
        {
            if let index = Int(entry), let position = gpus.firstIndex(where: { $0.index == index }) {
                result.insert(position)
            } else if entry.hasPrefix("GPU-"), let position = gpus.firstIndex(where: { $0.uuid.hasPrefix(entry) }) {
                result.insert(position)
            }
        }
        return result
    }

    private func message(_ rc: nvmlReturn_t) -> String {
        guard let api else { return "NVML error \(rc)" }
        return "\(api.errorString(rc).map { String(cString: $0) } ?? "NVML error") (\(rc))"
    }

    static func failure(_ rc: nvmlReturn_t) -> ReadFailure {
        switch rc {
        case NVML_ERROR_GPU_IS_LOST: ReadFailure(.deviceLost)
        case NVML_ERROR_NO_PERMISSION: ReadFailure(.permissionDenied)
        default: ReadFailure(.nvml(rc))
        }
    }

    /// A string an NVML call writes into a buffer of `capacity` bytes.
    static func text(capacity: Int, _ call: (UnsafeMutablePointer<CChar>, UInt32) -> nvmlReturn_t) -> String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { buffer -> String? in
            guard let base = buffer.baseAddress else { return nil }
            base.initialize(repeating: 0, count: capacity)
            guard call(base, UInt32(capacity - 1)) == NVML_SUCCESS else { return nil }
            return String(cString: base)
        }
    }
}

extension String {
    func trimmingLeadingSpaces() -> String { String(drop { $0 == " " }) }
}

/// One GPU's power limit as NVML gives it (mW).
public struct GPUPowerLimit: Sendable, Equatable {
    public var index: Int
    public var name: String?
    public var limitMilliwatts: UInt32
    public var minimumMilliwatts: UInt32?
    public var maximumMilliwatts: UInt32?
}

/// GPU power limits through NVML: read each GPU's limit and its allowed range, set one (root) and read it back.
/// Its own `nvmlInit_v2`/`nvmlShutdown` pair (NVML counts them), so it lives beside a measuring `NVMLSource`.
public final class NVMLControl: @unchecked Sendable {
    private struct API {
        let shutdown: sustain_nvmlShutdown
        let errorString: sustain_nvmlErrorString
        let count: sustain_nvmlDeviceGetCount_v2
        let byIndex: sustain_nvmlDeviceGetHandleByIndex_v2
        let limit: sustain_nvmlDeviceGetPowerManagementLimit
        let constraints: sustain_nvmlDeviceGetPowerManagementLimitConstraints?
        let setLimit: sustain_nvmlDeviceSetPowerManagementLimit
        let name: sustain_nvmlDeviceGetName?
    }

    private let handle: UnsafeMutableRawPointer
    private let api: API

    /// Nil when the library, its power-limit functions or the driver are missing.
    public init?(library: String = NVMLSource.defaultLibrary) {
        guard case .success(let nvml) = NVMLLibrary.open(library) else { return nil }
        guard
            let limit = nvml.symbol(
                "nvmlDeviceGetPowerManagementLimit", as: sustain_nvmlDeviceGetPowerManagementLimit.self),
            let setLimit = nvml.symbol(
                "nvmlDeviceSetPowerManagementLimit", as: sustain_nvmlDeviceSetPowerManagementLimit.self)
        else {
            nvml.close()
            return nil
        }
        self.handle = nvml.handle
        self.api = API(
            shutdown: nvml.shutdown, errorString: nvml.errorString, count: nvml.count, byIndex: nvml.byIndex,
            limit: limit,
            constraints: nvml.symbol(
                "nvmlDeviceGetPowerManagementLimitConstraints",
                as: sustain_nvmlDeviceGetPowerManagementLimitConstraints.self),
            setLimit: setLimit, name: nvml.symbol("nvmlDeviceGetName", as: sustain_nvmlDeviceGetName.self))
    }

    deinit {
        _ = api.shutdown()
        dlclose(handle)
    }

    /// Every GPU whose limit NVML reads.
    public func limits() -> [GPUPowerLimit] {
        var count: UInt32 = 0
        guard api.count(&count) == NVML_SUCCESS else { return [] }
        return (0..<count).compactMap { index -> GPUPowerLimit? in
            guard let device = device(Int(index)) else { return nil }
            var limit: UInt32 = 0
            guard api.limit(device, &limit) == NVML_SUCCESS else { return nil }
            var minimum: UInt32 = 0
            var maximum: UInt32 = 0
            let range = api.constraints.map { $0(device, &minimum, &maximum) } ?? NVML_ERROR_NOT_SUPPORTED
            let name = api.name.flatMap { call in NVMLSource.text(capacity: 96) { call(device, $0, $1) } }
            return GPUPowerLimit(
                index: Int(index), name: name, limitMilliwatts: limit,
                minimumMilliwatts: range == NVML_SUCCESS && minimum > 0 ? minimum : nil,
                maximumMilliwatts: range == NVML_SUCCESS && maximum > 0 ? maximum : nil)
        }
    }

    /// Sets GPU `index`'s limit and reads it back.
    public func setLimit(index: Int, milliwatts: UInt32) throws(SystemError) {
        let subject = "GPU \(index)"
        guard let device = device(index) else { throw SystemError("NVML device", subject: subject, errno: ENODEV) }
        let rc = api.setLimit(device, milliwatts)
        guard rc == NVML_SUCCESS else {
            throw SystemError(
                "nvmlDeviceSetPowerManagementLimit (\(message(rc)))", subject: subject,
                errno: rc == NVML_ERROR_NO_PERMISSION ? EPERM : EIO)
        }
        var readBack: UInt32 = 0
        guard api.limit(device, &readBack) == NVML_SUCCESS, readBack == milliwatts else {
            throw SystemError(
                "nvmlDeviceSetPowerManagementLimit did not take (read back \(readBack) mW, wrote \(milliwatts) mW)",
                subject: subject, errno: EIO)
        }
    }

    private func device(_ index: Int) -> nvmlDevice_t? {
        var device: nvmlDevice_t?
        guard api.byIndex(UInt32(index), &device) == NVML_SUCCESS else { return nil }
        return device
    }

    private func message(_ rc: nvmlReturn_t) -> String {
        "\(api.errorString(rc).map { String(cString: $0) } ?? "NVML error") (\(rc))"
    }
}

/// libnvidia-ml opened with `dlopen`, the entry points every user of it needs found, and `nvmlInit_v2` called: what
/// `NVMLSource` and `NVMLControl` share (each holds its own: NVML counts init/shutdown pairs).
struct NVMLLibrary {
    enum Failure: Error {
        case notFound
        case missingSymbols
        case initFailed(nvmlReturn_t, String)
    }

    let handle: UnsafeMutableRawPointer
    let shutdown: sustain_nvmlShutdown
    let errorString: sustain_nvmlErrorString
    let count: sustain_nvmlDeviceGetCount_v2
    let byIndex: sustain_nvmlDeviceGetHandleByIndex_v2

    /// The library at `library`, initialised; nothing is left open when it cannot be.
    static func open(_ library: String) -> Result<NVMLLibrary, Failure> {
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else { return .failure(.notFound) }
        let lookup = { (name: String) in dlsym(handle, name) }
        guard let initialize = lookup("nvmlInit_v2").map({ unsafeBitCast($0, to: sustain_nvmlInit_v2.self) }),
            let shutdown = lookup("nvmlShutdown").map({ unsafeBitCast($0, to: sustain_nvmlShutdown.self) }),
            let errorString = lookup("nvmlErrorString").map({ unsafeBitCast($0, to: sustain_nvmlErrorString.self) }),
            let count = lookup("nvmlDeviceGetCount_v2").map({
                unsafeBitCast($0, to: sustain_nvmlDeviceGetCount_v2.self)
            }),
            let byIndex = lookup("nvmlDeviceGetHandleByIndex_v2").map({
                unsafeBitCast($0, to: sustain_nvmlDeviceGetHandleByIndex_v2.self)
            })
        else {
            dlclose(handle)
            return .failure(.missingSymbols)
        }
        let status = initialize()
        guard status == NVML_SUCCESS else {
            let message = errorString(status).map { String(cString: $0) } ?? "?"
            dlclose(handle)
            return .failure(.initFailed(status, message))
        }
        return .success(
            NVMLLibrary(handle: handle, shutdown: shutdown, errorString: errorString, count: count, byIndex: byIndex))
    }

    /// An optional entry point.
    func symbol<T>(_ name: String, as type: T.Type) -> T? {
        dlsym(handle, name).map { unsafeBitCast($0, to: type) }
    }

    /// Shuts NVML down and closes the library (when it is given up before use).
    func close() {
        _ = shutdown()
        dlclose(handle)
    }
}
