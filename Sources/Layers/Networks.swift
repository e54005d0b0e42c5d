import Tensors

// The networks of METHODS.md §1.1 and §3.1 and of bench/WORKLOADS.md.

/// A CIFAR-style residual block: two 3×3 convolutions with batch norm, a 1×1 convolution + batch
/// norm projection when the shape changes, ReLU after the sum.
public final class BasicBlock: Module, Layer {
    public let conv1: Conv2d
    public let bn1: BatchNorm2d
    public let conv2: Conv2d
    public let bn2: BatchNorm2d
    public let shortcut: Sequential?

    public init(_ inChannels: Int, _ outChannels: Int, stride: Int, using generator: inout SeededGenerator) {
        conv1 = Conv2d(inChannels, outChannels, kernelSize: 3, stride: Size2D(stride), padding: 1, bias: false, using: &generator)
        bn1 = BatchNorm2d(outChannels)
        conv2 = Conv2d(outChannels, outChannels, kernelSize: 3, stride: 1, padding: 1, bias: false, using: &generator)
        bn2 = BatchNorm2d(outChannels)
        if stride != 1 || inChannels != outChannels {
            shortcut = Sequential(
                Conv2d(inChannels, outChannels, kernelSize: 1, stride: Size2D(stride), bias: false, using: &generator),
                BatchNorm2d(outChannels))
        } else {
            shortcut = nil
        }
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let y = bn2(conv2(bn1(conv1(input), relu: true)))
        return addReLU(y, shortcut.map { $0(input) } ?? input)
    }
}

/// The CIFAR ResNet family (32×32 inputs): a 3×3 stem (stride 1, no max-pool), stages of
/// `BasicBlock`s with stride 2 at each later stage's start, global average pooling, and an
/// optional linear classifier. ResNet-18 (§1.1) has blocks [2, 2, 2, 2] at widths 64…512;
/// ResNet-20 and ResNet-8 have [3, 3, 3] and [1, 1, 1] at 16/32/64.
public final class ResNet: Module, Layer {
    public let stem: Conv2d
    public let stemNorm: BatchNorm2d
    /// `stages[i]` holds the blocks of stage i+1 (PyTorch's `layer1` …).
    public let stages: [Sequential]
    public let classifier: Linear?
    /// Maps [0, 1] inputs to [−1, 1] inside the network, as CSI does (§1.1).
    public let normalizesInput: Bool
    /// Width of the pooled feature (the penultimate layer).
    public let featureCount: Int

    public init(
        blocks: [Int], widths: [Int], widthMultiplier: Double = 1, inputChannels: Int = 3, classCount: Int? = 10,
        normalizesInput: Bool = false, using generator: inout SeededGenerator
    ) {
        precondition(blocks.count == widths.count && !blocks.isEmpty, "ResNet: blocks \(blocks) and widths \(widths) differ in length")
        let scaled = widths.map { max(1, Int((Double($0) * widthMultiplier).rounded())) }
        stem = Conv2d(inputChannels, scaled[0], kernelSize: 3, stride: 1, padding: 1, bias: false, using: &generator)
        stemNorm = BatchNorm2d(scaled[0])
        var stages: [Sequential] = []
        var channels = scaled[0]
        for (i, (count, width)) in zip(blocks, scaled).enumerated() {
            var stage: [any Layer] = []
            for j in 0..<count {
                stage.append(BasicBlock(channels, width, stride: i > 0 && j == 0 ? 2 : 1, using: &generator))
                channels = width
            }
            stages.append(Sequential(stage))
        }
        self.stages = stages
        featureCount = channels
        classifier = classCount.map { Linear(channels, $0, using: &generator) }
        self.normalizesInput = normalizesInput
    }

