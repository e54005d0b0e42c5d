import Foundation
import Tensors
import TestSupport
import Testing

/// Helpers shared by the loss, optimizer, schedule and checkpoint tests: fixture files written by
/// scripts/fixtures/loss_fixtures.py, closeness checks.
enum LossTestSupport {
    /// Tests/LayersTests/Fixtures/losses
    static let fixtureDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/losses")

    /// The repository root (for scripts/).
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Decodes a fixture file; `snakeCaseKeys` maps the Python script's snake_case field names
    /// to camelCase properties.
    static func loadFixture<T: Decodable>(_ type: T.Type, _ name: String, snakeCaseKeys: Bool = false) throws -> T {
        let data = try Data(contentsOf: fixtureDirectory.appendingPathComponent(name))
        let decoder = JSONDecoder()
        if snakeCaseKeys { decoder.keyDecodingStrategy = .convertFromSnakeCase }
        return try decoder.decode(T.self, from: data)
    }

    /// Records an issue naming the first element where |actual − expected| > atol + rtol·|expected|.
    static func expectClose(
        _ actual: [Float], _ expected: [Float], atol: Float = 1e-6, rtol: Float = 1e-5, _ what: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard actual.count == expected.count else {
            Issue.record("\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
            return
        }
        for (i, (a, e)) in zip(actual, expected).enumerated() where !(Swift.abs(a - e) <= atol + rtol * Swift.abs(e)) {
            Issue.record("\(what): element \(i) is \(a), expected \(e)", sourceLocation: sourceLocation)
            return
        }
    }

    /// The finite-difference check of `TestSupport` (tolerances stated there).
    static func checkGradients(
        _ inputs: [Tensor], h: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2,
        sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor
    ) {
        TestSupport.checkGradients(inputs, h: h, atol: atol, rtol: rtol, sourceLocation: sourceLocation, f)
    }

    /// A deterministic random tensor.
    static func randomTensor(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
        TestSupport.randomTensor(shape, seed: seed, low: low, high: high)
    }

    /// A fresh empty directory under the system's temporary directory.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "anomalykit-layers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A tensor in a fixture file.
struct LossFixtureTensor: Decodable, Sendable {
    let shape: [Int]
    let data: [Float]
    var tensor: Tensor { Tensor(data, shape: shape) }
}
