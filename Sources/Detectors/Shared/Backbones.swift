import Datasets
import Layers
import Tensors

/// Architecture options shared by the autoencoding detectors (`network.codeSize=64`).
public struct NetworkOptions: Codable, Sendable, Equatable {
    /// Size of the code (the representation); nil = 32 for MNIST-shaped images, 128 for
    /// CIFAR-shaped ones, 32 for other inputs.
    public var codeSize: Int?
    /// Hidden widths of the fully connected networks used for tables and other shapes.
    public var hiddenWidths: [Int]

    public init(codeSize: Int? = nil, hiddenWidths: [Int] = [128, 64]) {
        self.codeSize = codeSize
        self.hiddenWidths = hiddenWidths
    }

    public func validate(prefix: String) throws {
        if let codeSize { try OptionCheck.require(prefix + "codeSize", codeSize, in: 1...65_536) }
        for width in hiddenWidths { try OptionCheck.require(prefix + "hiddenWidths", width, in: 1...65_536) }
    }
}

/// Sample shape → network, for every deep detector: Deep SVDD's bias-free LeNet encoders for
/// MNIST-shaped (1×28×28) and CIFAR-shaped (3×32×32) images, a bias-free MLP otherwise
/// (METHODS.md §3.1; Deep SAD's MLPs for tables).
public enum Backbones {
    public enum Kind: Equatable { case mnistLeNet, cifarLeNet, mlp(inputCount: Int) }

    public static func kind(of sampleShape: [Int]) -> Kind {
        switch sampleShape {
        case [1, 28, 28]: return .mnistLeNet
        case [3, 32, 32]: return .cifarLeNet
        default: return .mlp(inputCount: sampleShape.reduce(1, *))
        }
    }

    public static func codeSize(_ options: NetworkOptions, for shape: [Int]) -> Int {
        options.codeSize ?? (kind(of: shape) == .cifarLeNet ? 128 : 32)
    }

    /// The bias-free encoder φ of Deep SVDD / Deep SAD.
    public static func encoder(sampleShape shape: [Int], options: NetworkOptions, using g: inout SeededGenerator)
        -> any Layer
    {
        let code = codeSize(options, for: shape)
        switch kind(of: shape) {
        case .mnistLeNet: return LeNetEncoder.mnist(codeSize: code, using: &g)
        case .cifarLeNet: return LeNetEncoder.cifar10(codeSize: code, using: &g)
        case .mlp(let d): return MLPEncoder(inputCount: d, hiddenWidths: options.hiddenWidths, codeSize: code, using: &g)
        }
    }

    /// The autoencoder whose encoder has the same tensor names as `encoder(sampleShape:…)`
    /// (plus, for CIFAR, a batch norm of the code), for pre-training.
    public static func autoencoder(sampleShape shape: [Int], options: NetworkOptions, using g: inout SeededGenerator)
        -> Autoencoder
    {
        let code = codeSize(options, for: shape)
        switch kind(of: shape) {
        case .mnistLeNet:
            let ae = LeNetAutoencoder.mnist(codeSize: code, using: &g)
            return Autoencoder(encoder: ae.encoder, decoder: ae.decoder)
        case .cifarLeNet:
            let ae = LeNetAutoencoder.cifar10(codeSize: code, using: &g)
            return Autoencoder(encoder: ae.encoder, decoder: ae.decoder)
        case .mlp(let d):
            let encoder = MLPEncoder(inputCount: d, hiddenWidths: options.hiddenWidths, codeSize: code, using: &g)
            let decoder = MLPDecoder(codeSize: code, hiddenWidths: options.hiddenWidths.reversed(), outputShape: shape, using: &g)
            return Autoencoder(encoder: encoder, decoder: decoder)
        }
    }
}

/// An encoder and a decoder; called like a function it reconstructs its input.
public final class Autoencoder: Module, Layer {
    public let encoder: any Layer
    public let decoder: any Layer

    public init(encoder: any Layer, decoder: any Layer) {
        self.encoder = encoder
        self.decoder = decoder
    }

    public func callAsFunction(_ input: Tensor) -> Tensor { decoder(encoder(input)) }
}

