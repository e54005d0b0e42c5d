import Datasets
import Foundation
import Tensors

/// Gaussian mixture density with full covariances, fitted by EM, as scikit-learn's
/// `GaussianMixture` (the same defaults: one component, `reg_covar` 1e-6, tolerance 1e-3 on the
/// change of the mean log-likelihood, at most 100 iterations, responsibilities initialised from
/// k-means). The score is the negative log-likelihood `−log Σₖ πₖ 𝒩(x | μₖ, Σₖ)`.
///
/// All arithmetic is Float64; each covariance is factored by Cholesky, so
/// `log 𝒩(x | μ, Σ) = −½(d·log 2π + ‖L⁻¹(x − μ)‖²) − Σᵢ log Lᵢᵢ`. Sums over samples run over
/// fixed blocks of rows, reduced in block order, so results do not depend on the thread count.
public struct GaussianMixture: AnomalyDetector, Sendable {
    /// How the EM responsibilities start.
    public enum Initialization: String, Codable, Sendable {
        /// Hard labels of Lloyd's k-means from k-means++ seeding (scikit-learn `init_params="kmeans"`).
        case kMeans
        /// Hard labels of the nearest k-means++ seed, without Lloyd iterations (cheaper).
        case kMeansPlusPlus
    }

    public struct Configuration: Codable, Sendable, Equatable {
        /// Mixture components (scikit-learn `n_components`).
        public var components: Int
        /// Added to every covariance diagonal (scikit-learn `reg_covar`).
        public var covarianceRegularization: Double
        /// EM stops when the mean log-likelihood changes by less than this (scikit-learn `tol`).
        public var tolerance: Double
        public var maxIterations: Int
        public var initialization: Initialization

        public init(
            components: Int = 1, covarianceRegularization: Double = 1e-6, tolerance: Double = 1e-3,
            maxIterations: Int = 100, initialization: Initialization = .kMeans
        ) {
            self.components = components
            self.covarianceRegularization = covarianceRegularization
            self.tolerance = tolerance
            self.maxIterations = maxIterations
            self.initialization = initialization
        }
    }

    /// The fitted mixture.
    public struct Model: Sendable, Equatable {
        public var weights: [Double]
        /// Means, `[components, d]`.
        public var means: [Double]
        /// Lower Cholesky factors of the covariances, `[components, d, d]`.
        public var choleskyFactors: [Double]
        /// Mean training log-likelihood at the last EM step.
        public var logLikelihood: Double
        public var iterations: Int
        public var converged: Bool
    }

    public var configuration: Configuration
    public private(set) var model: Model?
    private var sampleShape: [Int]?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    static let name = "GaussianMixture"
    /// Rows per block of the deterministic parallel sums.
    static let blockRows = 512

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let samples = try DetectorInput.trainingSamples(data, detector: Self.name)
        let rows = samples.count
        let width = samples.featureCount
        let k = configuration.components
        guard k >= 1, k <= rows else {
            throw DetectorError.invalidConfiguration(
                "\(Self.name): components = \(k) must be between 1 and the \(rows) training samples")
        }
        guard configuration.covarianceRegularization >= 0, configuration.maxIterations >= 1 else {
            throw DetectorError.invalidConfiguration(
                "\(Self.name): covarianceRegularization must be ≥ 0 and maxIterations ≥ 1")
        }
        let x = samples.doubleValues
        var generator = SeededGenerator(seed: context.seed)
        let labels = KMeans.labels(
            x, rows: rows, width: width, clusters: k, lloyd: configuration.initialization == .kMeans,
            generator: &generator)
        var responsibilities = [Double](repeating: 0, count: rows * k)
        for row in 0..<rows { responsibilities[row * k + labels[row]] = 1 }

