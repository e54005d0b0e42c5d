import Datasets
import Foundation
import Tensors

/// ν one-class support vector machine with an RBF kernel (Schölkopf et al. 2001; METHODS §3.6),
/// solved as LIBSVM and scikit-learn's `OneClassSVM` solve it.
///
/// The dual, in LIBSVM's scaling (`Qᵢⱼ = k(xᵢ, xⱼ) = exp(−γ‖xᵢ − xⱼ‖²)`, `l` training samples):
///
///     min_α ½ αᵀQα   subject to   0 ≤ αᵢ ≤ 1,   Σᵢ αᵢ = ν·l,
///
/// is solved by SMO with LIBSVM's second-order working-set selection (Fan, Chen & Lin 2005) from
/// LIBSVM's start (the first ⌊νl⌋ αᵢ at 1, the next at νl − ⌊νl⌋), stopping when the maximal
/// KKT violation `max_{i∈I_up} −Gᵢ + max_{j∈I_low} Gⱼ` falls below `tolerance`. ρ is the mean
/// gradient over free αᵢ (or the midpoint of the bounds when none is free). Kernel rows are
/// computed in Float64 on demand and kept in a least-recently-used cache of `cacheSizeMB`.
///
/// The score is `−decision_function(x) = ρ − Σᵢ αᵢ k(xᵢ, x)`, on scikit-learn's scale (higher =
/// more anomalous). Unlike scikit-learn's default, the solver does not shrink the active set;
/// shrinking only changes the path to a solution within the same tolerance.
public struct OneClassSVM: AnomalyDetector, Sendable {
    /// The RBF kernel width γ.
    public enum Gamma: Codable, Sendable, Equatable, CustomStringConvertible {
        /// `1 / (d · Var(X))` over all training values (scikit-learn's default; 1 when Var = 0).
        case scale
        /// `1 / d`.
        case auto
        case value(Double)

        public var description: String {
            switch self {
            case .scale: return "scale"
            case .auto: return "auto"
            case .value(let gamma): return "\(gamma)"
            }
        }