/// Deep SAD's fully connected encoder: (bias-free Linear → BatchNorm1d(eps 1e-4, no affine) →
/// leaky ReLU) per hidden width, then a bias-free Linear to the code.
public final class MLPEncoder: Module, Layer {
    public let hidden: [Linear]
    public let norms: [BatchNorm1d]
    public let code: Linear

    public init(inputCount: Int, hiddenWidths: [Int], codeSize: Int, using g: inout SeededGenerator) {
        (hidden, norms) = Self.hiddenLayers(from: inputCount, widths: hiddenWidths, using: &g)
        code = Linear(hiddenWidths.last ?? inputCount, codeSize, bias: false, using: &g)
    }

    /// Bias-free Linear + BatchNorm1d(eps 1e-4, no affine) pairs of the given widths.
    static func hiddenLayers(from inputCount: Int, widths: [Int], using g: inout SeededGenerator)
        -> ([Linear], [BatchNorm1d])
    {
        var hidden: [Linear] = [], norms: [BatchNorm1d] = []
        var width = inputCount
        for next in widths {
            hidden.append(Linear(width, next, bias: false, using: &g))
            norms.append(BatchNorm1d(next, epsilon: 1e-4, affine: false))
            width = next
        }
        return (hidden, norms)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        var x = input.flattened()
        for (linear, norm) in zip(hidden, norms) { x = norm(linear(x)).leakyRelu() }
        return code(x)
    }
}

/// The mirror of `MLPEncoder`, ending in a linear layer reshaped to the sample shape (no
/// sigmoid: our tables are z-scored, not scaled to [0, 1]).
public final class MLPDecoder: Module, Layer {
    public let hidden: [Linear]
    public let norms: [BatchNorm1d]
    public let output: Linear
    let outputShape: [Int]

    public init(codeSize: Int, hiddenWidths: [Int], outputShape: [Int], using g: inout SeededGenerator) {
        (hidden, norms) = MLPEncoder.hiddenLayers(from: codeSize, widths: hiddenWidths, using: &g)
        output = Linear(hiddenWidths.last ?? codeSize, outputShape.reduce(1, *), bias: false, using: &g)
        self.outputShape = outputShape
    }

    public func callAsFunction(_ code: Tensor) -> Tensor {
        var x = code.leakyRelu()
        for (linear, norm) in zip(hidden, norms) { x = norm(linear(x)).leakyRelu() }
        return output(x).reshaped([code.shape[0]] + outputShape)
    }
}

/// How inputs are scaled before a network sees them.
public enum InputNormalization: String, Codable, Sendable, CaseIterable {
    /// As read ([0, 1] pixels, z-scored table columns).
    case none
    /// Deep SVDD's: per-sample global contrast normalisation (subtract the sample's mean, divide
    /// by its mean absolute deviation, "l1"), then min–max scaling to [0, 1] with the minimum and
    /// maximum over the training data.
    case gcnMinMax
    /// (x − mean_c) / std_c per channel (per column for tables), with the training data's
    /// statistics.
    case channelStandardization
    /// Deep SVDD's by input kind: `gcnMinMax` for images (samples of rank > 1, `[C, H, W]`);
    /// `none` for tables and other vectors, whose columns the readers already z-score
    /// (contrast-normalising a row of unrelated columns mixes them: Deep SVDD's thyroid AUROC
    /// fell to 0.48 with it, 0.99 without).
    case automatic

    /// The concrete normalization for samples of this shape (`automatic` resolved).
    public func resolved(for sampleShape: [Int]) -> InputNormalization {
        guard self == .automatic else { return self }
        return sampleShape.count > 1 ? .gcnMinMax : .none
    }
}

/// The input scaling of a fitted detector, with its training statistics as buffers.
public final class InputScaling: Module {
    public let minimum = Tensor([0])
    public let maximum = Tensor([1])
    /// Per-channel statistics (channel standardisation only).
    public let channelMean: Tensor?
    public let channelStd: Tensor?
    let normalization: InputNormalization
    /// `[1, C, 1, …]`: how the channel statistics broadcast over a batch.
    let channelShape: [Int]

