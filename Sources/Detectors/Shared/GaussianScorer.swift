import Foundation
import Tensors

/// Gaussian densities for the density-based detectors (DAGMM's mixture, CANCE's noise model):
/// batched inverse and log-determinant of symmetric positive-definite matrices, computed by a
/// Cholesky factorisation in Float64 (METHODS.md §8) and differentiable through custom
/// gradients, and the log-density of a Gaussian mixture.
public enum GaussianScorer {
    /// Σ⁻¹ for a batch of SPD matrices `[K, D, D]`; backward: ∂L/∂Σ = −Σ⁻¹ G Σ⁻¹.
    /// Returns nil when some matrix is not positive definite (the caller adds more to the diagonal).
    public static func inverse(_ covariances: Tensor) -> Tensor? {
        guard let (inverse, _) = factorised(covariances) else { return nil }
        let y = inverse.to(covariances.device)
        return Tensor.custom("spdInverse", inputs: [covariances], output: y) { g in
            [-1 * matmul(matmul(y, g), y)]
        }
    }

    /// log |Σ| for a batch of SPD matrices `[K, D, D]`, as `[K]`; backward: ∂L/∂Σ = g · Σ⁻¹.
    public static func logDeterminant(_ covariances: Tensor) -> Tensor? {
        guard let (inverse, logDeterminants) = factorised(covariances) else { return nil }
        let y = inverse.to(covariances.device)
        let k = covariances.shape[0]
        return Tensor.custom("spdLogDeterminant", inputs: [covariances], output: logDeterminants.to(covariances.device)) { g in
            [g.reshaped([k, 1, 1]) * y]
        }
    }

    /// Cholesky Σ = LLᵀ in Float64 for each matrix: (Σ⁻¹ as Float32, log|Σ| = 2 Σ log L_ii).
    static func factorised(_ covariances: Tensor) -> (Tensor, Tensor)? {
        precondition(covariances.rank == 3 && covariances.shape[1] == covariances.shape[2], "expects [K, D, D]")
        let (k, d) = (covariances.shape[0], covariances.shape[1])
        let values = covariances.detached().toArray().map(Double.init)
        var inverses = [Float](repeating: 0, count: k * d * d)
        var logDeterminants = [Float](repeating: 0, count: k)
        for m in 0..<k {
            guard let l = choleskyFactor(Array(values[(m * d * d)..<((m + 1) * d * d)]), size: d) else { return nil }
            logDeterminants[m] = Float((0..<d).reduce(0.0) { $0 + 2 * Foundation.log(l[$1 * d + $1]) })
            // Σ⁻¹ = L⁻ᵀ L⁻¹ (L⁻¹ lower-triangular: the sum runs from max(i, j)).
            let inverse = lowerTriangularInverse(l, dimension: d)
            for i in 0..<d {
                for j in 0..<d {
                    var s = 0.0
                    for p in max(i, j)..<d { s += inverse[p * d + i] * inverse[p * d + j] }
                    inverses[m * d * d + i * d + j] = Float(s)
                }
            }
        }
        return (Tensor(inverses, shape: [k, d, d]), Tensor(logDeterminants))
    }

    /// L⁻¹ of a row-major lower-triangular `d × d` matrix with a positive diagonal (forward
    /// substitution, column by column).
    public static func lowerTriangularInverse(_ l: [Double], dimension d: Int) -> [Double] {
        var inverse = [Double](repeating: 0, count: d * d)
        for c in 0..<d {
            for i in c..<d {
                var s = i == c ? 1.0 : 0.0
                for p in c..<i { s -= l[i * d + p] * inverse[p * d + c] }
                inverse[i * d + c] = s / l[i * d + i]
            }
        }
        return inverse
    }

    /// log Σ_k φ_k N(z; μ_k, Σ_k) for samples z `[N, D]`, weights φ `[K]`, means μ `[K, D]`,
    /// covariances Σ `[K, D, D]`: `[N]`. Nil when a covariance is not positive definite.
    public static func mixtureLogDensity(_ z: Tensor, weights: Tensor, means: Tensor, covariances: Tensor) -> Tensor? {
        guard let inverse = inverse(covariances), let logDeterminant = logDeterminant(covariances) else { return nil }
        let (n, d, k) = (z.shape[0], z.shape[1], means.shape[0])
        let centred = (z.reshaped([1, n, d]) - means.reshaped([k, 1, d]))  // [K, N, D]
        let mahalanobis = (matmul(centred, inverse) * centred).sum(axis: 2)  // [K, N]
        let logNormaliser = (logDeterminant + Float(d) * Float(Foundation.log(2 * Double.pi))) * 0.5  // [K]
        let logComponents = weights.clamped(min: 1e-12).log().reshaped([k, 1]) - mahalanobis * 0.5
            - logNormaliser.reshaped([k, 1])
        return logComponents.logSumExp(axis: 0)
    }
}

/// Mean and unbiased covariance of feature rows seen in batches (METHODS.md §2.5.6): each
/// batch's mean m_b and scatter (n_b − 1)S_b come from its centred rows, and are combined in
/// Float64 as  Σ = [Σ_b ((n_b − 1) S_b + n_b m_b m_bᵀ) − N m mᵀ] / (N − 1).
public struct BatchedMoments {
    public let dimension: Int
    public private(set) var count = 0
    private var sum: [Double]
    /// Σ_b ((n_b − 1) S_b + n_b m_b m_bᵀ), row-major.
    private var secondMoment: [Double]

    public init(dimension: Int) {
        self.dimension = dimension
        sum = [Double](repeating: 0, count: dimension)
        secondMoment = [Double](repeating: 0, count: dimension * dimension)
    }

    /// Adds the rows of `batch` `[n, dimension]`.
    public mutating func add(_ batch: Tensor) {
        precondition(batch.rank == 2 && batch.shape[1] == dimension, "BatchedMoments: expects [n, \(dimension)]")
        let n = batch.shape[0], d = dimension
        guard n > 0 else { return }
        let (mean, scatter) = withoutGradients { () -> ([Float], [Float]) in
            let m = batch.mean(axis: 0, keepDims: true)
            let centred = batch - m
            return (m.toArray(), matmul(centred, centred, transposeA: true).toArray())
        }
        for i in 0..<d {
            sum[i] += Double(n) * Double(mean[i])
            for j in 0..<d {
                secondMoment[i * d + j] += Double(scatter[i * d + j]) + Double(n) * Double(mean[i]) * Double(mean[j])
            }
        }
        count += n
    }

    public var mean: [Double] { sum.map { $0 / Double(max(count, 1)) } }

    /// The unbiased covariance, row-major (needs two rows or more).
    public var covariance: [Double] {
        let m = mean, d = dimension, n = Double(count)
        return (0..<(d * d)).map { index in
            (secondMoment[index] - n * m[index / d] * m[index % d]) / max(n - 1, 1)
        }
    }
}
