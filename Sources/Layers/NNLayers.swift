import Tensors

// Convolution, normalisation, pooling, dropout and up-sampling layers with PyTorch's parameter
// names, shapes and default initialisation (kaiming_uniform with a = √5, which is
// U(−1/√fanIn, 1/√fanIn) for the weight; the bias uses the same bound).

/// 2-D convolution with weight [out, in, kh, kw] and optional bias [out] (PyTorch's `nn.Conv2d`,
/// groups 1, dilation 1).
public final class Conv2d: Module, Layer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Size2D
    public let padding: Size2D

    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Size2D, stride: Size2D = 1, padding: Size2D = 0,
        bias: Bool = true, using generator: inout SeededGenerator
    ) {
        let bound = 1 / Float(inChannels * kernelSize.height * kernelSize.width).squareRoot()
        weight = Tensor.uniform(
            [outChannels, inChannels, kernelSize.height, kernelSize.width], low: -bound, high: bound,
            using: &generator
        ).requiringGrad()
        self.bias =
            bias ? Tensor.uniform([outChannels], low: -bound, high: bound, using: &generator).requiringGrad() : nil
        self.stride = stride
        self.padding = padding
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        conv2d(input, weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

/// 2-D transposed convolution with weight [in, out, kh, kw] and optional bias [out] (PyTorch's
/// `nn.ConvTranspose2d`, groups 1, dilation 1). PyTorch computes the fan-in from the weight's
/// second dimension, so the bound is 1/√(out·kh·kw).
public final class ConvTranspose2d: Module, Layer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Size2D
    public let padding: Size2D
    public let outputPadding: Size2D

    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Size2D, stride: Size2D = 1, padding: Size2D = 0,
        outputPadding: Size2D = 0, bias: Bool = true, using generator: inout SeededGenerator
    ) {
        let bound = 1 / Float(outChannels * kernelSize.height * kernelSize.width).squareRoot()
        weight = Tensor.uniform(
            [inChannels, outChannels, kernelSize.height, kernelSize.width], low: -bound, high: bound,
            using: &generator
        ).requiringGrad()
        self.bias =
            bias ? Tensor.uniform([outChannels], low: -bound, high: bound, using: &generator).requiringGrad() : nil
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        convTranspose2d(
            input, weight: weight, bias: bias, stride: stride, padding: padding, outputPadding: outputPadding)
    }
}

/// Batch normalisation over the channel axis (axis 1). Parameters `weight` (ones) and `bias`
/// (zeros) when affine; buffers `runningMean` (zeros), `runningVar` (ones) and
/// `numBatchesTracked`, updated in place by every training-mode call (unless
/// `updatesRunningStatistics` is off). Uses batch statistics in training mode and the running
/// ones in evaluation mode.
public class BatchNorm: Module, Layer {
    public let weight: Tensor?
    public let bias: Tensor?
    public let runningMean: Tensor
    public let runningVar: Tensor
    /// Training-mode calls so far (a scalar; PyTorch's `num_batches_tracked`).
    public let numBatchesTracked: Tensor
    public let epsilon: Float
    public let momentum: Float
    let acceptedRanks: [Int]
    let name: String
    /// When off, training-mode calls still normalise by the batch statistics but leave the
    /// running ones and `numBatchesTracked` as they are (see `Module.holdingRunningStatistics`).
    public var updatesRunningStatistics = true

    init(
        _ features: Int, epsilon: Float, momentum: Float, affine: Bool, acceptedRanks: [Int], name: String
    ) {
        weight = affine ? Tensor.ones([features]).requiringGrad() : nil
        bias = affine ? Tensor.zeros([features]).requiringGrad() : nil
        runningMean = Tensor.zeros([features])
        runningVar = Tensor.ones([features])
        numBatchesTracked = Tensor.zeros([])
        self.epsilon = epsilon
        self.momentum = momentum
        self.acceptedRanks = acceptedRanks
        self.name = name
    }

    public func callAsFunction(_ input: Tensor) -> Tensor { callAsFunction(input, relu: false) }