    /// `automatic` is resolved here, by `sampleShape`.
    public init(_ normalization: InputNormalization, sampleShape: [Int] = []) {
        let normalization = normalization.resolved(for: sampleShape)
        self.normalization = normalization
        let channels = sampleShape.first ?? 1
        channelShape = [1, channels] + [Int](repeating: 1, count: max(sampleShape.count - 1, 0))
        let standardizes = normalization == .channelStandardization
        channelMean = standardizes ? Tensor.zeros([channels]) : nil
        channelStd = standardizes ? Tensor.ones([channels]) : nil
    }

    /// Global contrast normalisation (l1) of each sample of `x` ([B] + sample shape).
    static func contrastNormalized(_ x: Tensor) -> Tensor {
        let rows = x.reshaped([x.shape[0], x.count / max(x.shape[0], 1)])
        let centred = rows - rows.mean(axis: 1, keepDims: true)
        let scale = centred.abs().mean(axis: 1, keepDims: true).clamped(min: 1e-12)
        return (centred / scale).reshaped(x.shape)
    }

    /// Sets the statistics from the training samples (in batches of 1024).
    public func fit(_ samples: Samples, device: Device) {
        guard normalization != .none, samples.count > 0 else { return }
        var lo = Float.infinity, hi = -Float.infinity
        let channels = channelShape[1]
        var sum = [Double](repeating: 0, count: channels), squares = sum
        let width = samples.featureCount
        BatchScorer.forEachBatch(samples, sampleShape: samples.sampleShape, batchSize: 1024, device: device) { _, x in
            if normalization == .gcnMinMax {
                let g = Self.contrastNormalized(x)
                lo = min(lo, g.min().item())
                hi = max(hi, g.max().item())
            } else {
                let perChannel = x.reshaped([x.shape[0], channels, width / channels])
                let s = perChannel.sum(axes: [0, 2]).toArray(), q = perChannel.squared().sum(axes: [0, 2]).toArray()
                for c in 0..<channels {
                    sum[c] += Double(s[c])
                    squares[c] += Double(q[c])
                }
            }
        }
        withoutGradients {
            if normalization == .gcnMinMax {
                minimum.assign(Tensor([lo]).to(minimum.device))
                maximum.assign(Tensor([hi > lo ? hi : lo + 1]).to(maximum.device))
            } else if let channelMean, let channelStd {
                let n = Double(samples.count * (width / channels))
                let mean = sum.map { $0 / n }
                let std = zip(squares, mean).map { q, m in Swift.max((q / n - m * m).squareRoot(), 1e-6) }
                channelMean.assign(Tensor(mean.map(Float.init)).to(channelMean.device))
                channelStd.assign(Tensor(std.map(Float.init)).to(channelStd.device))
            }
        }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch normalization {
        case .none, .automatic: return x
        case .gcnMinMax: return (Self.contrastNormalized(x) - minimum) / (maximum - minimum)
        case .channelStandardization:
            guard let channelMean, let channelStd else { return x }
            return (x - channelMean.reshaped(channelShape)) / channelStd.reshaped(channelShape)
        }
    }
}

extension Module {
    /// Copies the tensors of `source` whose names (and shapes) also exist here, e.g. a
    /// pre-trained autoencoder's encoder into a detector's network; returns the names copied.
    @discardableResult
    public func copyMatchingTensors(from source: Module) -> [String] {
        let mine = Dictionary(uniqueKeysWithValues: namedTensors().map { ($0.name, $0.tensor) })
        var copied: [String] = []
        withoutGradients {
            for (name, tensor) in source.namedTensors() {
                guard let target = mine[name], target.shape == tensor.shape else { continue }
                target.assign(tensor)
                copied.append(name)
            }
        }
        return copied
    }
}

/// A convolutional encoder whose code is batch-normalised without affine parameters, so that
/// latent batches have zero mean and unit variance (CANCE's autoencoder, METHODS.md §2.5.2 [A]):
/// per width, a 5×5 convolution (bias-free) → BatchNorm2d (eps 1e-4, no affine) → leaky ReLU →
/// 2×2 max-pooling; then a bias-free linear layer to the code and BatchNorm1d (no affine).
public final class NormalizedCodeEncoder: Module, Layer {
    public let convs: [Conv2d]
    public let norms: [BatchNorm2d]
    public let code: Linear
    public let codeNorm: BatchNorm1d