        var model = try maximization(x, rows: rows, width: width, responsibilities: responsibilities)
        var logLikelihood = -Double.infinity
        context.progress.begin("GaussianMixture: EM", total: configuration.maxIterations)
        for iteration in 1...configuration.maxIterations {
            let previous = logLikelihood
            logLikelihood = Self.expectation(x, rows: rows, model: model, responsibilities: &responsibilities)
            model = try maximization(x, rows: rows, width: width, responsibilities: responsibilities)
            model.iterations = iteration
            context.progress.update(completed: iteration, metrics: ["logLikelihood": logLikelihood])
            if abs(logLikelihood - previous) < configuration.tolerance {
                model.converged = true
                break
            }
        }
        context.progress.end()
        model.logLikelihood = logLikelihood
        if !model.converged {
            context.logger.warning(
                "\(Self.name): EM did not converge in \(configuration.maxIterations) iterations")
        }
        self.model = model
        sampleShape = samples.sampleShape
    }

    public func score(_ samples: Samples, context: InferenceContext) throws -> [Float] {
        try DetectorInput.checkQuery(samples, fittedShape: sampleShape, detector: Self.name)
        let model = model!
        let k = model.weights.count
        var logDensities = [Double](repeating: 0, count: samples.count * k)
        Self.weightedLogDensities(samples.doubleValues, rows: samples.count, model: model, into: &logDensities)
        return logDensities.withUnsafeBufferPointer { logDensities in
            (0..<samples.count).map { Float(-logSumExp(logDensities.baseAddress! + $0 * k, k)) }
        }
    }

    // MARK: EM steps

    /// E-step: responsibilities from the current model; returns the mean log-likelihood.
    static func expectation(_ x: [Double], rows: Int, model: Model, responsibilities: inout [Double]) -> Double {
        let k = model.weights.count
        weightedLogDensities(x, rows: rows, model: model, into: &responsibilities)
        var total = 0.0
        responsibilities.withUnsafeMutableBufferPointer { r in
            for row in 0..<rows {
                let entries = r.baseAddress! + row * k
                let normaliser = logSumExp(entries, k)
                total += normaliser
                for component in 0..<k { entries[component] = exp(entries[component] - normaliser) }
            }
        }
        return total / Double(rows)
    }

    /// M-step: weights, means and regularised covariances from responsibilities, as
    /// scikit-learn (`nₖ = Σᵢ rᵢₖ + 10ε`).
    func maximization(_ x: [Double], rows: Int, width: Int, responsibilities: [Double]) throws -> Model {
        let k = configuration.components
        var counts = [Double](repeating: 10 * Double.ulpOfOne, count: k)
        var means = [Double](repeating: 0, count: k * width)
        means.withUnsafeMutableBufferPointer { means in
            x.withUnsafeBufferPointer { x in
                responsibilities.withUnsafeBufferPointer { responsibilities in
                    for row in 0..<rows {
                        for component in 0..<k {
                            let r = responsibilities[row * k + component]
                            guard r != 0 else { continue }
                            counts[component] += r
                            for column in 0..<width { means[component * width + column] += r * x[row * width + column] }
                        }
                    }
                }
            }
            for component in 0..<k {
                for column in 0..<width { means[component * width + column] /= counts[component] }
            }
        }
        // Scatter matrices (lower triangles), one partial sum per block of rows, reduced in order.
        let blocks = (rows + Self.blockRows - 1) / Self.blockRows
        let matrix = width * width
        var partial = [Double](repeating: 0, count: blocks * k * matrix)
        partial.withUnsafeMutableBufferPointer { partial in
            x.withUnsafeBufferPointer { x in
                responsibilities.withUnsafeBufferPointer { r in
                    means.withUnsafeBufferPointer { means in
                        CPUThreads.parallelRanges(blocks, costPerItem: Self.blockRows * k * matrix) { first, last in
                            for block in first..<last {
                                var centred = [Double](repeating: 0, count: width)
                                centred.withUnsafeMutableBufferPointer { centred in
                                    let rowRange = (block * Self.blockRows)..<min(rows, (block + 1) * Self.blockRows)
                                    for component in 0..<k {
                                        let scatter = partial.baseAddress! + (block * k + component) * matrix
                                        let mean = means.baseAddress! + component * width
                                        for row in rowRange {
                                            let weight = r[row * k + component]
                                            guard weight != 0 else { continue }
                                            for column in 0..<width {
                                                centred[column] = x[row * width + column] - mean[column]
                                            }
                                            for i in 0..<width {
                                                let wi = weight * centred[i]
                                                let line = scatter + i * width
                                                for j in 0...i { line[j] += wi * centred[j] }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var factors = [Double](repeating: 0, count: k * matrix)
        for component in 0..<k {
            var covariance = [Double](repeating: 0, count: matrix)
            for block in 0..<blocks {
                let base = (block * k + component) * matrix
                for i in 0..<width {
                    for j in 0...i { covariance[i * width + j] += partial[base + i * width + j] }
                }
            }
            for i in 0..<width {
                for j in 0...i {
                    covariance[i * width + j] /= counts[component]
                    covariance[j * width + i] = covariance[i * width + j]
                }
                covariance[i * width + i] += configuration.covarianceRegularization
            }
            guard let factor = choleskyFactor(covariance, size: width) else {
                throw DetectorError.invalidConfiguration(
                    "\(Self.name): the covariance of component \(component) is not positive definite; increase covarianceRegularization (now \(configuration.covarianceRegularization)) or use fewer components"
                )
            }
            for index in 0..<matrix { factors[component * matrix + index] = factor[index] }
        }
        return Model(
            weights: counts.map { $0 / Double(rows) }, means: means, choleskyFactors: factors,
            logLikelihood: -.infinity, iterations: 0, converged: false)
    }

    /// `log πₖ + log 𝒩(xᵢ | μₖ, Σₖ)` for every row and component, row-major `[rows, k]`.
    static func weightedLogDensities(_ x: [Double], rows: Int, model: Model, into output: inout [Double]) {
        let k = model.weights.count
        let width = model.means.count / k
        let matrix = width * width
        let logWeights = model.weights.map { log($0) }
        // −½ d log 2π − Σ log Lᵢᵢ per component.
        let constants = (0..<k).map { component -> Double in
            var logDeterminant = 0.0
            for i in 0..<width { logDeterminant += log(model.choleskyFactors[component * matrix + i * width + i]) }
            return -0.5 * Double(width) * log(2 * Double.pi) - logDeterminant
        }
        output.withUnsafeMutableBufferPointer { output in
            x.withUnsafeBufferPointer { x in
                model.means.withUnsafeBufferPointer { means in
                    model.choleskyFactors.withUnsafeBufferPointer { factors in
                        CPUThreads.parallelRanges(rows, costPerItem: k * matrix) { first, last in
                            let range = first..<last
                            var solved = [Double](repeating: 0, count: width)
                            solved.withUnsafeMutableBufferPointer { y in
                                for row in range {
                                    for component in 0..<k {
                                        // Forward substitution: L y = x − μ.
                                        let l = factors.baseAddress! + component * matrix
                                        var squaredNorm = 0.0
                                        for i in 0..<width {
                                            var value = x[row * width + i] - means[component * width + i]
                                            for j in 0..<i { value -= l[i * width + j] * y[j] }
                                            y[i] = value / l[i * width + i]
                                            squaredNorm += y[i] * y[i]
                                        }
                                        output[row * k + component] =
                                            logWeights[component] + constants[component] - 0.5 * squaredNorm
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Lloyd's k-means with k-means++ seeding (greedy, `2 + ⌊ln k⌋` candidates per seed, as
/// scikit-learn), used to initialise the Gaussian mixture.
enum KMeans {
    /// Cluster index of every row.
    static func labels(
        _ x: [Double], rows: Int, width: Int, clusters k: Int, lloyd: Bool, maxIterations: Int = 300,
        generator: inout SeededGenerator
    ) -> [Int] {
        var centres = seeds(x, rows: rows, width: width, clusters: k, generator: &generator)
        var labels = assign(x, rows: rows, width: width, centres: centres)
        guard lloyd, k > 1 else { return labels }
        // Convergence as scikit-learn: squared centre shift ≤ 1e-4 × mean feature variance.
        let (_, covariance) = PCAReconstruction.meanAndCovariance(x, rows: rows, width: width)
        let meanVariance = (0..<width).reduce(0.0) { $0 + covariance[$1 * width + $1] } / Double(width)
        let tolerance = 1e-4 * meanVariance * Double(rows - 1) / Double(rows)
        for _ in 0..<maxIterations {
            var sums = [Double](repeating: 0, count: k * width)
            var counts = [Int](repeating: 0, count: k)
            sums.withUnsafeMutableBufferPointer { sums in
                x.withUnsafeBufferPointer { x in
                    for row in 0..<rows {
                        counts[labels[row]] += 1
                        for column in 0..<width { sums[labels[row] * width + column] += x[row * width + column] }
                    }
                }
            }
            var shift = 0.0
            for cluster in 0..<k where counts[cluster] > 0 {
                for column in 0..<width {
                    let updated = sums[cluster * width + column] / Double(counts[cluster])
                    let moved = updated - centres[cluster * width + column]
                    shift += moved * moved
                    centres[cluster * width + column] = updated
                }
            }
            let updatedLabels = assign(x, rows: rows, width: width, centres: centres)
            let unchanged = updatedLabels == labels
            labels = updatedLabels
            if unchanged || shift <= tolerance { break }
        }
        return labels
    }

    /// k-means++ seeds, `[k, width]`.
    static func seeds(_ x: [Double], rows: Int, width: Int, clusters k: Int, generator: inout SeededGenerator)
        -> [Double]
    {
        var centres = [Double]()
        centres.reserveCapacity(k * width)
        let first = generator.nextInt(below: rows)
        centres += x[(first * width)..<((first + 1) * width)]
        var closest = distancesTo(first, x, rows: rows, width: width)
        let trials = 2 + Int(log(Double(k)))
        for _ in 1..<max(k, 1) {
            let potential = closest.reduce(0, +)
            var bestCandidate = -1
            var bestPotential = Double.infinity
            var bestDistances = closest
            for _ in 0..<trials {
                // Sample a row with probability proportional to its squared distance to the seeds.
                let target = generator.nextDouble() * potential
                var cumulative = 0.0
                var candidate = rows - 1
                for row in 0..<rows {
                    cumulative += closest[row]
                    if cumulative > target {
                        candidate = row
                        break
                    }
                }
                var distances = distancesTo(candidate, x, rows: rows, width: width)
                for row in 0..<rows { distances[row] = min(distances[row], closest[row]) }
                let candidatePotential = distances.reduce(0, +)
                if candidatePotential < bestPotential {
                    bestPotential = candidatePotential
                    bestCandidate = candidate
                    bestDistances = distances
                }
            }
            centres += x[(bestCandidate * width)..<((bestCandidate + 1) * width)]
            closest = bestDistances
        }
        return centres
    }

    private static func distancesTo(_ index: Int, _ x: [Double], rows: Int, width: Int) -> [Double] {
        x.withUnsafeBufferPointer { x in
            (0..<rows).map { squaredDistance(x.baseAddress! + $0 * width, x.baseAddress! + index * width, width) }
        }
    }

    /// Index of the nearest centre (first on ties) for every row.
    static func assign(_ x: [Double], rows: Int, width: Int, centres: [Double]) -> [Int] {
        let k = centres.count / width
        return x.withUnsafeBufferPointer { x in
            centres.withUnsafeBufferPointer { centres in
                parallelFill(count: rows, repeating: 0, costPerItem: k * width) { range, out in
                    for row in range {
                        var best = 0
                        var bestDistance = Double.infinity
                        for cluster in 0..<k {
                            let distance = squaredDistance(
                                x.baseAddress! + row * width, centres.baseAddress! + cluster * width, width)
                            if distance < bestDistance {
                                bestDistance = distance
                                best = cluster
                            }
                        }
                        out[row] = best
                    }
                }
            }
        }
    }
}

extension GaussianMixture: PersistentDetector {
    public func saveFittedState(to url: URL) throws {
        guard let sampleShape, let model else { throw DetectorError.notFitted(Self.name) }
        let (k, d) = (model.weights.count, sampleShape.reduce(1, *))
        var arrays = FittedArrays()
        arrays.add("weights", model.weights)
        arrays.add("means", model.means, shape: [k, d])
        arrays.add("choleskyFactors", model.choleskyFactors, shape: [k, d, d])
        arrays.add("logLikelihood", scalar: model.logLikelihood)
        arrays.add("iterations", scalar: Double(model.iterations))
        arrays.add("converged", scalar: model.converged ? 1 : 0)
        try arrays.save(to: url, detector: Self.name, sampleShape: sampleShape, configuration: configuration)
    }

    public mutating func loadFittedState(from url: URL) throws {
        let stored = try FittedArrays.Stored(url: url, detector: Self.name)
        let d = stored.sampleShape.reduce(1, *)
        let loaded = Model(
            weights: try stored.doubles("weights"), means: try stored.doubles("means"),
            choleskyFactors: try stored.doubles("choleskyFactors"), logLikelihood: try stored.scalar("logLikelihood"),
            iterations: try stored.integer("iterations"), converged: try stored.scalar("converged") != 0)
        let k = loaded.weights.count
        guard k > 0, loaded.means.count == k * d, loaded.choleskyFactors.count == k * d * d else {
            throw DetectorError.incompatibleCheckpoint(path: url.path, reason: "its mixture is malformed")
        }
        model = loaded
        sampleShape = stored.sampleShape
    }
}
