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
    /// out[o, index[o·inner + i], i] = x[o, i] for x [outer, inner] and out [outer, axisSize,
    /// inner] (other values of out untouched): one index per position, e.g. an argmax.
    func scatterAlongAxis(_ x: Tensor, outer: Int, axisSize: Int, inner: Int, indices: [Int32], into out: Tensor)
    /// Softmax (or log-softmax) along the last axis of `x` viewed as [rows, columns].
    func softmax(_ x: Tensor, rows: Int, columns: Int, log: Bool, into out: Tensor)
    /// log Σ exp along the last axis of [rows, columns].
    func logSumExp(_ x: Tensor, rows: Int, columns: Int, into out: Tensor)
    func fill(_ out: Tensor, value: Float)

    // MARK: Neural-network kernels
    // NCHW tensors; shapes are described by the geometry values of NN/Geometry.swift.

    /// out [N, O, Ho, Wo] = x [N, C, H, W] ⋆ weight [O, C, kh, kw] (+ bias [O]).
    func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry, into out: Tensor)
    /// The adjoint of `conv2d` in its input, overwriting `gradInput` [N, C, H, W] from
    /// `gradOutput` [N, O, Ho, Wo]. This is also the forward pass of a transposed convolution.
    func conv2dBackwardInput(_ gradOutput: Tensor, weight: Tensor, geometry: ConvGeometry, into gradInput: Tensor)
    /// gradWeight [O, C, kh, kw] = Σ over the batch of gradOutput correlated with x (overwritten).
    func conv2dBackwardWeight(_ x: Tensor, gradOutput: Tensor, geometry: ConvGeometry, into gradWeight: Tensor)
    /// x[n, c, i] += bias[c] in place, for x viewed as `layout`.
    func addChannelBias(_ bias: Tensor, to x: Tensor, layout: ChannelLayout)
    /// out[c] = Σ_{n, i} x[n, c, i] (bias gradients).
    func channelSum(_ x: Tensor, layout: ChannelLayout, into out: Tensor)
    /// Max pooling; `indices` (same shape as `out`) receives the Int32 bit patterns of each
    /// maximum's flat index within its input plane.
    func maxPool2d(_ x: Tensor, windows: PoolWindows, into out: Tensor, indices: Tensor)
    /// gradInput (overwritten) gets gradOutput added at the saved indices.
    func maxPool2dBackward(_ gradOutput: Tensor, indices: Tensor, windows: PoolWindows, into gradInput: Tensor)
    /// Average pooling (window sums times the per-axis scales).
    func avgPool2d(_ x: Tensor, windows: PoolWindows, into out: Tensor)
    func avgPool2dBackward(_ gradOutput: Tensor, windows: PoolWindows, into gradInput: Tensor)
    /// Training-mode batch norm: batch statistics per channel, out = (x − mean)·invStd·weight +
    /// bias (then ReLU when `relu`). Writes the batch `mean`, `invStd` (for backward) and biased
    /// `variance` [C]; when running statistics are given they are updated in place with
    /// `momentum`, using the unbiased variance.
    func batchNormTraining(
        _ x: Tensor, layout: ChannelLayout, weight: Tensor?, bias: Tensor?, epsilon: Float, relu: Bool,
        runningMean: Tensor?, runningVariance: Tensor?, momentum: Float,
        into out: Tensor, mean: Tensor, invStd: Tensor, variance: Tensor)
    /// out = x·scale[c] + shift[c] (then ReLU when `relu`): evaluation-mode batch norm.
    func channelAffine(_ x: Tensor, layout: ChannelLayout, scale: Tensor, shift: Tensor, relu: Bool, into out: Tensor)
    /// Batch-norm backward from the saved `mean`/`invStd`. `batchStatistics`: they were the
    /// batch's own (training), so the closed form with Σdy and Σdy·x̂ applies; otherwise they
    /// were running statistics. Each output may be nil.
    func batchNormBackward(
        _ gradOutput: Tensor, x: Tensor, layout: ChannelLayout, mean: Tensor, invStd: Tensor,
        weight: Tensor?, bias: Tensor?, relu: Bool, batchStatistics: Bool,
        gradInput: Tensor?, gradWeight: Tensor?, gradBias: Tensor?)
    /// Nearest up-sampling of [N, C, H, W] by integer factors, and its adjoint.
    func upsampleNearest(_ x: Tensor, scale: Size2D, into out: Tensor)
    func upsampleNearestBackward(_ gradOutput: Tensor, scale: Size2D, into gradInput: Tensor)
    /// Bilinear resampling, and its adjoint.
    func upsampleBilinear(_ x: Tensor, plan: ResamplePlan, into out: Tensor)
    func upsampleBilinearBackward(_ gradOutput: Tensor, plan: ResamplePlan, into gradInput: Tensor)
    /// out = max(a + b, 0) for equally shaped tensors.
    func addReLU(_ a: Tensor, _ b: Tensor, into out: Tensor)
    /// out = gradOutput where output > 0, else 0 (ReLU backward from the saved output).
    func reluBackward(_ gradOutput: Tensor, output: Tensor, into out: Tensor)
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
