// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "AnomalyKit",
    products: [
        .library(
            name: "AnomalyKit",
            targets: ["Tensors", "Layers", "Datasets", "Metrics", "Detectors", "Experiments"]),
        .executable(name: "anomaly", targets: ["anomaly"]),
        .executable(name: "anomaly-bench", targets: ["anomaly-bench"]),
        .executable(name: "anomaly-fuzz", targets: ["anomaly-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // C kernels: vectorised element-wise, im2col/col2im, pooling; function-level target
        // attributes and runtime CPU dispatch, so no compiler flags are needed.
        .target(name: "CKernels"),
        // zlib (gzip, PNG, NPZ) from the system: zlib1g-dev.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Tensors", dependencies: ["CKernels"]),
        .target(name: "Layers", dependencies: ["Tensors", "CKernels"]),
        .target(name: "Metrics"),
        .target(name: "Datasets", dependencies: ["Tensors", "CZlib"]),
        .target(
            name: "Detectors",
            dependencies: [
                "Tensors", "Layers", "Datasets", "Metrics",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "Experiments",
            dependencies: [
                "Tensors", "Layers", "Datasets", "Metrics", "Detectors",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // `anomaly serve`: the HTTP scoring server (Hummingbird).
        .target(
            name: "Serving",
            dependencies: [
                "Experiments", "Datasets", "Detectors",
                .product(name: "Hummingbird", package: "hummingbird", moduleAliases: ["Metrics": "SwiftMetrics"]),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "anomaly",
            dependencies: [
                "Experiments", "Datasets", "Detectors", "Metrics", "Tensors", "Serving",
                .product(name: "Hummingbird", package: "hummingbird", moduleAliases: ["Metrics": "SwiftMetrics"]),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(name: "anomaly-bench", dependencies: ["Tensors", "Layers", "Datasets", "Detectors"]),
        // Fuzz harnesses for every file reader and the checkpoint loader, shared by the fuzzer,
        // its replay tool and the regression test (see scripts/fuzz.sh).
        .target(name: "FuzzHarnesses", dependencies: ["Datasets", "Layers"]),
        // Replay tool when built normally; libFuzzer target when built with -DANOMALY_FUZZING
        // (@_extern(c) declares libFuzzer's driver for the fuzzing build).
        .executableTarget(
            name: "anomaly-fuzz", dependencies: ["FuzzHarnesses"],
            swiftSettings: [.enableExperimentalFeature("Extern")]),
        // Test helpers shared by test targets (finite-difference gradient check).
        .target(name: "TestSupport", dependencies: ["Tensors"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "LayersTests", dependencies: ["Layers", "Tensors", "Datasets", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics"], exclude: ["Fixtures"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Tensors", "FuzzHarnesses"], exclude: ["Fixtures"]),
        .testTarget(name: "DetectorsTests", dependencies: ["Detectors", "Datasets", "Metrics"], exclude: ["Fixtures"]),
        .testTarget(
            name: "ExperimentsTests",
            dependencies: ["Experiments", "Detectors", "Datasets", "Metrics", "Layers", "Tensors", "TestSupport", "Serving",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"]),
    ]
)