        /// Encoded as `"scale"`, `"auto"` or a number.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let gamma = try? container.decode(Double.self) {
                self = .value(gamma)
                return
            }
            switch try container.decode(String.self) {
            case "scale": self = .scale
            case "auto": self = .auto
            case let other:
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "gamma must be \"scale\", \"auto\" or a number, not \"\(other)\"")
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .scale: try container.encode("scale")
            case .auto: try container.encode("auto")
            case .value(let gamma): try container.encode(gamma)
            }
        }
    }

    public struct Configuration: Codable, Sendable, Equatable {
        /// Upper bound on the fraction of training outliers and lower bound on the fraction of
        /// support vectors (scikit-learn default 0.5; METHODS' protocol uses 0.1).
        public var nu: Double
        public var gamma: Gamma
        /// Stopping tolerance on the maximal KKT violation (scikit-learn `tol`).
        public var tolerance: Double
        /// Kernel-row cache in MiB (scikit-learn `cache_size`).
        public var cacheSizeMB: Double
        /// SMO iteration limit; `nil` is LIBSVM's `max(10⁷, 100·l)`.
        public var maxIterations: Int?

        public init(
            nu: Double = 0.5, gamma: Gamma = .scale, tolerance: Double = 1e-3, cacheSizeMB: Double = 200,
            maxIterations: Int? = nil
        ) {
            self.nu = nu
            self.gamma = gamma
            self.tolerance = tolerance
            self.cacheSizeMB = cacheSizeMB
            self.maxIterations = maxIterations
        }
    }

    /// The fitted decision function `Σᵢ αᵢ k(svᵢ, x) − ρ`.
    public struct Model: Sendable, Equatable {
        /// Support vectors (training samples with αᵢ > 0), row-major `[count, d]`.
        public var supportVectors: [Double]
        /// Their αᵢ (scikit-learn's `dual_coef_`).
        public var coefficients: [Double]
        public var rho: Double
        /// The γ in use (resolved from `.scale` / `.auto`).
        public var gamma: Double
        public var iterations: Int
    }

    public var configuration: Configuration
    public private(set) var model: Model?
    private var sampleShape: [Int]?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    static let name = "OneClassSVM"

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        guard configuration.nu > 0, configuration.nu <= 1 else {
            throw DetectorError.invalidConfiguration("\(Self.name): nu = \(configuration.nu) must lie in (0, 1]")
        }
        guard configuration.tolerance > 0 else {
            throw DetectorError.invalidConfiguration("\(Self.name): tolerance must be positive")
        }
        let samples = try DetectorInput.trainingSamples(data, detector: Self.name)
        let rows = samples.count
        let width = samples.featureCount
        let x = samples.doubleValues
        let gamma = try Self.resolve(configuration.gamma, x, width: width)
        let kernel = KernelRowCache(
            x, rows: rows, width: width, gamma: gamma,
            capacityBytes: Int(configuration.cacheSizeMB * 1_048_576))
        let maxIterations = configuration.maxIterations ?? max(10_000_000, 100 * rows)
        let solution = Self.solveDual(
            kernel: kernel, nu: configuration.nu, tolerance: configuration.tolerance,
            maxIterations: maxIterations, progress: context.progress)
        if solution.iterations >= maxIterations {
            context.logger.warning("\(Self.name): SMO stopped at the iteration limit \(maxIterations)")
        }
        var supportVectors = [Double]()
        var coefficients = [Double]()
        for row in 0..<rows where solution.alpha[row] > 0 {
            supportVectors += x[(row * width)..<((row + 1) * width)]
            coefficients.append(solution.alpha[row])
        }
        model = Model(
            supportVectors: supportVectors, coefficients: coefficients, rho: solution.rho, gamma: gamma,
            iterations: solution.iterations)
        sampleShape = samples.sampleShape
    }

    public func score(_ samples: Samples, context: InferenceContext) throws -> [Float] {
        try DetectorInput.checkQuery(samples, fittedShape: sampleShape, detector: Self.name)
        let model = model!
        let width = samples.featureCount
        let count = model.coefficients.count
        let queries = samples.doubleValues
        return queries.withUnsafeBufferPointer { queries in
            model.supportVectors.withUnsafeBufferPointer { vectors in
                model.coefficients.withUnsafeBufferPointer { alpha in
                    parallelFill(count: samples.count, repeating: Float(0), costPerItem: count * (width + 8)) {
                        range, out in
                        for sample in range {
                            let row = queries.baseAddress! + sample * width
                            var sum = 0.0
                            for vector in 0..<count {
                                sum +=
                                    alpha[vector]
                                    * exp(
                                        -model.gamma
                                            * squaredDistance(row, vectors.baseAddress! + vector * width, width))
                            }
                            out[sample] = Float(model.rho - sum)
                        }
                    }
                }
            }
        }
    }

    /// Fits one detector per candidate γ on `training` and keeps the one whose scores on the
    /// labelled `validation` samples reach the highest AUROC (the first on ties). This is the
    /// METHODS §3.6 protocol (candidates `2^−7 … 2^2`, validation = 10 % of the test set).
    /// `labels[i]` is 1 for an anomaly, 0 for a normal sample; `auroc(scores, labels)` is the
    /// caller's AUROC with anomalies as the positive class.
    public static func selectingGamma(
        _ configuration: Configuration = Configuration(nu: 0.1),
        candidates: [Double] = (-7...2).map { pow(2, Double($0)) },
        training: TrainingData, validation: Samples, labels: [Int], context: TrainingContext,
        auroc: ([Float], [Int]) -> Double
    ) throws -> (detector: OneClassSVM, aurocs: [Double]) {
        guard !candidates.isEmpty else {
            throw DetectorError.invalidConfiguration("\(Self.name): no candidate gamma")
        }
        guard labels.count == validation.count else {
            throw DetectorError.invalidConfiguration(
                "\(Self.name): \(validation.count) validation samples but \(labels.count) labels")
        }
        var best: OneClassSVM?
        var bestAUROC = -Double.infinity
        var aurocs = [Double]()
        for gamma in candidates {
            var candidate = configuration
            candidate.gamma = .value(gamma)
            var detector = OneClassSVM(candidate)
            try detector.fit(training, context: context)
            let value = auroc(try detector.score(validation, context: InferenceContext(seed: context.seed)), labels)
            aurocs.append(value)
            if best == nil || value > bestAUROC {
                best = detector
                bestAUROC = value
            }
        }
        return (best!, aurocs)
    }

    static func resolve(_ gamma: Gamma, _ x: [Double], width: Int) throws -> Double {
        switch gamma {
        case .value(let value):
            guard value > 0, value.isFinite else {
                throw DetectorError.invalidConfiguration("\(Self.name): gamma = \(value) must be positive")
            }
            return value
        case .auto:
            return 1 / Double(width)
        case .scale:
            let mean = x.reduce(0, +) / Double(x.count)
            let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)
            return variance != 0 ? 1 / (Double(width) * variance) : 1
        }
    }

    // MARK: The SMO solver

    /// Solves the ν one-class dual; returns α, ρ and the number of SMO iterations.
    static func solveDual(
        kernel: KernelRowCache, nu: Double, tolerance: Double, maxIterations: Int, progress: any ProgressReporter
    ) -> (alpha: [Double], rho: Double, iterations: Int) {
        let l = kernel.rows
        let tau = 1e-12
        enum Bound: UInt8 { case lower, upper, free }
        var alpha = [Double](repeating: 0, count: l)
        // LIBSVM's start: ⌊νl⌋ variables at the upper bound 1, one holding the remainder.
        let atUpper = Int(nu * Double(l))
        for i in 0..<min(atUpper, l) { alpha[i] = 1 }
        if atUpper < l { alpha[atUpper] = nu * Double(l) - Double(atUpper) }

        var gradient = [Double](repeating: 0, count: l)
        var bound = [Bound](repeating: .lower, count: l)
        var iterations = 0
        alpha.withUnsafeMutableBufferPointer { alpha in
            gradient.withUnsafeMutableBufferPointer { g in
                bound.withUnsafeMutableBufferPointer { bound in
                    func updateBound(_ i: Int) {
                        bound[i] = alpha[i] >= 1 ? .upper : (alpha[i] <= 0 ? .lower : .free)
                    }
                    // G = Qα (the linear term is zero).
                    for i in 0..<l {
                        updateBound(i)
                        guard bound[i] != .lower else { continue }
                        let row = kernel.row(i)
                        let ai = alpha[i]
                        for j in 0..<l { g[j] += ai * row[j] }
                    }
                    progress.begin("OneClassSVM: SMO iterations", total: maxIterations)
                    defer { progress.end() }
                    while iterations < maxIterations {
                        // Second-order working-set selection (WSS 3 of Fan, Chen & Lin 2005).
                        var gMax = -Double.infinity
                        var gMaxIndex = -1
                        for t in 0..<l where bound[t] != .upper && -g[t] >= gMax {
                            gMax = -g[t]
                            gMaxIndex = t
                        }
                        let i = gMaxIndex
                        var gMax2 = -Double.infinity
                        var gMinIndex = -1
                        var objectiveMin = Double.infinity
                        if i >= 0 {
                            let rowI = kernel.row(i)
                            for j in 0..<l where bound[j] != .lower {
                                let gradientDifference = gMax + g[j]
                                if g[j] >= gMax2 { gMax2 = g[j] }
                                guard gradientDifference > 0 else { continue }
                                // Q_ii = Q_jj = 1 for the RBF kernel.
                                let curvature = 2 - 2 * rowI[j]
                                let objective =
                                    -(gradientDifference * gradientDifference) / (curvature > 0 ? curvature : tau)
                                if objective <= objectiveMin {
                                    gMinIndex = j
                                    objectiveMin = objective
                                }
                            }
                        }
                        if gMax + gMax2 < tolerance || gMinIndex == -1 {
                            // Report the final (converged) violation, not the last sampled one.
                            progress.update(completed: iterations, metrics: ["violation": gMax + gMax2])
                            break
                        }
                        let j = gMinIndex
                        iterations += 1
                        if iterations % 1000 == 0 {
                            progress.update(completed: iterations, metrics: ["violation": gMax + gMax2])
                        }

                        // Analytic update of (αᵢ, αⱼ) on the line αᵢ + αⱼ = constant, clipped to the box.
                        let rowI = kernel.row(i)
                        let rowJ = kernel.row(j)
                        let oldI = alpha[i]
                        let oldJ = alpha[j]
                        var curvature = 2 - 2 * rowI[j]
                        if curvature <= 0 { curvature = tau }
                        let delta = (g[i] - g[j]) / curvature
                        let sum = oldI + oldJ
                        var newI = oldI - delta
                        var newJ = oldJ + delta
                        if sum > 1 {
                            if newI > 1 {
                                newI = 1
                                newJ = sum - 1
                            }
                        } else if newJ < 0 {
                            newJ = 0
                            newI = sum
                        }
                        if sum > 1 {
                            if newJ > 1 {
                                newJ = 1
                                newI = sum - 1
                            }
                        } else if newI < 0 {
                            newI = 0
                            newJ = sum
                        }
                        alpha[i] = newI
                        alpha[j] = newJ
                        let deltaI = newI - oldI
                        let deltaJ = newJ - oldJ
                        for k in 0..<l { g[k] += rowI[k] * deltaI + rowJ[k] * deltaJ }
                        updateBound(i)
                        updateBound(j)
                    }
                }
            }
        }
        // ρ: mean gradient over free variables, else the midpoint of the feasible interval.
        var freeCount = 0
        var freeSum = 0.0
        var upperLimit = Double.infinity
        var lowerLimit = -Double.infinity
        for i in 0..<l {
            switch bound[i] {
            case .lower: upperLimit = min(upperLimit, gradient[i])
            case .upper: lowerLimit = max(lowerLimit, gradient[i])
            case .free:
                freeCount += 1
                freeSum += gradient[i]
            }
        }
        let rho = freeCount > 0 ? freeSum / Double(freeCount) : (upperLimit + lowerLimit) / 2
        return (alpha, rho, iterations)
    }
}

