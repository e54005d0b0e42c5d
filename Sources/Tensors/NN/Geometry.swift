/// Shapes of the neural-network ops: (height, width) pairs, convolution geometry, pooling windows
/// and resampling plans. Computed once per call on the host and handed to the backend.

/// A (height, width) pair: kernel sizes, strides, paddings. Write `3` for 3×3 or `[3, 1]`.
public struct Size2D: Sendable, Hashable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral,
    CustomStringConvertible
{
    public var height: Int
    public var width: Int

    public init(_ height: Int, _ width: Int) {
        self.height = height
        self.width = width
    }

    /// The same value along both axes.
    public init(_ both: Int) { self.init(both, both) }

    public init(integerLiteral value: Int) { self.init(value, value) }

    public init(arrayLiteral elements: Int...) {
        precondition(elements.count == 2, "Size2D: expected [height, width], got \(elements)")
        self.init(elements[0], elements[1])
    }

    public var description: String { height == width ? "\(height)" : "[\(height), \(width)]" }
}

/// Everything a 2-D convolution kernel needs: input [batch, inChannels, inHeight, inWidth],
/// weight [outChannels, inChannels, kernel], output [batch, outChannels, outHeight, outWidth]
/// with out = ⌊(in + 2·padding − kernel) / stride⌋ + 1. A transposed convolution is described by
/// the geometry of the convolution it is the adjoint of (its output is this geometry's input).
public struct ConvGeometry: Sendable, Hashable {
    public var batch: Int
    public var inChannels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var outChannels: Int
    public var kernel: Size2D
    public var stride: Size2D
    public var padding: Size2D

    public init(
        batch: Int, inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
        kernel: Size2D, stride: Size2D, padding: Size2D
    ) {
        self.batch = batch
        self.inChannels = inChannels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    public var outHeight: Int { (inHeight + 2 * padding.height - kernel.height) / stride.height + 1 }
    public var outWidth: Int { (inWidth + 2 * padding.width - kernel.width) / stride.width + 1 }
    public var inputShape: [Int] { [batch, inChannels, inHeight, inWidth] }
    public var outputShape: [Int] { [batch, outChannels, outHeight, outWidth] }
    public var weightShape: [Int] { [outChannels, inChannels, kernel.height, kernel.width] }
    /// Rows of the im2col matrix: C·kh·kw.
    public var patchSize: Int { inChannels * kernel.height * kernel.width }
    /// 1×1 kernel, stride 1, no padding: the input planes already are the im2col matrix.
    public var isPointwise: Bool {
        kernel == 1 && stride == 1 && padding == 0
    }
    /// For stride 1 and padding ≤ kernel − 1, the input gradient is this convolution of the output
    /// gradient (channels O → C, padding kernel − 1 − padding) with the weights transposed to
    /// [C, O, kh, kw] and flipped in both spatial axes; nil otherwise (and for 1×1 kernels, whose
    /// input gradient already is one GEMM).
    public var inputGradientConvolution: ConvGeometry? {
        guard stride == 1, kernel.height * kernel.width > 1, padding.height < kernel.height,
            padding.width < kernel.width
        else { return nil }
        return ConvGeometry(
            batch: batch, inChannels: outChannels, inHeight: outHeight, inWidth: outWidth, outChannels: inChannels,
            kernel: kernel, stride: stride,
            padding: Size2D(kernel.height - 1 - padding.height, kernel.width - 1 - padding.width))
    }
}

/// Pooling windows of one axis: output position i covers input [start[i], end[i]) (clipped to
/// the input) and an average multiplies the window sum by scale[i] (the reciprocal of this
/// axis's share of the divisor).
public struct PoolAxis: Sendable, Hashable {
    public var inSize: Int
    public var start: [Int32]
    public var end: [Int32]
    public var scale: [Float]
    public var outSize: Int { start.count }