    /// CIFAR ResNet-18 (METHODS.md §1.1), optionally narrower or wider.
    public static func resnet18(
        classCount: Int? = 10, widthMultiplier: Double = 1, normalizesInput: Bool = true, using generator: inout SeededGenerator
    ) -> ResNet {
        ResNet(blocks: [2, 2, 2, 2], widths: [64, 128, 256, 512], widthMultiplier: widthMultiplier, classCount: classCount,
               normalizesInput: normalizesInput, using: &generator)
    }

    /// CIFAR ResNet-20 (bench/WORKLOADS.md).
    public static func resnet20(classCount: Int? = 10, normalizesInput: Bool = false, using generator: inout SeededGenerator) -> ResNet {
        ResNet(blocks: [3, 3, 3], widths: [16, 32, 64], classCount: classCount, normalizesInput: normalizesInput, using: &generator)
    }

    /// CIFAR ResNet-8 (bench/WORKLOADS.md).
    public static func resnet8(classCount: Int? = 10, normalizesInput: Bool = false, using generator: inout SeededGenerator) -> ResNet {
        ResNet(blocks: [1, 1, 1], widths: [16, 32, 64], classCount: classCount, normalizesInput: normalizesInput, using: &generator)
    }

    /// Every intermediate output: the stem's, each stage's (NSA's feature ensemble reads them),
    /// and the globally pooled penultimate feature [N, featureCount].
    public struct Features {
        public var stem: Tensor
        public var stages: [Tensor]
        public var pooled: Tensor
    }

    public func features(_ input: Tensor) -> Features {
        let x = normalizesInput ? (input - 0.5) * 2 : input
        let stemOutput = stemNorm(stem(x), relu: true)
        var stageOutputs: [Tensor] = []
        var h = stemOutput
        for stage in stages {
            h = stage(h)
            stageOutputs.append(h)
        }
        let pooled = adaptiveAvgPool2d(h, outputSize: 1).flattened()
        return Features(stem: stemOutput, stages: stageOutputs, pooled: pooled)
    }

    /// Logits when there is a classifier, else the pooled features.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        let pooled = features(input).pooled
        return classifier.map { $0(pooled) } ?? pooled
    }
}

/// Deep SVDD's LeNet-style encoders and autoencoders (Ruff et al. 2018; METHODS.md §3.1):
/// bias-free convolutions, batch norm without affine parameters (eps 1e-4), leaky ReLU, 2×2
/// max-pooling; the decoder mirrors the encoder with transposed convolutions and ×2 nearest
/// up-sampling, ending in a sigmoid.
public final class LeNetEncoder: Module, Layer {
    public let convs: [Conv2d]
    public let norms: [BatchNorm2d]
    public let fc: Linear
    /// Batch norm of the code (CIFAR-10 autoencoder only).
    public let codeNorm: BatchNorm1d?
    public let codeSize: Int

    init(inputChannels: Int, channels: [Int], spatialAfterPooling: Int, codeSize: Int, codeNorm: Bool, using generator: inout SeededGenerator) {
        var convs: [Conv2d] = [], norms: [BatchNorm2d] = []
        var c = inputChannels
        for width in channels {
            convs.append(Conv2d(c, width, kernelSize: 5, padding: 2, bias: false, using: &generator))
            norms.append(BatchNorm2d(width, epsilon: 1e-4, affine: false))
            c = width
        }
        self.convs = convs
        self.norms = norms
        fc = Linear(c * spatialAfterPooling * spatialAfterPooling, codeSize, bias: false, using: &generator)
        self.codeNorm = codeNorm ? BatchNorm1d(codeSize, epsilon: 1e-4, affine: false) : nil
        self.codeSize = codeSize
    }

    /// MNIST encoder: 1→8→4 channels, 28 → 7, code 32.
    public static func mnist(codeSize: Int = 32, using generator: inout SeededGenerator) -> LeNetEncoder {
        LeNetEncoder(inputChannels: 1, channels: [8, 4], spatialAfterPooling: 7, codeSize: codeSize, codeNorm: false, using: &generator)
    }

