import Foundation
import Testing

/// Reference values from `scripts/fixtures/metrics_fixtures.py` (scikit-learn and NumPy).
struct MetricsFixtures: Decodable {
    struct PrecisionRecallF1: Decodable, Sendable {
        let precision: Double
        let recall: Double
        let f1: Double
    }

    struct ROC: Decodable, Sendable {
        let fpr: [Double]
        let tpr: [Double]
        let thresholdsAfterInfinity: [Double]
    }

    struct PR: Decodable, Sendable {
        let precision: [Double]
        let recall: [Double]
        let thresholds: [Double]
    }

    struct F1AtThreshold: Decodable, Sendable {
        let threshold: Double
        let anomaly: PrecisionRecallF1
        let normal: PrecisionRecallF1
    }

    struct ProtocolScore: Decodable, Sendable {
        let anomalyRatio: Double?
        let threshold: Double?
        let normalityThreshold: Double?
        let precision: Double
        let recall: Double
        let f1: Double
    }

    struct Protocols: Decodable, Sendable {
        let dagmm: [ProtocolScore]
        let goad: ProtocolScore
        let drocc: ProtocolScore
    }

    struct PrecisionAtN: Decodable, Sendable {
        let n: Int?
        let value: Double
    }

    struct Percentile: Decodable, Sendable {
        let q: Double
        let value: Double
    }

    struct ContaminationThreshold: Decodable, Sendable {
        let contamination: Double
        let threshold: Double
    }

    struct Case: Decodable, Sendable, CustomTestStringConvertible {
        let name: String
        let scores: [Double]
        let labels: [Int]
        let auroc: Double
        let averagePrecision: Double
        let auprTrapezoidal: Double
        let rocCurve: ROC
        let rocCurveAllThresholds: ROC
        let prCurve: PR
        let prCurveDropped: PR
        let f1AtThresholds: [F1AtThreshold]
        let f1Protocols: Protocols
        let precisionAtN: [PrecisionAtN]
        let percentiles: [Percentile]
        let contaminationThresholds: [ContaminationThreshold]

        var testDescription: String { name }
    }

    let sklearnVersion: String
    let cases: [Case]

    static let url = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("Fixtures/metrics.json")

    static func load() throws -> MetricsFixtures {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(MetricsFixtures.self, from: Data(contentsOf: url))
    }

    static func cases() throws -> [Case] { try load().cases }
}

/// The agreement with scikit-learn the issue asks for.
let sklearnTolerance = 1e-6

func expectClose(
    _ actual: Double, _ expected: Double, _ what: String, tolerance: Double = sklearnTolerance,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(
        abs(actual - expected) <= tolerance, "\(what): got \(actual), expected \(expected)",
        sourceLocation: sourceLocation)
}

func expectClose(
    _ actual: [Double], _ expected: [Double], _ what: String, tolerance: Double = sklearnTolerance,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record(
            "\(what): got \(actual.count) values, expected \(expected.count)\n got \(actual)\n expected \(expected)",
            sourceLocation: sourceLocation)
        return
    }
    let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
    #expect(
        worst <= tolerance, "\(what): largest difference \(worst)\n got \(actual)\n expected \(expected)",
        sourceLocation: sourceLocation)
}
