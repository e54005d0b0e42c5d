import Tensors

// Loss functions, differentiable through the engine's ops.
//
// Each loss is composed from the engine's primitives (logSumExp, gather, softplus, matmul, …),
// whose kernels already fuse the expensive parts (max-shifted log-sum-exp, softmax in the
// backward pass). A hand-fused forward/backward would need to register its own backward
// closure, which `Tensor.record` (internal to Tensors) does not allow from this module; the
// composed forms cost a few extra element-wise passes over [N, C] or [2B, 2B], which is small
// next to the matmul and the network they sit on.

/// How a per-sample loss is reduced to the returned tensor.
public enum LossReduction: String, Sendable, CaseIterable {
    /// The mean over all elements (a scalar).
    case mean
    /// The sum over all elements (a scalar).
    case sum
    /// No reduction: one value per element (per sample for `crossEntropy`).
    case none

    func apply(_ values: Tensor) -> Tensor {
        switch self {
        case .mean: return values.mean()
        case .sum: return values.sum()
        case .none: return values
        }
    }
}

/// Cross-entropy of `logits` [N, C] against integer class `labels` (N of them, each in 0..<C):
/// ℓ_n = log Σ_c exp(logits[n, c]) − logits[n, labels[n]]  (PyTorch's `F.cross_entropy`).
/// With `.none` the result has shape [N].
public func crossEntropy(logits: Tensor, labels: [Int], reduction: LossReduction = .mean) -> Tensor {
    precondition(
        logits.rank == 2 && labels.count == logits.shape[0],
        "crossEntropy: logits must be [N, C] with N labels, got shape \(logits.shape) and \(labels.count) labels")
    let classes = logits.shape[1]
    for label in labels {
        precondition(label >= 0 && label < classes, "crossEntropy: label \(label) out of range 0..<\(classes)")
    }
    let perSample = logits.logSumExp(axis: 1) - logits.gather(rowIndices: labels)
    return reduction.apply(perSample)
}

/// Binary cross-entropy on logits x with targets t in [0, 1] (same shape), in the stable form
/// max(x, 0) − x·t + log(1 + e^{−|x|})  (PyTorch's `F.binary_cross_entropy_with_logits`).
///
/// −|x| is written as x − 2·max(x, 0) so that the derivative is σ(x) − t everywhere, including
/// at x = 0 (where the sub-gradients of max and |·| would otherwise give −t).
public func binaryCrossEntropyWithLogits(
    logits: Tensor, targets: Tensor, reduction: LossReduction = .mean
) -> Tensor {
    precondition(
        logits.shape == targets.shape,
        "binaryCrossEntropyWithLogits: logits \(logits.shape) and targets \(targets.shape) differ in shape")
    let positivePart = logits.relu()
    let negativeAbs = logits - positivePart * 2  // −|x|
    let values = positivePart - logits * targets + negativeAbs.softplus()
    return reduction.apply(values)
}

/// Squared error (prediction − target)², reduced (PyTorch's `F.mse_loss`). Shapes must match.
public func mse(_ prediction: Tensor, _ target: Tensor, reduction: LossReduction = .mean) -> Tensor {
    precondition(
        prediction.shape == target.shape,
        "mse: prediction \(prediction.shape) and target \(target.shape) differ in shape")
    return reduction.apply((prediction - target).squared())
}

/// Cosine similarity along `axis`: ⟨a, b⟩ / max(‖a‖·‖b‖, eps) (METHODS.md §8), with `axis`
/// removed from the result. `a` and `b` broadcast.
///
/// Note: PyTorch ≥ 1.12 clamps each norm separately (max(‖a‖, eps)·max(‖b‖, eps)); the two
/// agree whenever both norms exceed eps and differ only for (near-)zero vectors, where this form
/// gives 0 with a finite gradient.
public func cosineSimilarity(_ a: Tensor, _ b: Tensor, axis: Int = 1, eps: Float = 1e-8) -> Tensor {
    let rank = max(a.rank, b.rank)
    let ax = axis < 0 ? axis + rank : axis
    precondition(ax >= 0 && ax < rank, "cosineSimilarity: axis \(axis) out of range for shapes \(a.shape), \(b.shape)")
    // Align ranks so `axis` means the same dimension in both.
    let a = a.rank < rank ? a.reshaped([Int](repeating: 1, count: rank - a.rank) + a.shape) : a
    let b = b.rank < rank ? b.reshaped([Int](repeating: 1, count: rank - b.rank) + b.shape) : b
    let dot = (a * b).sum(axis: ax)
    let squaredNorms = a.squared().sum(axis: ax) * b.squared().sum(axis: ax)
    // √max(‖a‖²‖b‖², eps²) = max(‖a‖‖b‖, eps); clamping before the root keeps the gradient finite
    // (zero through the clamp) for zero vectors.
    return dot * squaredNorms.clamped(min: eps * eps).rsqrt()
}

/// x / max(‖x‖₂, eps) along `axis` (PyTorch's `F.normalize`, p = 2). Zero rows stay zero.
public func l2Normalize(_ x: Tensor, axis: Int = 1, eps: Float = 1e-12) -> Tensor {
    let squaredNorm = x.squared().sum(axis: axis, keepDims: true)
    return x * squaredNorm.clamped(min: eps * eps).rsqrt()
}

/// The SimCLR NT-Xent loss (METHODS.md §1.3) of projections `z` [2B, d] whose rows i and i + B
/// are the two views of one sample:
///
///     M = ẑ ẑᵀ / τ,   ℓ(i, j) = −log( exp(M_ij) / Σ_{k≠i} exp(M_ik) ),
///     L = (1/2B) Σ_{i<B} [ ℓ(i, i+B) + ℓ(i+B, i) ].
///
/// Only the sample itself is excluded from the denominator (the positive stays in it), so B = 1
/// gives 0. Pass `isNormalized: true` when `z` already holds unit rows (ẑ = z); otherwise rows
/// are L2-normalised here. Matches `nt_xent` in `bench/torch_reference.py`.
public func ntXentLoss(_ z: Tensor, temperature: Float = 0.5, isNormalized: Bool = false) -> Tensor {
    precondition(
        z.rank == 2 && z.shape[0] >= 2 && z.shape[0] % 2 == 0,
        "ntXentLoss: need [2B, d] projections with B ≥ 1, got shape \(z.shape)")
    precondition(temperature > 0, "ntXentLoss: temperature must be positive, got \(temperature)")
    let n = z.shape[0]
    let b = n / 2
    let unit = isNormalized ? z : l2Normalize(z, axis: 1)
    // Scaling the rows by 1/√τ folds the temperature into the [2B, d] operand: M = (ẑ/√τ)(ẑ/√τ)ᵀ.
    let scaled = unit * (1 / temperature.squareRoot())
    let similarities = matmul(scaled, scaled, transposeB: true)
    // Self-similarity drops out of the softmax: exp(M_ii − 10⁹ − max) is exactly 0.
    let selfMask = Tensor.zeros([n, n])
    for i in 0..<n { selfMask.pointer[i * n + i] = -1e9 }
    let positives = Array(b..<n) + Array(0..<b)
    return crossEntropy(logits: similarities + selfMask.to(z.device), labels: positives)
}