    /// CIFAR-10 encoder: 3→32→64→128 channels, 32 → 4, code 128.
    public static func cifar10(codeSize: Int = 128, codeNorm: Bool = false, using generator: inout SeededGenerator) -> LeNetEncoder {
        LeNetEncoder(inputChannels: 3, channels: [32, 64, 128], spatialAfterPooling: 4, codeSize: codeSize, codeNorm: codeNorm, using: &generator)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        var x = input
        for (conv, norm) in zip(convs, norms) {
            x = maxPool2d(norm(conv(x)).leakyRelu(), kernel: 2)
        }
        let code = fc(x.flattened())
        return codeNorm.map { $0(code) } ?? code
    }
}

/// The mirror of a `LeNetEncoder`.
public final class LeNetDecoder: Module, Layer {
    public let deconvs: [ConvTranspose2d]
    public let norms: [BatchNorm2d]
    let codeChannels: Int
    /// Whether the 4×4 code map is up-sampled ×2 before the first transposed convolution
    /// (the MNIST decoder) or not (CIFAR-10).
    let upsamplesCode: Bool

    init(codeSize: Int, channels: [Int], paddings: [Int], outputChannels: Int, upsamplesCode: Bool, using generator: inout SeededGenerator) {
        codeChannels = codeSize / 16
        self.upsamplesCode = upsamplesCode
        var deconvs: [ConvTranspose2d] = [], norms: [BatchNorm2d] = []
        var c = codeChannels
        for (width, padding) in zip(channels, paddings) {
            deconvs.append(ConvTranspose2d(c, width, kernelSize: 5, padding: Size2D(padding), bias: false, using: &generator))
            norms.append(BatchNorm2d(width, epsilon: 1e-4, affine: false))
            c = width
        }
        deconvs.append(ConvTranspose2d(c, outputChannels, kernelSize: 5, padding: 2, bias: false, using: &generator))
        self.deconvs = deconvs
        self.norms = norms
    }

    public func callAsFunction(_ code: Tensor) -> Tensor {
        var x = code.reshaped([code.shape[0], codeChannels, 4, 4]).leakyRelu()
        if upsamplesCode { x = upsampleNearest(x, scale: 2) }
        for (deconv, norm) in zip(deconvs, norms) {
            x = upsampleNearest(norm(deconv(x)).leakyRelu(), scale: 2)
        }
        return deconvs.last!(x).sigmoid()
    }
}

/// Encoder + decoder; `callAsFunction` reconstructs the input.
public final class LeNetAutoencoder: Module, Layer {
    public let encoder: LeNetEncoder
    public let decoder: LeNetDecoder

    /// MNIST autoencoder (bench workload `mnist_ae`): 28×28 in and out.
    public static func mnist(codeSize: Int = 32, using generator: inout SeededGenerator) -> LeNetAutoencoder {
        LeNetAutoencoder(
            encoder: .mnist(codeSize: codeSize, using: &generator),
            decoder: LeNetDecoder(codeSize: codeSize, channels: [4, 8], paddings: [2, 3], outputChannels: 1, upsamplesCode: true, using: &generator))
    }

    /// CIFAR-10 autoencoder: 32×32×3 in and out.
    public static func cifar10(codeSize: Int = 128, using generator: inout SeededGenerator) -> LeNetAutoencoder {
        LeNetAutoencoder(
            encoder: .cifar10(codeSize: codeSize, codeNorm: true, using: &generator),
            decoder: LeNetDecoder(codeSize: codeSize, channels: [128, 64, 32], paddings: [2, 2, 2], outputChannels: 3, upsamplesCode: false, using: &generator))
    }

    public init(encoder: LeNetEncoder, decoder: LeNetDecoder) {
        self.encoder = encoder
        self.decoder = decoder
    }

    public func callAsFunction(_ input: Tensor) -> Tensor { decoder(encoder(input)) }
}
