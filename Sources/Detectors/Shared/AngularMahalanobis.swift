import Foundation
import Layers
import Tensors

/// NSA's angular Mahalanobis scores (METHODS.md §2.4.3), anomaly scores in radians:
///
///     W = Σ^{-1/2}  (Float64 symmetric eigendecomposition, eigenvalues floored at 1e-6·λ_max)
///     u_m = W (y_m − μ),  v = W (y − μ)          (centring off: u_m = W y_m, v = W y)
///     k-Cos(y) = arccos( max_m ⟨u_m/‖u_m‖, v/‖v‖⟩ )   — angle to the nearest training sample
///     c-Cos(y) = arccos( cos(W μ, W y) )               — angle to the mean, uncentred [A]
///
/// and their training ranges for the feature ensemble (§2.4.4): k-Cos of the training samples
/// leave-one-out (each sample's nearest neighbour other than itself), c-Cos as is.
public final class AngularMahalanobis: Module {
    public enum Score: String, Codable, Sendable, CaseIterable {
        case kCos = "kcos"
        case cCos = "ccos"
    }

    public let mean: Tensor
    /// [d, d], symmetric.
    public let whitening: Tensor
    /// [M, d] unit whitened training features.
    public let bank: Tensor
    /// [d] unit W μ.
    public let whitenedMean: Tensor
    /// [min, max] of the training k-Cos (leave-one-out) and c-Cos: [4].
    public let trainingRange: Tensor
    public let centering: Bool

    public init(count: Int, dimension: Int, centering: Bool) {
        mean = Tensor.zeros([dimension])
        whitening = Tensor.zeros([dimension, dimension])
        bank = Tensor.zeros([count, dimension])
        whitenedMean = Tensor.zeros([dimension])
        trainingRange = Tensor([0, 1, 0, 1])
        self.centering = centering
    }

    /// Relative floor of the covariance's eigenvalues.
    public static let eigenvalueFloor = 1e-6

    /// Fits μ, W, the bank and the training ranges to `features` [M, d] (M ≥ 2).
    public func fit(_ features: Tensor) {
        let (m, d) = (features.shape[0], features.shape[1])
        precondition(m == bank.shape[0] && d == mean.shape[0], "AngularMahalanobis: fit with \(features.shape), built for \(bank.shape)")
        let chunks = stride(from: 0, to: m, by: 1024).map { $0..<min($0 + 1024, m) }
        withoutGradients {
            var moments = BatchedMoments(dimension: d)
            for rows in chunks { moments.add(features.slice(rows)) }
            mean.assign(Tensor(moments.mean.map(Float.init)).to(mean.device))
            whitening.assign(Tensor(Self.inverseSquareRoot(moments.covariance, dimension: d), shape: [d, d]).to(mean.device))
            whitenedMean.assign(l2Normalize(matmul(mean.reshaped([1, d]), whitening), axis: 1).reshaped([d]))
            bank.assign(Tensor.concat(chunks.map { whitenedUnits(features.slice($0)) }))
            var kScores: [Float] = [], cScores: [Float] = []
            for rows in chunks {
                kScores += Self.angle(FeatureBank.maxSimilarity(bank.slice(rows), bank: bank, selfOffset: rows.lowerBound)).toArray()
                cScores += cCos(features.slice(rows)).toArray()
            }
            trainingRange.assign(
                Tensor([kScores.min()!, kScores.max()!, cScores.min()!, cScores.max()!]).to(mean.device))
        }
    }

    /// Unit rows of W(y − μ) (or W y without centring).
    func whitenedUnits(_ y: Tensor) -> Tensor {
        l2Normalize(matmul(centering ? y - mean : y, whitening), axis: 1)
    }

    static func angle(_ cosines: Tensor) -> Tensor { cosines.clamped(min: -1, max: 1).acos() }

    /// k-Cos of `y` [N, d]: the angle to the nearest whitened training feature.
    public func kCos(_ y: Tensor) -> Tensor {
        Self.angle(FeatureBank.maxSimilarity(whitenedUnits(y), bank: bank))
    }

    /// c-Cos of `y` [N, d]: the angle between W y and W μ (uncentred).
    public func cCos(_ y: Tensor) -> Tensor {
        let v = l2Normalize(matmul(y, whitening), axis: 1)
        return Self.angle(matmul(v, whitenedMean.reshaped([whitenedMean.shape[0], 1])).reshaped([y.shape[0]]))
    }

    public func score(_ y: Tensor, _ kind: Score) -> Tensor { kind == .kCos ? kCos(y) : cCos(y) }

    /// The score min–max normalised by its training range (§2.4.4 step 3).
    public func normalizedScore(_ y: Tensor, _ kind: Score) -> Tensor {
        let range = trainingRange.toArray()
        let (low, high) = kind == .kCos ? (range[0], range[1]) : (range[2], range[3])
        return (score(y, kind) - low) * (1 / max(high - low, 1e-12))
    }

    /// Σ^{-1/2} = V diag(1/√max(λ, floor·λ_max)) Vᵀ of a symmetric row-major covariance, in Float64.
    public static func inverseSquareRoot(_ covariance: [Double], dimension d: Int) -> [Float] {
        let eigen = SymmetricEigen(symmetric: covariance, size: d)
        let floor = max(eigen.values.first ?? 0, 0) * eigenvalueFloor
        let scales = eigen.values.map { 1 / max($0, floor, .leastNormalMagnitude).squareRoot() }
        var w = [Double](repeating: 0, count: d * d)
        for k in 0..<d {
            let row = k * d, s = scales[k]
            for i in 0..<d {
                let vi = eigen.vectors[row + i] * s
                if vi == 0 { continue }
                for j in 0..<d { w[i * d + j] += vi * eigen.vectors[row + j] }
            }
        }
        return w.map(Float.init)
    }
}