    /// With `relu`, returns max(batchNorm(x), 0) from one fused kernel (forward and backward).
    public func callAsFunction(_ input: Tensor, relu: Bool) -> Tensor {
        precondition(
            acceptedRanks.contains(input.rank) && input.shape[1] == runningMean.count,
            "\(name): expected input of rank \(acceptedRanks.map(String.init).joined(separator: " or ")) with \(runningMean.count) channels, got \(input.shape)"
        )
        // Held: batch statistics, as `batchNorm` uses without running ones, and no update.
        let held = isTraining && !updatesRunningStatistics
        if isTraining && !held { numBatchesTracked.pointer[0] += 1 }
        return batchNorm(
            input, runningMean: held ? nil : runningMean, runningVariance: held ? nil : runningVar, weight: weight,
            bias: bias, training: isTraining, momentum: momentum, epsilon: epsilon, fusedReLU: relu)
    }
}

/// Batch normalisation of [N, C] or [N, C, L] (PyTorch's `nn.BatchNorm1d`).
public final class BatchNorm1d: BatchNorm {
    public init(_ features: Int, epsilon: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true) {
        super.init(
            features, epsilon: epsilon, momentum: momentum, affine: affine, acceptedRanks: [2, 3], name: "BatchNorm1d")
    }
}

/// Batch normalisation of [N, C, H, W] (PyTorch's `nn.BatchNorm2d`).
public final class BatchNorm2d: BatchNorm {
    public init(_ features: Int, epsilon: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true) {
        super.init(
            features, epsilon: epsilon, momentum: momentum, affine: affine, acceptedRanks: [4], name: "BatchNorm2d")
    }
}

/// Max pooling (PyTorch's `nn.MaxPool2d`; `stride` defaults to the kernel size).
public final class MaxPool2d: Module, Layer {
    public let kernelSize: Size2D
    public let stride: Size2D
    public let padding: Size2D

    public init(_ kernelSize: Size2D, stride: Size2D? = nil, padding: Size2D = 0) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        maxPool2d(input, kernel: kernelSize, stride: stride, padding: padding)
    }
}

/// Average pooling (PyTorch's `nn.AvgPool2d`; `stride` defaults to the kernel size).
public final class AvgPool2d: Module, Layer {
    public let kernelSize: Size2D
    public let stride: Size2D
    public let padding: Size2D
    public let countIncludePad: Bool

    public init(_ kernelSize: Size2D, stride: Size2D? = nil, padding: Size2D = 0, countIncludePad: Bool = true) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.countIncludePad = countIncludePad
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        avgPool2d(input, kernel: kernelSize, stride: stride, padding: padding, countIncludePad: countIncludePad)
    }
}

/// Adaptive average pooling to a fixed output size (PyTorch's `nn.AdaptiveAvgPool2d`); output
/// size 1 is global average pooling.
public final class AdaptiveAvgPool2d: Module, Layer {
    public let outputSize: Size2D

    public init(_ outputSize: Size2D) {
        self.outputSize = outputSize
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        adaptiveAvgPool2d(input, outputSize: outputSize)
    }
}

/// Inverted dropout (PyTorch's `nn.Dropout`): in training mode zeroes values with probability
/// `p` and scales the rest by 1/(1 − p); the identity in evaluation mode. Holds its own
/// generator, split from the one given at construction, so runs are reproducible.
public final class Dropout: Module, Layer {
    public let p: Float
    public var generator: SeededGenerator

    public init(_ p: Float = 0.5, using generator: inout SeededGenerator) {
        precondition(p >= 0 && p <= 1, "Dropout: probability \(p) must be in [0, 1]")
        self.p = p
        self.generator = generator.split()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        dropout(input, p: p, training: isTraining, generator: &generator)
    }
}

/// Up-sampling by an integer factor (PyTorch's `nn.Upsample(scale_factor:, mode:)`; bilinear
/// uses `align_corners=False`).
public final class Upsample: Module, Layer {
    public enum Mode: Sendable { case nearest, bilinear }
    public let scale: Size2D
    public let mode: Mode

    public init(scale: Size2D, mode: Mode = .nearest) {
        self.scale = scale
        self.mode = mode
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        switch mode {
        case .nearest: return upsampleNearest(input, scale: scale)
        case .bilinear: return upsampleBilinear(input, scale: scale)
        }
    }
}
