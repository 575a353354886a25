import Logging

/// The real energy sources of this machine: powercap, hwmon and NVML. `environment` supplies
/// `SUSTAIN_NVML_LIBRARY` (another libnvidia-ml, for tests) and `CUDA_VISIBLE_DEVICES`; the executables pass it.
public enum MachineSources {
    public static func discover(environment: [String: String], logger: Logger) -> [any EnergySource] {
        let library = environment["SUSTAIN_NVML_LIBRARY"].flatMap { $0.isEmpty ? nil : $0 } ?? NVMLSource.defaultLibrary
        return [
            PowercapSource(logger: logger), SensorsSource(logger: logger),
            NVMLSource(library: library, visibleDevices: environment["CUDA_VISIBLE_DEVICES"], logger: logger),
        ]
    }
}
