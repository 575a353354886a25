import Logging
import Meter

/// The real energy sources of this machine, chosen here (the executable), from the environment.
enum SourceSet {
    static func discover(logger: Logger) -> [any EnergySource] {
        let environment = Environment.variables
        let library = environment["SUSTAIN_NVML_LIBRARY"].flatMap { $0.isEmpty ? nil : $0 } ?? NVMLSource.defaultLibrary
        return [
            PowercapSource(logger: logger), SensorsSource(logger: logger),
            NVMLSource(library: library, visibleDevices: environment["CUDA_VISIBLE_DEVICES"], logger: logger),
        ]
    }
}
