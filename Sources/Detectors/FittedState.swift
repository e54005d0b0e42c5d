import Foundation
import Layers

/// The metadata of every saved fitted state (`model.safetensors` in a run folder): which
/// detector wrote it, the sample shape it was fitted on, and its configuration as JSON.
public enum FittedStateMetadata {
    /// The sample shape the fitted state at `url` was fitted on, read from its metadata
    /// without loading the tensors (whichever detector wrote it).
    public static func readSampleShape(from url: URL) throws -> [Int] {
        try recordedShape(Checkpoint.readMetadata(from: url), url: url)
    }

    static func make<C: Encodable>(detector: String, sampleShape: [Int], configuration: C) throws -> [String: String] {
        [
            "detector": detector, "sampleShape": sampleShape.map(String.init).joined(separator: ","),
            "configuration": try ConfigurationDecoding.json(configuration),
        ]
    }

    /// The sample shape recorded in `metadata`, after checking that `detector` wrote it.
    static func sampleShape(_ metadata: [String: String], detector: String, url: URL) throws -> [Int] {
        guard metadata["detector"] == detector else {
            throw DetectorError.incompatibleCheckpoint(
                path: url.path, reason: "it holds a '\(metadata["detector"] ?? "?")' model, not \(detector)")
        }
        return try recordedShape(metadata, url: url)
    }

    private static func recordedShape(_ metadata: [String: String], url: URL) throws -> [Int] {
        let shape = (metadata["sampleShape"] ?? "").split(separator: ",").compactMap { Int($0) }
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else {
            throw DetectorError.incompatibleCheckpoint(path: url.path, reason: "it records no sample shape")
        }
        var size = 1
        for dimension in shape {
            let (product, overflow) = size.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= Int(Int32.max) else {
                throw DetectorError.incompatibleCheckpoint(path: url.path, reason: "its sample shape \(shape) is too large")
            }
            size = product
        }
        return shape
    }
}

/// A classical detector's fitted state as named full-precision arrays (trees, support vectors,
/// a kernel bank, a feature bank, a mixture, a PCA basis), saved as safetensors (F64 / F32) so
/// that a run folder scores exactly as the run did, without the training data.
struct FittedArrays {
    private(set) var entries: [(name: String, shape: [Int], values: Checkpoint.StoredValues)] = []

    mutating func add(_ name: String, _ values: [Double], shape: [Int]? = nil) {
        entries.append((name, shape ?? [values.count], .float64(values)))
    }

    mutating func add(_ name: String, _ values: [Float], shape: [Int]? = nil) {
        entries.append((name, shape ?? [values.count], .float32(values)))
    }

    mutating func add<I: BinaryInteger>(_ name: String, integers: [I]) {
        var values: [Double] = []
        values.reserveCapacity(integers.count)
        for value in integers { values.append(Double(value)) }
        add(name, values)
    }

    mutating func add(_ name: String, scalar: Double) { add(name, [scalar]) }

    func save<C: Encodable>(to url: URL, detector: String, sampleShape: [Int], configuration: C) throws {
        try Checkpoint.save(
            arrays: entries, to: url,
            metadata: FittedStateMetadata.make(detector: detector, sampleShape: sampleShape, configuration: configuration))
    }

    /// A saved state, read back.
    struct Stored {
        let url: URL
        let sampleShape: [Int]
        let arrays: [String: (shape: [Int], values: [Double])]

        init(url: URL, detector: String) throws {
            let (arrays, metadata) = try Checkpoint.readArrays(from: url)
            self.url = url
            sampleShape = try FittedStateMetadata.sampleShape(metadata, detector: detector, url: url)
            self.arrays = arrays
        }

        func doubles(_ name: String) throws -> [Double] {
            guard let entry = arrays[name] else {
                throw DetectorError.incompatibleCheckpoint(path: url.path, reason: "it has no '\(name)'")
            }
            return entry.values
        }

        func floats(_ name: String) throws -> [Float] { try doubles(name).map(Float.init) }

        func integers(_ name: String) throws -> [Int] {
            try doubles(name).map {
                guard let value = Int(exactly: $0) else {
                    throw DetectorError.incompatibleCheckpoint(path: url.path, reason: "'\(name)' holds a non-integer")
                }
                return value
            }
        }

        func integer(_ name: String) throws -> Int {
            let values = try integers(name)
            guard values.count == 1 else {
                throw DetectorError.incompatibleCheckpoint(path: url.path, reason: "'\(name)' is not a single value")
            }
            return values[0]
        }

        func scalar(_ name: String) throws -> Double {
            let values = try doubles(name)
            guard values.count == 1 else {
                throw DetectorError.incompatibleCheckpoint(path: url.path, reason: "'\(name)' is not a single value")
            }
            return values[0]
        }

    }
}
