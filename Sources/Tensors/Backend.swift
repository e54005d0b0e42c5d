/// Element-wise functions of one tensor.
public enum UnaryOp: Sendable, Equatable {
    case neg, exp, log, sqrt, rsqrt, abs, relu, sigmoid, tanh, softplus, sin, cos, acos, square, reciprocal
    case leakyRelu(slope: Float)
    case clamp(min: Float, max: Float)
    case powScalar(Float)
    case addScalar(Float)
    case mulScalar(Float)
    /// 1 where x > 0, else 0.
    case positiveMask
    /// 1 where min ≤ x ≤ max, else 0.
    case insideMask(min: Float, max: Float)
    case sign
}

/// Element-wise functions of two broadcast tensors. Comparisons give 1 or 0.
public enum BinaryOp: Sendable, Equatable {
    case add, sub, mul, div, pow, maximum, minimum
    case equal, notEqual, less, lessEqual, greater, greaterEqual
}

/// Reductions along one axis.
public enum ReduceOp: Sendable, Equatable {
    case sum, max, min
}

/// Storage and kernels of one device. Ops (`Tensor` methods) allocate results and call these;
/// a CUDA backend implements the same requirements, so op signatures and model code do not
/// change. Every tensor argument is contiguous and lives on the backend's device.
public protocol Backend: Sendable {
    func unary(_ op: UnaryOp, _ x: Tensor, into out: Tensor)
    /// `out` has the broadcast shape of `a` and `b`.
    func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, into out: Tensor)
    /// `x` viewed as [outer, axisSize, inner] reduced to [outer, inner].
    func reduce(_ op: ReduceOp, _ x: Tensor, outer: Int, axisSize: Int, inner: Int, into out: Tensor)
    /// Index of the max (or min) along the middle axis of [outer, axisSize, inner].
    func argReduce(max: Bool, _ x: Tensor, outer: Int, axisSize: Int, inner: Int) -> [Int]
    /// out[b] = alpha · op(A[b]) · op(B[b]) + beta · out[b] for `batch` row-major matrices;
    /// a batch stride of 0 broadcasts that operand.
    func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: Tensor, aBatchStride: Int, b: Tensor, bBatchStride: Int, beta: Float,
        out: Tensor, outBatchStride: Int, batch: Int)
    /// Copies `shape` values: dst[dstOffset + Σ i·dstStrides] = src[srcOffset + Σ i·srcStrides].
    /// (Permutes, slices, broadcasts, concatenation, padding.) With `accumulate`, adds instead.
    func stridedCopy(
        shape: [Int], src: Tensor, srcOffset: Int, srcStrides: [Int],
        dst: Tensor, dstOffset: Int, dstStrides: [Int], accumulate: Bool)
    /// out[o, j, i] = x[o, index[j], i] for x viewed as [outer, axisSize, inner].
    func gather(_ x: Tensor, outer: Int, axisSize: Int, inner: Int, indices: [Int32], into out: Tensor)
    /// out[o, index[j], i] += x[o, j, i] (out viewed as [outer, axisSize, inner]).
    func scatterAdd(_ x: Tensor, outer: Int, axisSize: Int, inner: Int, indices: [Int32], into out: Tensor)
    /// Softmax (or log-softmax) along the last axis of `x` viewed as [rows, columns].
    func softmax(_ x: Tensor, rows: Int, columns: Int, log: Bool, into out: Tensor)
    /// log Σ exp along the last axis of [rows, columns].
    func logSumExp(_ x: Tensor, rows: Int, columns: Int, into out: Tensor)
    func fill(_ out: Tensor, value: Float)
}

extension Device {
    /// The backend that owns this device's storage and kernels.
    public var backend: any Backend {
        switch self {
        case .cpu: return CPUBackend.shared
        case .cuda: fatalError("the CUDA backend is not available in this build")
        }
    }
}
