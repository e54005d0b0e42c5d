import Datasets
import Foundation
import Tensors

/// Gaussian kernel density estimate (METHODS §3.6 "KDE"), as scikit-learn's `KernelDensity`:
///
///     log p̂(x) = log Σᵢ exp(−‖x − xᵢ‖² / 2h²) − log n − (d/2)·log(2π) − d·log h,
///
/// computed exactly (every training sample, log-sum-exp in Float64). The score is `−log p̂(x)`.
///
/// The bandwidth `h` is either fixed or chosen, as in the Deep SAD baseline, by k-fold
/// cross-validation (contiguous folds in sample order, like scikit-learn's `GridSearchCV(cv=5)`):
/// the grid value with the highest mean held-out log-likelihood wins, the first one on ties.
public struct KernelDensity: AnomalyDetector, Sendable {
    public struct Configuration: Codable, Sendable, Equatable {
        /// A fixed bandwidth; `nil` selects one from `bandwidthGrid` by cross-validation.
        public var bandwidth: Double?
        /// Candidate bandwidths for cross-validation (default: METHODS' `2^{0.5..5}`, 10 values).
        public var bandwidthGrid: [Double]
        /// Folds of the cross-validation.
        public var folds: Int

        /// `count` values log-spaced between `2^lowExponent` and `2^highExponent` (NumPy's
        /// `logspace(low, high, count, base=2)`).
        public static func logSpacedGrid(from lowExponent: Double = 0.5, to highExponent: Double = 5, count: Int = 10)
            -> [Double]
        {
            guard count > 1 else { return [pow(2, lowExponent)] }
            return (0..<count).map {
                pow(2, lowExponent + (highExponent - lowExponent) * Double($0) / Double(count - 1))
            }
        }

        public init(bandwidth: Double? = nil, bandwidthGrid: [Double] = logSpacedGrid(), folds: Int = 5) {
            self.bandwidth = bandwidth
            self.bandwidthGrid = bandwidthGrid
            self.folds = folds
        }
    }