/// Rows of the RBF kernel matrix of the training set, computed on demand in Float64 and kept in a
/// least-recently-used cache of whole rows. A returned row stays valid until two more rows have
/// been requested (the cache holds at least two).
final class KernelRowCache: @unchecked Sendable {
    let rows: Int
    private let width: Int
    private let gamma: Double
    private let x: UnsafeMutablePointer<Double>
    private let storage: UnsafeMutablePointer<Double>
    private let capacity: Int
    private let slotOfRow: UnsafeMutablePointer<Int32>
    private let rowOfSlot: UnsafeMutablePointer<Int32>
    private let lastUse: UnsafeMutablePointer<UInt64>
    private var clock: UInt64 = 0
    private var used = 0

    init(_ values: [Double], rows: Int, width: Int, gamma: Double, capacityBytes: Int) {
        self.rows = rows
        self.width = width
        self.gamma = gamma
        x = .allocate(capacity: values.count)
        x.initialize(from: values, count: values.count)
        capacity = min(rows, max(2, capacityBytes / max(1, rows * MemoryLayout<Double>.stride)))
        storage = .allocate(capacity: capacity * rows)
        slotOfRow = .allocate(capacity: rows)
        slotOfRow.initialize(repeating: -1, count: rows)
        rowOfSlot = .allocate(capacity: capacity)
        rowOfSlot.initialize(repeating: -1, count: capacity)
        lastUse = .allocate(capacity: capacity)
        lastUse.initialize(repeating: 0, count: capacity)
    }

