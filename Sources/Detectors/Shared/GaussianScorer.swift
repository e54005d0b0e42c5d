import Foundation
import Tensors

/// Gaussian densities for the density-based detectors (DAGMM now; CANCE's noise model next):
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
            var l = [Double](repeating: 0, count: d * d)
            for i in 0..<d {
                for j in 0...i {
                    var s = values[m * d * d + i * d + j]
                    for p in 0..<j { s -= l[i * d + p] * l[j * d + p] }
                    if i == j {
                        guard s > 0, s.isFinite else { return nil }
                        l[i * d + i] = s.squareRoot()
                    } else {
                        l[i * d + j] = s / l[j * d + j]
                    }
                }
            }
            logDeterminants[m] = Float((0..<d).reduce(0.0) { $0 + 2 * Foundation.log(l[$1 * d + $1]) })
            // Σ⁻¹ = L⁻ᵀ L⁻¹, column by column: solve L y = e_c, then Lᵀ x = y.
            for c in 0..<d {
                var y = [Double](repeating: 0, count: d)
                for i in 0..<d {
                    var s = i == c ? 1.0 : 0.0
                    for p in 0..<i { s -= l[i * d + p] * y[p] }
                    y[i] = s / l[i * d + i]
                }
                var x = [Double](repeating: 0, count: d)
                for i in stride(from: d - 1, through: 0, by: -1) {
                    var s = y[i]
                    for p in (i + 1)..<d { s -= l[p * d + i] * x[p] }
                    x[i] = s / l[i * d + i]
                }
                for i in 0..<d { inverses[m * d * d + i * d + c] = Float(x[i]) }
            }
        }
        return (Tensor(inverses, shape: [k, d, d]), Tensor(logDeterminants))
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