    /// `sampleShape` [C, H, W] with H and W divisible by 2^widths.count.
    public init(sampleShape: [Int], widths: [Int], codeSize: Int, using g: inout SeededGenerator) {
        var convs: [Conv2d] = [], norms: [BatchNorm2d] = []
        var c = sampleShape[0]
        for width in widths {
            convs.append(Conv2d(c, width, kernelSize: 5, padding: 2, bias: false, using: &g))
            norms.append(BatchNorm2d(width, epsilon: 1e-4, affine: false))
            c = width
        }
        (self.convs, self.norms) = (convs, norms)
        let reduction = 1 << widths.count
        code = Linear(c * (sampleShape[1] / reduction) * (sampleShape[2] / reduction), codeSize, bias: false, using: &g)
        codeNorm = BatchNorm1d(codeSize, epsilon: 1e-4, affine: false)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        var x = input
        for (conv, norm) in zip(convs, norms) { x = maxPool2d(norm(conv(x)).leakyRelu(), kernel: 2) }
        return codeNorm(code(x.flattened()))
    }
}

/// The mirror of `NormalizedCodeEncoder`: a bias-free linear layer to the smallest feature map,
/// then per width ×2 nearest up-sampling → 5×5 convolution → BatchNorm2d → leaky ReLU, and a
/// last up-sampling and 5×5 convolution to the image's channels, ending in a sigmoid ([0, 1]
/// pixels).
public final class NormalizedCodeDecoder: Module, Layer {
    public let input: Linear
    public let convs: [Conv2d]
    public let norms: [BatchNorm2d]
    public let output: Conv2d
    let mapShape: [Int]

    public init(sampleShape: [Int], widths: [Int], codeSize: Int, using g: inout SeededGenerator) {
        let reduction = 1 << widths.count
        mapShape = [widths.last!, sampleShape[1] / reduction, sampleShape[2] / reduction]
        input = Linear(codeSize, mapShape.reduce(1, *), bias: false, using: &g)
        var convs: [Conv2d] = [], norms: [BatchNorm2d] = []
        for (from, to) in zip(widths.reversed(), widths.reversed().dropFirst()) {
            convs.append(Conv2d(from, to, kernelSize: 5, padding: 2, bias: false, using: &g))
            norms.append(BatchNorm2d(to, epsilon: 1e-4, affine: false))
        }
        (self.convs, self.norms) = (convs, norms)
        output = Conv2d(widths[0], sampleShape[0], kernelSize: 5, padding: 2, using: &g)
    }

    public func callAsFunction(_ code: Tensor) -> Tensor {
        var x = input(code).reshaped([code.shape[0]] + mapShape).leakyRelu()
        for (conv, norm) in zip(convs, norms) { x = norm(conv(upsampleNearest(x, scale: 2))).leakyRelu() }
        return output(upsampleNearest(x, scale: 2)).sigmoid()
    }
}

extension Backbones {
    /// An autoencoder whose code is batch-normalised (no affine): `NormalizedCodeEncoder` /
    /// `Decoder` for images (`widths` per down-sampling), Deep SAD's MLPs with a BatchNorm1d on
    /// the code for other shapes (`hiddenWidths`).
    public static func normalizedCodeAutoencoder(
        sampleShape shape: [Int], codeSize: Int, widths: [Int], hiddenWidths: [Int], using g: inout SeededGenerator
    ) -> Autoencoder {
        if shape.count == 3, !widths.isEmpty {
            return Autoencoder(
                encoder: NormalizedCodeEncoder(sampleShape: shape, widths: widths, codeSize: codeSize, using: &g),
                decoder: NormalizedCodeDecoder(sampleShape: shape, widths: widths, codeSize: codeSize, using: &g))
        }
        let d = shape.reduce(1, *)
        return Autoencoder(
            encoder: Sequential(
                MLPEncoder(inputCount: d, hiddenWidths: hiddenWidths, codeSize: codeSize, using: &g),
                BatchNorm1d(codeSize, epsilon: 1e-4, affine: false)),
            decoder: MLPDecoder(codeSize: codeSize, hiddenWidths: hiddenWidths.reversed(), outputShape: shape, using: &g))
    }
}
