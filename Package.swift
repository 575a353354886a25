// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "sustain",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sustain-measure", targets: ["sustain-measure"]),
        .executable(name: "sustain-measured", targets: ["sustain-measured"]),
        .executable(name: "sustain-intensity", targets: ["sustain-intensity"]),
        .executable(name: "sustain-bench", targets: ["sustain-bench"]),
        .executable(name: "sustain-fakesys", targets: ["sustain-fakesys"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // Not its default trait ConfigurationSupport: swift-configuration is unused here and a tenth of a clean
        // build's compile time.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // C at the edge: modulemap + shim.h only.
        .systemLibrary(
            name: "CPowercap",
            pkgConfig: "powercap",
            providers: [.apt(["libpowercap-dev"])]
        ),
        .systemLibrary(name: "CSensors", providers: [.apt(["libsensors-dev"])]),
        .systemLibrary(name: "CLinux"),
        .systemLibrary(name: "CNVML"),

        // Threads, wake events, signals and the child process: Linux system interfaces in Swift types.
        .target(name: "LinuxSupport", dependencies: ["CLinux"]),

        // Pure core: units, counters, integration, domain policy. Standard library only.
        .target(name: "SustainCore", dependencies: [.product(name: "RealModule", package: "swift-numerics")]),

        // Energy sources behind one protocol, and the sampler.
        .target(
            name: "Meter",
            dependencies: [
                "SustainCore", "LinuxSupport", "CPowercap", "CSensors", "CNVML",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Pure calculator: grid intensity data, PUE, cost, equivalents, FLOPs estimates. No I/O.
        .target(name: "Impact", dependencies: ["SustainCore"]),

        // Grid intensity over time: series files, the fetch cache, the providers' payloads. No network here.
        .target(name: "IntensityData", dependencies: ["SustainCore", "Impact", "LinuxSupport"]),

        // Configuration: plain structs with documented defaults, read from TOML (a reader of the subset we use;
        // TOMLKit checks it in the tests: TOMLKit links all of Foundation, beyond the wrapper's memory budget).
        .target(
            name: "SustainConfiguration",
            dependencies: ["Impact", "LinuxSupport", "SustainCore"]
        ),

        // The HTTP API's contract: routes, request and response types, field names. Daemon and clients import it.
        .target(name: "SustainAPI", dependencies: ["SustainCore", "LinuxSupport"]),

        // Report model and formats.
        .target(
            name: "Reports",
            dependencies: [
                "SustainCore", "Meter", "Impact", "LinuxSupport", "SustainAPI",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Hardware control: power limits' journal, leases and restore, for the service and the root wrapper alike.
        .target(name: "PowerControl", dependencies: ["SustainCore", "LinuxSupport", "Meter", "SustainAPI", "Reports"]),

        // The service: job registry, SQLite store, HTTP API on a Unix socket, metrics.
        .target(
            name: "Daemon",
            dependencies: [
                "SustainCore", "Meter", "Impact", "IntensityData", "Reports", "LinuxSupport", "SustainConfiguration",
                "SustainAPI", "PowerControl",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Executables compose.
        .executableTarget(
            name: "sustain-measured",
            dependencies: [
                "Daemon", "Meter", "Impact", "Reports", "SustainConfiguration", "LinuxSupport", "PowerControl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"])]
        ),
        .executableTarget(
            name: "sustain-measure",
            dependencies: [
                "SustainCore", "Meter", "Impact", "IntensityData", "Reports", "LinuxSupport", "SustainConfiguration",
                "SustainAPI", "PowerControl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The one program that reaches the internet: fetches grid intensity series into the cache (its own
        // systemd unit, network allowed; the service stays without network). URLSession (FoundationNetworking).
        .executableTarget(
            name: "sustain-intensity",
            dependencies: [
                "IntensityData", "Impact", "SustainCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "sustain-bench",
            dependencies: [
                "SustainCore", "Meter", "Reports", "LinuxSupport", "SustainAPI",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Test support: builds a fake /sys/class tree in a private mount namespace and drives its counters.
        .executableTarget(
            name: "sustain-fakesys",
            dependencies: [
                "LinuxSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .target(name: "SustainTestSupport", path: "Tests/SustainTestSupport"),
        .testTarget(
            name: "SustainCoreTests",
            dependencies: ["SustainCore", .product(name: "RealModule", package: "swift-numerics")]),
        .testTarget(name: "LinuxSupportTests", dependencies: ["LinuxSupport"]),
        .testTarget(name: "SustainAPITests", dependencies: ["SustainAPI", "LinuxSupport"]),
        .testTarget(
            name: "PowerControlTests", dependencies: ["PowerControl", "SustainCore", "SustainAPI", "Reports"]),
        .testTarget(name: "ImpactTests", dependencies: ["Impact", "SustainTestSupport"]),
        .testTarget(
            name: "SustainConfigurationTests",
            dependencies: ["SustainConfiguration", "Impact", .product(name: "TOMLKit", package: "TOMLKit")]
        ),
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "Daemon", "Meter", "Reports", "SustainCore", "Impact", "SustainTestSupport", "sustain-measured",
                "SustainAPI", "LinuxSupport",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "MeterTests",
            dependencies: [
                "Meter", "Reports", "LinuxSupport", "SustainTestSupport", "sustain-fakesys", "sustain-measure",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "IntensityTests",
            dependencies: [
                "IntensityData", "Impact", "Reports", "SustainCore", "SustainTestSupport", "sustain-intensity",
                "sustain-measure", "sustain-fakesys",
            ]
        ),
        .testTarget(
            name: "SustainMeasureTests",
            dependencies: ["Reports", "SustainTestSupport", "sustain-measure"]
        ),
    ]
)