    public var configuration: Configuration
    /// The bandwidth in use after `fit` (the fixed one, or the cross-validated choice).
    public private(set) var selectedBandwidth: Double?
    /// Mean held-out log-likelihood per grid value (empty for a fixed bandwidth).
    public private(set) var crossValidationScores: [Double] = []
    private var training: [Double] = []
    private var trainingCount = 0
    private var sampleShape: [Int]?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    static let name = "KernelDensity"

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let samples = try DetectorInput.trainingSamples(data, detector: Self.name)
        let values = samples.doubleValues
        if let bandwidth = configuration.bandwidth {
            guard bandwidth > 0, bandwidth.isFinite else {
                throw DetectorError.invalidConfiguration("\(Self.name): bandwidth \(bandwidth) must be positive")
            }
            selectedBandwidth = bandwidth
            crossValidationScores = []
        } else {
            let grid = configuration.bandwidthGrid
            guard !grid.isEmpty, grid.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw DetectorError.invalidConfiguration(
                    "\(Self.name): bandwidthGrid \(grid) must hold positive bandwidths")
            }
            guard configuration.folds >= 2, configuration.folds <= samples.count else {
                throw DetectorError.invalidConfiguration(
                    "\(Self.name): folds = \(configuration.folds) must be between 2 and the \(samples.count) training samples"
                )
            }
            crossValidationScores = Self.crossValidate(
                values, rows: samples.count, width: samples.featureCount, grid: grid,
                folds: configuration.folds, progress: context.progress)
            var best = 0
            for candidate in grid.indices where crossValidationScores[candidate] > crossValidationScores[best] {
                best = candidate
            }
            selectedBandwidth = grid[best]
            context.logger.debug("\(Self.name): bandwidth \(grid[best]) selected by \(configuration.folds)-fold CV")
        }
        training = values
        trainingCount = samples.count
        sampleShape = samples.sampleShape
    }

    public func score(_ samples: Samples, context: InferenceContext) throws -> [Float] {
        try DetectorInput.checkQuery(samples, fittedShape: sampleShape, detector: Self.name)
        let bandwidth = selectedBandwidth!
        let width = samples.featureCount
        let count = trainingCount
        let queries = samples.doubleValues
        let normaliser = Self.logNormaliser(bandwidth: bandwidth, width: width, count: count)
        let scale = -0.5 / (bandwidth * bandwidth)
        return training.withUnsafeBufferPointer { training in
            queries.withUnsafeBufferPointer { queries in
                parallelFill(count: samples.count, repeating: Float(0), costPerItem: count * (width + 8)) {
                    range, out in
                    var exponents = [Double](repeating: 0, count: count)
                    exponents.withUnsafeMutableBufferPointer { exponents in
                        for sample in range {
                            let row = queries.baseAddress! + sample * width
                            for other in 0..<count {
                                exponents[other] =
                                    scale * squaredDistance(row, training.baseAddress! + other * width, width)
                            }
                            out[sample] = Float(-(logSumExp(exponents.baseAddress!, count) + normaliser))
                        }
                    }
                }
            }
        }
    }

    /// `−log n − (d/2)·log(2π) − d·log h`: the Gaussian kernel's normalising constant over `n` samples.
    static func logNormaliser(bandwidth: Double, width: Int, count: Int) -> Double {
        -log(Double(count)) - 0.5 * Double(width) * log(2 * Double.pi) - Double(width) * log(bandwidth)
    }

    /// Mean held-out log-likelihood of each bandwidth over `folds` contiguous folds (scikit-learn's
    /// `KFold`: the first `rows % folds` folds hold one extra sample). Each held-out sample's
    /// distances are computed once and reused for every bandwidth; the per-sample log-likelihoods
    /// are summed in sample order, so the result does not depend on the number of threads.
    static func crossValidate(
        _ values: [Double], rows: Int, width: Int, grid: [Double], folds: Int, progress: any ProgressReporter
    ) -> [Double] {
        var foldOf = [Int](repeating: 0, count: rows)
        var foldStart = [Int]()
        var foldSizes = [Int]()
        var start = 0
        for fold in 0..<folds {
            let size = rows / folds + (fold < rows % folds ? 1 : 0)
            foldStart.append(start)
            foldSizes.append(size)
            for index in start..<(start + size) { foldOf[index] = fold }
            start += size
        }
        let scales = grid.map { -0.5 / ($0 * $0) }
        progress.begin("KernelDensity: bandwidth cross-validation", total: rows)
        let finished = ProgressCounter(progress)
        // heldOut[i * grid.count + g]: log-likelihood of sample i under bandwidth g, fitted without i's fold.
        var heldOut = [Double](repeating: 0, count: rows * grid.count)
        heldOut.withUnsafeMutableBufferPointer { out in
            values.withUnsafeBufferPointer { x in
                CPUThreads.parallelRanges(rows, costPerItem: rows * (width + grid.count)) { first, last in
                    let range = first..<last
                    var distances = [Double](repeating: 0, count: rows)
                    var exponents = [Double](repeating: 0, count: rows)
                    distances.withUnsafeMutableBufferPointer { distances in
                        exponents.withUnsafeMutableBufferPointer { exponents in
                            for sample in range {
                                let fold = foldOf[sample]
                                let row = x.baseAddress! + sample * width
                                var used = 0
                                for other in 0..<rows where foldOf[other] != fold {
                                    distances[used] = squaredDistance(row, x.baseAddress! + other * width, width)
                                    used += 1
                                }
                                for (candidate, bandwidth) in grid.enumerated() {
                                    for index in 0..<used { exponents[index] = scales[candidate] * distances[index] }
                                    out[sample * grid.count + candidate] =
                                        logSumExp(exponents.baseAddress!, used)
                                        + logNormaliser(bandwidth: bandwidth, width: width, count: used)
                                }
                                finished.advance()
                            }
                        }
                    }
                }
            }
        }
        progress.end()
        return grid.indices.map { candidate in
            var total = 0.0
            for fold in 0..<folds {
                var foldLikelihood = 0.0
                for sample in foldStart[fold]..<(foldStart[fold] + foldSizes[fold]) {
                    foldLikelihood += heldOut[sample * grid.count + candidate]
                }
                total += foldLikelihood
            }
            return total / Double(folds)
        }
    }
}

extension KernelDensity: PersistentDetector {
    public func saveFittedState(to url: URL) throws {
        guard let sampleShape, let selectedBandwidth else { throw DetectorError.notFitted(Self.name) }
        var arrays = FittedArrays()
        arrays.add("training", training, shape: [trainingCount, sampleShape.reduce(1, *)])
        arrays.add("bandwidth", scalar: selectedBandwidth)
        arrays.add("crossValidationScores", crossValidationScores)
        try arrays.save(to: url, detector: Self.name, sampleShape: sampleShape, configuration: configuration)
    }

    public mutating func loadFittedState(from url: URL) throws {
        let stored = try FittedArrays.Stored(url: url, detector: Self.name)
        let values = try stored.doubles("training"), width = stored.sampleShape.reduce(1, *)
        let bandwidth = try stored.scalar("bandwidth")
        guard !values.isEmpty, values.count % width == 0, bandwidth > 0, bandwidth.isFinite else {
            throw DetectorError.incompatibleCheckpoint(path: url.path, reason: "its kernel bank or bandwidth is malformed")
        }
        training = values
        trainingCount = values.count / width
        selectedBandwidth = bandwidth
        crossValidationScores = try stored.doubles("crossValidationScores")
        sampleShape = stored.sampleShape
    }
}
