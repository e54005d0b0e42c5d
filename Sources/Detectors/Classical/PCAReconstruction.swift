import Datasets
import Foundation

/// Principal-component outlier score, as PyOD's `PCA` detector (Shyu et al. 2003), with two
/// plainer variants.
///
/// Fitting standardises the features (PyOD's default; population standard deviation, scale 1 for
/// constant features), centres them, and eigendecomposes their covariance (divisor n − 1) in
/// Float64. Components are ordered by decreasing eigenvalue λⱼ, each signed so that its entry of
/// largest magnitude is positive (scikit-learn's `svd_flip`). `components` of them are kept; the
/// last `selectedComponents` kept ones (the smallest-variance directions) score. With `z` the
/// standardised sample, `μ` the training mean of `z` and `vⱼ` the unit components:
///
/// - `.pyod`: `Σⱼ ‖z − vⱼ‖ / rⱼ`, exactly PyOD's `decision_function` — the Euclidean distance from
///   `z` (not centred again) to each component vector taken as a point, divided by its explained
///   variance ratio `rⱼ = λⱼ / Σλ` (or by 1 when `weighted` is false).
/// - `.mahalanobis`: `Σⱼ ((z − μ)·vⱼ)² / λⱼ`, the minor-component statistic of Shyu et al.
/// - `.reconstructionError`: `‖(z − μ) − Σ_{kept j} ((z − μ)·vⱼ) vⱼ‖²`, the squared distance to the
///   subspace of the kept components (all zero when every component is kept).
///
/// Variances and ratios are floored at 1e-12 of the largest so a degenerate direction gives a
/// large finite score rather than an infinity.
public struct PCAReconstruction: AnomalyDetector, Sendable {
    public enum Scoring: String, Codable, Sendable {
        case pyod, mahalanobis, reconstructionError
    }

    public struct Configuration: Codable, Sendable, Equatable {
        /// Components kept: a count; `nil` keeps `min(n, d)` (PyOD `n_components=None`).
        public var components: Int?
        /// Alternatively, keep the fewest leading components whose explained variance ratio
        /// exceeds this fraction (0 < fraction < 1, scikit-learn's float `n_components`).
        public var varianceFraction: Double?
        /// How many of the last kept components score (`nil`: all kept; PyOD `n_selected_components`).
        public var selectedComponents: Int?
        /// Divide by the explained variance ratio (`.pyod` scoring; PyOD `weighted`).
        public var weighted: Bool
        /// Standardise features with the training mean and standard deviation (PyOD `standardization`).
        public var standardize: Bool
        public var scoring: Scoring

        public init(
            components: Int? = nil, varianceFraction: Double? = nil, selectedComponents: Int? = nil,
            weighted: Bool = true, standardize: Bool = true, scoring: Scoring = .pyod
        ) {
            self.components = components
            self.varianceFraction = varianceFraction
            self.selectedComponents = selectedComponents
            self.weighted = weighted
            self.standardize = standardize
            self.scoring = scoring
        }
    }

    /// What `fit` learned.
    public struct Model: Sendable, Equatable {
        /// Standardisation (identity when `standardize` is false).
        public var scaler: FeatureScaler?
        /// Mean of the standardised training data.
        public var mean: [Double]
        /// Kept components as rows, `[kept, d]`, by decreasing variance.
        public var components: [Double]
        /// Their variances λⱼ (covariance eigenvalues, divisor n − 1).
        public var explainedVariance: [Double]
        /// λⱼ / Σ λ over all eigenvalues.
        public var explainedVarianceRatio: [Double]
        /// Index of the first scoring component (the last `selected` kept ones score).
        public var firstSelected: Int
    }

    public var configuration: Configuration
    public private(set) var model: Model?
    private var sampleShape: [Int]?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    static let name = "PCAReconstruction"

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let samples = try DetectorInput.trainingSamples(data, detector: Self.name)
        let rows = samples.count
        let width = samples.featureCount
        guard rows >= 2 else {
            throw DetectorError.invalidConfiguration("\(Self.name): needs at least 2 training samples, got \(rows)")
        }
        var values = samples.doubleValues
        var scaler: FeatureScaler?
        if configuration.standardize {
            let fitted = FeatureScaler(fitting: values, rows: rows, columns: width)
            fitted.apply(&values)
            scaler = fitted
        }
        let (mean, covariance) = Self.meanAndCovariance(values, rows: rows, width: width)
        let eigen = SymmetricEigen(symmetric: covariance, size: width)
        // The covariance is positive semi-definite: negative eigenvalues are rounding.
        let variances = eigen.values.map { max($0, 0) }
        let total = variances.reduce(0, +)
        let ratios = variances.map { total > 0 ? $0 / total : 0 }
        let available = min(rows, width)

