import Datasets
import Foundation

/// k-nearest-neighbour distance (METHODS §3.6 "kNN / NN"), as PyOD's `KNN.decision_function`:
/// the score of `x` is the distance to its `k`-th nearest training sample (`largest`), or the mean
/// or median of the distances to its `k` nearest. Nothing is excluded at score time, so a training
/// sample scored again finds itself at distance 0.
///
/// Exact brute force over all training samples: each distance is `Σ (xᵢ − yᵢ)²` on the raw values
/// (no `‖x‖² + ‖y‖² − 2x·y` expansion, so no cancellation for close neighbours), with eight Float
/// lanes; queries are spread over all cores.
public struct KNearestNeighbors: AnomalyDetector, Sendable {
    /// How the `k` neighbour distances become one score (PyOD `method`).
    public enum Aggregation: String, Codable, Sendable {
        case largest, mean, median
    }

    /// Distance between samples.
    public enum Metric: String, Codable, Sendable {
        /// `‖x − y‖₂` (PyOD's default, Minkowski with p = 2).
        case euclidean
        /// `1 − x·y / (‖x‖‖y‖)` as scikit-learn's cosine distance; a zero vector has distance 1 to
        /// everything.
        case cosine
    }

    public struct Configuration: Codable, Sendable, Equatable {
        /// Number of neighbours (PyOD `n_neighbors`, default 5; METHODS uses 1).
        public var k: Int
        public var aggregation: Aggregation
        public var metric: Metric

        public init(k: Int = 5, aggregation: Aggregation = .largest, metric: Metric = .euclidean) {
            self.k = k
            self.aggregation = aggregation
            self.metric = metric
        }
    }

    public var configuration: Configuration
    /// Training samples, row-major; unit-normalised rows for the cosine metric.
    private var reference: [Float] = []
    private var referenceCount = 0
    private var sampleShape: [Int]?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    static let name = "KNearestNeighbors"

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let training = try DetectorInput.trainingSamples(data, detector: Self.name)
        guard configuration.k >= 1, configuration.k <= training.count else {
            throw DetectorError.invalidConfiguration(
                "\(Self.name): k = \(configuration.k) must be between 1 and the \(training.count) training samples")
        }
        reference = training.values
        referenceCount = training.count
        if configuration.metric == .cosine { Self.normaliseRows(&reference, width: training.featureCount) }
        sampleShape = training.sampleShape
    }

    public func score(_ samples: Samples, context: InferenceContext) throws -> [Float] {
        try DetectorInput.checkQuery(samples, fittedShape: sampleShape, detector: Self.name)
        let width = samples.featureCount
        let k = configuration.k
        let trainCount = referenceCount
        let metric = configuration.metric
        let aggregation = configuration.aggregation
        var queries = samples.values
        if metric == .cosine { Self.normaliseRows(&queries, width: width) }
        return reference.withUnsafeBufferPointer { reference in
            queries.withUnsafeBufferPointer { queries in
                let train = reference.baseAddress!
                let query = queries.baseAddress!
                return parallelFill(count: samples.count, repeating: Float(0), costPerItem: trainCount * width) {
                    range, out in
                    // The k smallest distances so far, ascending (squared for euclidean).
                    var nearest = [Float](repeating: .infinity, count: k)
                    nearest.withUnsafeMutableBufferPointer { nearest in
                        for sample in range {
                            for slot in 0..<k { nearest[slot] = .infinity }
                            let row = query + sample * width
                            for other in 0..<trainCount {
                                let distance =
                                    metric == .euclidean
                                    ? squaredDistance(row, train + other * width, width)
                                    : Self.cosineDistance(row, train + other * width, width)
                                guard distance < nearest[k - 1] else { continue }
                                var slot = k - 1
                                while slot > 0 && nearest[slot - 1] > distance {
                                    nearest[slot] = nearest[slot - 1]
                                    slot -= 1
                                }
                                nearest[slot] = distance
                            }
                            if metric == .euclidean {
                                for slot in 0..<k { nearest[slot] = nearest[slot].squareRoot() }
                            }
                            out[sample] = Self.aggregate(nearest, aggregation)
                        }
                    }
                }
            }
        }
    }

    private static func aggregate(_ ascending: UnsafeMutableBufferPointer<Float>, _ aggregation: Aggregation) -> Float {
        let k = ascending.count
        switch aggregation {
        case .largest:
            return ascending[k - 1]
        case .mean:
            return Float(ascending.reduce(0.0) { $0 + Double($1) } / Double(k))
        case .median:
            return k % 2 == 1
                ? ascending[k / 2] : Float((Double(ascending[k / 2 - 1]) + Double(ascending[k / 2])) / 2)
        }
    }

    /// `1 − a·b` for unit rows (accumulated in Double), clamped to [0, 2] as scikit-learn does.
    @inline(__always)
    private static func cosineDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var dot = 0.0
        for index in 0..<count { dot += Double(a[index]) * Double(b[index]) }
        return Float(min(max(1 - dot, 0), 2))
    }

    /// Scales every row to unit Euclidean norm (rows of zeros stay zero).
    private static func normaliseRows(_ values: inout [Float], width: Int) {
        values.withUnsafeMutableBufferPointer { x in
            for start in stride(from: 0, to: x.count, by: width) {
                var norm = 0.0
                for index in start..<(start + width) { norm += Double(x[index]) * Double(x[index]) }
                guard norm > 0 else { continue }
                let inverse = 1 / norm.squareRoot()
                for index in start..<(start + width) { x[index] = Float(Double(x[index]) * inverse) }
            }
        }
    }
}

extension KNearestNeighbors: PersistentDetector {
    public func saveFittedState(to url: URL) throws {
        guard let sampleShape else { throw DetectorError.notFitted(Self.name) }
        var arrays = FittedArrays()
        arrays.add("reference", reference, shape: [referenceCount, sampleShape.reduce(1, *)])
        try arrays.save(to: url, detector: Self.name, sampleShape: sampleShape, configuration: configuration)
    }

    public mutating func loadFittedState(from url: URL) throws {
        let stored = try FittedArrays.Stored(url: url, detector: Self.name)
        let values = try stored.floats("reference"), width = stored.sampleShape.reduce(1, *)
        guard values.count % width == 0, values.count / width >= configuration.k else {
            throw DetectorError.incompatibleCheckpoint(
                path: url.path, reason: "its reference set does not hold k = \(configuration.k) samples of \(width) values")
        }
        reference = values
        referenceCount = values.count / width
        sampleShape = stored.sampleShape
    }
}