    /// PyTorch's sliding windows: start = i·stride − padding, end = min(start + kernel,
    /// in + padding), both then clipped to [0, in). With `countPadding` the divisor is the
    /// unclipped window size (PyTorch's `count_include_pad=True`).
    public init(inSize: Int, kernel: Int, stride: Int, padding: Int, countPadding: Bool = true) {
        let outSize = (inSize + 2 * padding - kernel) / stride + 1
        self.inSize = inSize
        start = []
        end = []
        scale = []
        for i in 0..<max(outSize, 0) {
            let s = i * stride - padding
            let e = min(s + kernel, inSize + padding)
            let cs = max(s, 0)
            let ce = min(e, inSize)
            start.append(Int32(cs))
            end.append(Int32(ce))
            scale.append(1 / Float(max(countPadding ? e - s : ce - cs, 1)))
        }
    }

    /// Adaptive windows: start = ⌊i·in/out⌋, end = ⌈(i+1)·in/out⌉.
    public init(inSize: Int, adaptiveOutSize outSize: Int) {
        self.inSize = inSize
        start = []
        end = []
        scale = []
        for i in 0..<outSize {
            let s = (i * inSize) / outSize
            let e = ((i + 1) * inSize + outSize - 1) / outSize
            start.append(Int32(s))
            end.append(Int32(e))
            scale.append(1 / Float(max(e - s, 1)))
        }
    }
}

/// Pooling of `planes` (= N·C) planes of inHeight × inWidth.
public struct PoolWindows: Sendable, Hashable {
    public var planes: Int
    public var rows: PoolAxis
    public var columns: PoolAxis
    /// 2×2 windows with stride 2 and no padding (a dedicated kernel).
    public var isTwoByTwo = false

    public init(planes: Int, rows: PoolAxis, columns: PoolAxis) {
        self.planes = planes
        self.rows = rows
        self.columns = columns
    }

    public var inHeight: Int { rows.inSize }
    public var inWidth: Int { columns.inSize }
    public var outHeight: Int { rows.outSize }
    public var outWidth: Int { columns.outSize }
}

/// Linear interpolation along one axis: output i = (1 − weight[i])·x[index0[i]] + weight[i]·x[index1[i]].
public struct ResampleAxis: Sendable, Hashable {
    public var inSize: Int
    public var index0: [Int32]
    public var index1: [Int32]
    public var weight: [Float]
    public var outSize: Int { index0.count }

    /// PyTorch's `align_corners=False` rule: source = (i + ½)·scale − ½ clamped at 0, where
    /// scale is 1/scaleFactor when a factor was given and in/out otherwise.
    public init(inSize: Int, outSize: Int, scale: Double) {
        self.inSize = inSize
        index0 = []
        index1 = []
        weight = []
        for i in 0..<outSize {
            let src = max((Double(i) + 0.5) * scale - 0.5, 0)
            let i0 = min(Int(src), inSize - 1)
            let i1 = min(i0 + 1, inSize - 1)
            index0.append(Int32(i0))
            index1.append(Int32(i1))
            weight.append(Float(src - Double(i0)))
        }
    }
}

/// Bilinear resampling of `planes` planes.
public struct ResamplePlan: Sendable, Hashable {
    public var planes: Int
    public var rows: ResampleAxis
    public var columns: ResampleAxis

    public init(planes: Int, rows: ResampleAxis, columns: ResampleAxis) {
        self.planes = planes
        self.rows = rows
        self.columns = columns
    }
}

/// Batch-norm data viewed as [outer, channels, inner]: [N, C] → (N, C, 1), [N, C, L] → (N, C, L),
/// [N, C, H, W] → (N, C, H·W). Statistics are per channel over outer × inner values.
public struct ChannelLayout: Sendable, Hashable {
    public var outer: Int
    public var channels: Int
    public var inner: Int

    public init(outer: Int, channels: Int, inner: Int) {
        self.outer = outer
        self.channels = channels
        self.inner = inner
    }

    /// The layout of a [N, C, …] shape.
    public init(_ shape: [Int]) {
        precondition(shape.count >= 2, "channel layout needs [N, C, …], got \(shape)")
        self.init(outer: shape[0], channels: shape[1], inner: shape.dropFirst(2).reduce(1, *))
    }

    /// Values per channel.
    public var reductionSize: Int { outer * inner }
}