        var kept = available
        if let fraction = configuration.varianceFraction {
            guard fraction > 0, fraction < 1 else {
                throw DetectorError.invalidConfiguration(
                    "\(Self.name): varianceFraction \(fraction) must lie in (0, 1)")
            }
            // scikit-learn: searchsorted(cumsum(ratio), fraction, side="right") + 1.
            var cumulative = 0.0
            kept = 1
            for index in 0..<available {
                cumulative += ratios[index]
                if cumulative <= fraction { kept = index + 2 } else { break }
            }
            kept = min(kept, available)
        } else if let components = configuration.components {
            guard components >= 1, components <= available else {
                throw DetectorError.invalidConfiguration(
                    "\(Self.name): components = \(components) must be between 1 and min(samples, features) = \(available)"
                )
            }
            kept = components
        }
        let selected = configuration.selectedComponents ?? kept
        guard selected >= 1, selected <= kept else {
            throw DetectorError.invalidConfiguration(
                "\(Self.name): selectedComponents = \(selected) must be between 1 and the \(kept) kept components")
        }
        if configuration.scoring == .reconstructionError && kept == width {
            throw DetectorError.invalidConfiguration(
                "\(Self.name): reconstructionError needs fewer components than the \(width) features; set components or varianceFraction"
            )
        }