    deinit {
        for buffer in [
            UnsafeMutableRawPointer(x), UnsafeMutableRawPointer(storage), UnsafeMutableRawPointer(slotOfRow),
            UnsafeMutableRawPointer(rowOfSlot), UnsafeMutableRawPointer(lastUse),
        ] {
            buffer.deallocate()
        }
    }

    /// Row `i` of the kernel matrix: `exp(−γ‖xᵢ − xⱼ‖²)` for every training sample `j`.
    func row(_ i: Int) -> UnsafePointer<Double> {
        clock += 1
        let cached = Int(slotOfRow[i])
        if cached >= 0 {
            lastUse[cached] = clock
            return UnsafePointer(storage + cached * rows)
        }
        let slot: Int
        if used < capacity {
            slot = used
            used += 1
        } else {
            var oldest = 0
            for candidate in 1..<capacity where lastUse[candidate] < lastUse[oldest] { oldest = candidate }
            slot = oldest
            slotOfRow[Int(rowOfSlot[slot])] = -1
        }
        slotOfRow[i] = Int32(slot)
        rowOfSlot[slot] = Int32(i)
        lastUse[slot] = clock
        let output = storage + slot * rows
        let source = x + i * width
        let x = self.x
        let width = self.width
        let gamma = self.gamma
        CPUThreads.parallelRanges(rows, costPerItem: width + 8) { first, last in
            for j in first..<last { output[j] = exp(-gamma * squaredDistance(source, x + j * width, width)) }
        }
        return UnsafePointer(output)
    }
}

extension OneClassSVM: PersistentDetector {
    public func saveFittedState(to url: URL) throws {
        guard let sampleShape, let model else { throw DetectorError.notFitted(Self.name) }
        var arrays = FittedArrays()
        arrays.add("supportVectors", model.supportVectors, shape: [model.coefficients.count, sampleShape.reduce(1, *)])
        arrays.add("coefficients", model.coefficients)
        arrays.add("rho", scalar: model.rho)
        arrays.add("gamma", scalar: model.gamma)
        arrays.add("iterations", scalar: Double(model.iterations))
        try arrays.save(to: url, detector: Self.name, sampleShape: sampleShape, configuration: configuration)
    }

    public mutating func loadFittedState(from url: URL) throws {
        let stored = try FittedArrays.Stored(url: url, detector: Self.name)
        let loaded = Model(
            supportVectors: try stored.doubles("supportVectors"), coefficients: try stored.doubles("coefficients"),
            rho: try stored.scalar("rho"), gamma: try stored.scalar("gamma"), iterations: try stored.integer("iterations"))
        guard loaded.supportVectors.count == loaded.coefficients.count * stored.sampleShape.reduce(1, *) else {
            throw DetectorError.incompatibleCheckpoint(path: url.path, reason: "its support vectors and coefficients disagree")
        }
        model = loaded
        sampleShape = stored.sampleShape
    }
}
