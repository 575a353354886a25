import Logging

/// The real energy sources of this machine: powercap, hwmon and NVML. `environment` supplies
/// `SUSTAIN_NVML_LIBRARY` (another libnvidia-ml, for tests) and `CUDA_VISIBLE_DEVICES`; the executables pass it.
public enum MachineSources {
    /// The sources named in `enabled` ("powercap", "hwmon", "nvml"; default all three).
    public static func discover(
        environment: [String: String], enabled: [String] = ["powercap", "hwmon", "nvml"], logger: Logger
    ) -> [any EnergySource] {
        let library = environment["SUSTAIN_NVML_LIBRARY"].flatMap { $0.isEmpty ? nil : $0 } ?? NVMLSource.defaultLibrary
        var sources: [any EnergySource] = []
        if enabled.contains("powercap") { sources.append(PowercapSource(logger: logger)) }
        if enabled.contains("hwmon") { sources.append(SensorsSource(logger: logger)) }
        if enabled.contains("nvml") {
            sources.append(
                NVMLSource(library: library, visibleDevices: environment["CUDA_VISIBLE_DEVICES"], logger: logger))
        }
        return sources
    }
}