        // scikit-learn's sign convention: the largest-magnitude entry of each component is positive.
        var components = Array(eigen.vectors[0..<(kept * width)])
        for component in 0..<kept {
            let row = component * width
            var largest = row
            for index in row..<(row + width) where abs(components[index]) > abs(components[largest]) {
                largest = index
            }
            if components[largest] < 0 {
                for index in row..<(row + width) { components[index] = -components[index] }
            }
        }
        model = Model(
            scaler: scaler, mean: mean, components: components,
            explainedVariance: Array(variances[0..<kept]), explainedVarianceRatio: Array(ratios[0..<kept]),
            firstSelected: kept - selected)
        sampleShape = samples.sampleShape
    }

    public func score(_ samples: Samples, context: InferenceContext) throws -> [Float] {
        try DetectorInput.checkQuery(samples, fittedShape: sampleShape, detector: Self.name)
        let model = model!
        let width = samples.featureCount
        var values = samples.doubleValues
        model.scaler?.apply(&values)
        let kept = model.explainedVariance.count
        let scoring = configuration.scoring
        // Per-component divisors for the two weighted scores, floored (see the type's comment).
        let divisors: [Double]
        switch scoring {
        case .pyod:
            let weights = configuration.weighted ? model.explainedVarianceRatio : Array(repeating: 1, count: kept)
            let floor = 1e-12 * (weights.max() ?? 1)
            divisors = weights.map { max($0, floor) }
        case .mahalanobis:
            let floor = 1e-12 * max(model.explainedVariance.max() ?? 1, Double.leastNormalMagnitude)
            divisors = model.explainedVariance.map { max($0, floor) }
        case .reconstructionError:
            divisors = []
        }
        return values.withUnsafeBufferPointer { x in
            model.components.withUnsafeBufferPointer { v in
                model.mean.withUnsafeBufferPointer { mean in
                    parallelFill(count: samples.count, repeating: Float(0), costPerItem: (kept + 1) * width) {
                        range, out in
                        var buffers = [Double](repeating: 0, count: 2 * width)
                        buffers.withUnsafeMutableBufferPointer { buffers in
                            let centred = buffers.baseAddress!
                            let residual = buffers.baseAddress! + width
                            for sample in range {
                                let z = x.baseAddress! + sample * width
                                var score = 0.0
                                switch scoring {
                                case .pyod:
                                    for component in model.firstSelected..<kept {
                                        let distance = squaredDistance(z, v.baseAddress! + component * width, width)
                                        score += distance.squareRoot() / divisors[component]
                                    }
                                case .mahalanobis:
                                    for index in 0..<width { centred[index] = z[index] - mean[index] }
                                    for component in model.firstSelected..<kept {
                                        let projection = dotProduct(centred, v.baseAddress! + component * width, width)
                                        score += projection * projection / divisors[component]
                                    }
                                case .reconstructionError:
                                    for index in 0..<width { centred[index] = z[index] - mean[index] }
                                    residual.update(from: centred, count: width)
                                    for component in 0..<kept {
                                        let row = v.baseAddress! + component * width
                                        let projection = dotProduct(centred, row, width)
                                        for index in 0..<width { residual[index] -= projection * row[index] }
                                    }
                                    score = dotProduct(residual, residual, width)
                                }
                                out[sample] = Float(score)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Column means and the covariance (divisor n − 1) of a row-major matrix.
    static func meanAndCovariance(_ values: [Double], rows: Int, width: Int) -> (mean: [Double], covariance: [Double]) {
        var mean = [Double](repeating: 0, count: width)
        for row in 0..<rows {
            for column in 0..<width { mean[column] += values[row * width + column] }
        }
        for column in 0..<width { mean[column] /= Double(rows) }
        var covariance = [Double](repeating: 0, count: width * width)
        var centredRow = [Double](repeating: 0, count: width)
        values.withUnsafeBufferPointer { x in
            covariance.withUnsafeMutableBufferPointer { c in
                centredRow.withUnsafeMutableBufferPointer { centred in
                    for row in 0..<rows {
                        for column in 0..<width { centred[column] = x[row * width + column] - mean[column] }
                        for i in 0..<width {
                            let ci = centred[i]
                            for j in 0...i { c[i * width + j] += ci * centred[j] }
                        }
                    }
                }
                let divisor = Double(max(rows - 1, 1))
                for i in 0..<width {
                    for j in 0...i {
                        c[i * width + j] /= divisor
                        c[j * width + i] = c[i * width + j]
                    }
                }
            }
        }
        return (mean, covariance)
    }
}

extension PCAReconstruction: PersistentDetector {
    public func saveFittedState(to url: URL) throws {
        guard let sampleShape, let model else { throw DetectorError.notFitted(Self.name) }
        let width = sampleShape.reduce(1, *)
        var arrays = FittedArrays()
        if let scaler = model.scaler {
            arrays.add("scaler.mean", scaler.mean)
            arrays.add("scaler.scale", scaler.scale)
        }
        arrays.add("mean", model.mean)
        arrays.add("components", model.components, shape: [model.explainedVariance.count, width])
        arrays.add("explainedVariance", model.explainedVariance)
        arrays.add("explainedVarianceRatio", model.explainedVarianceRatio)
        arrays.add("firstSelected", scalar: Double(model.firstSelected))
        try arrays.save(to: url, detector: Self.name, sampleShape: sampleShape, configuration: configuration)
    }

    public mutating func loadFittedState(from url: URL) throws {
        let stored = try FittedArrays.Stored(url: url, detector: Self.name)
        let width = stored.sampleShape.reduce(1, *)
        let scaler = stored.arrays["scaler.mean"] == nil
            ? nil : FeatureScaler(mean: try stored.doubles("scaler.mean"), scale: try stored.doubles("scaler.scale"))
        let loaded = Model(
            scaler: scaler, mean: try stored.doubles("mean"), components: try stored.doubles("components"),
            explainedVariance: try stored.doubles("explainedVariance"),
            explainedVarianceRatio: try stored.doubles("explainedVarianceRatio"),
            firstSelected: try stored.integer("firstSelected"))
        let kept = loaded.explainedVariance.count
        guard loaded.mean.count == width, loaded.components.count == kept * width,
            loaded.explainedVarianceRatio.count == kept, (0...kept).contains(loaded.firstSelected),
            scaler.map({ $0.mean.count == width && $0.scale.count == width }) ?? true
        else { throw DetectorError.incompatibleCheckpoint(path: url.path, reason: "its PCA basis is malformed") }
        model = loaded
        sampleShape = stored.sampleShape
    }
}
