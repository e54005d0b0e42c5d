import Datasets
import Foundation
import Layers
import Tensors

/// The CIFAR-style ResNet encoder f of the contrastive methods (METHODS.md §1.1): a 3×3 stem,
/// BasicBlock stages, global average pooling; inputs in [0, 1] are mapped to [−1, 1] inside the
/// network. ResNet-18 is the papers' network; ResNet-20 / ResNet-8 (and `widthMultiplier`) are
/// the smaller budgets a CPU can afford.
public struct EncoderOptions: Codable, Sendable, Equatable {
    public enum Architecture: String, Codable, Sendable, CaseIterable {
        case resnet18, resnet20, resnet8
    }

    public var architecture = Architecture.resnet18
    /// Scales every stage's width (1 = the published widths).
    public var widthMultiplier = 1.0
    /// Zero-pads images whose height or width is not a multiple of 8 to the next multiple
    /// (Fashion-MNIST's 28×28 → 32×32, the CIFAR geometry) before the encoder: the engine's
    /// implicit-GEMM convolutions need output widths that are multiples of 8; a ResNet-20
    /// epoch on 28×28 images runs 1.6× faster padded (`anomaly-bench epoch --shape 1x28x28`).
    public var padsToMultipleOf8 = true

    public init(architecture: Architecture = .resnet18, widthMultiplier: Double = 1) {
        self.architecture = architecture
        self.widthMultiplier = widthMultiplier
    }

    /// The zero border (top/left, bottom/right per axis) added to images of `sampleShape`.
    public func inputPadding(sampleShape: [Int]) -> [Int] {
        guard padsToMultipleOf8 else { return [0, 0] }
        return [sampleShape[1], sampleShape[2]].map { ((($0 + 7) / 8) * 8 - $0) }
    }

    public func validate(prefix: String) throws {
        try OptionCheck.require(prefix + "widthMultiplier", widthMultiplier, in: 0.01...16)
    }

    /// The encoder for images of `sampleShape` [C, H, W], without a classifier.
    public func encoder(sampleShape: [Int], using g: inout SeededGenerator) -> ResNet {
        let (blocks, widths): ([Int], [Int]) =
            switch architecture {
            case .resnet18: ([2, 2, 2, 2], [64, 128, 256, 512])
            case .resnet20: ([3, 3, 3], [16, 32, 64])
            case .resnet8: ([1, 1, 1], [16, 32, 64])
            }
        return ResNet(
            blocks: blocks, widths: widths, widthMultiplier: widthMultiplier, inputChannels: sampleShape[0],
            classCount: nil, normalizesInput: true, using: &g)
    }
}

/// Options of the contrastive pre-training loop (`training.epochs=100`): the optimizer, the
/// schedule (linear warm-up from `learningRate` to `warmupMultiplier`·`learningRate`, then cosine
/// decay towards 0 over all epochs (or a constant rate, `cosineDecay=false`), stepped per iteration — CSI's `GradualWarmupScheduler`, §1.4)
/// and the training crop.
public struct ContrastiveTrainingOptions: Codable, Sendable, Equatable {
    public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
        /// SGD with momentum 0.9 wrapped by LARS (trust coefficient 1e-3, eps 1e-8), as CSI.
        case lars
        case adam
    }

    public var epochs: Int
    /// Images per step; each contributes 2 views (× 4 rotations with shifted instances).
    public var batchSize: Int
    public var optimizer: OptimizerKind
    /// The rate warm-up starts from; the peak is `warmupMultiplier` times it.
    public var learningRate: Double
    public var weightDecay: Double
    public var warmupEpochs: Double
    public var warmupMultiplier: Double
    /// Lower bound of the training crop's area fraction (RandomResizedCrop scale (s, 1)).
    public var cropScale: Double
    /// Cosine decay towards 0 after the warm-up; false holds the (peak) rate (Elsa's fine-tuning).
    public var cosineDecay: Bool

    public init(
        epochs: Int, batchSize: Int, optimizer: OptimizerKind, learningRate: Double, weightDecay: Double,
        warmupEpochs: Double, warmupMultiplier: Double, cropScale: Double = 0.08, cosineDecay: Bool = true
    ) {
        self.cosineDecay = cosineDecay
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.warmupEpochs = warmupEpochs
        self.warmupMultiplier = warmupMultiplier
        self.cropScale = cropScale
    }

    /// CSI's defaults (§1.4): LARS, rate 0.1 warmed up ×10 over 10 epochs, weight decay 1e-6,
    /// 1000 epochs of 128 images (32 per GPU × 4 GPUs).
    public static let csi = ContrastiveTrainingOptions(
        epochs: 1000, batchSize: 128, optimizer: .lars, learningRate: 0.1, weightDecay: 1e-6, warmupEpochs: 10,
        warmupMultiplier: 10)

    public func validate(prefix: String) throws {
        try OptionCheck.require(prefix + "epochs", epochs, in: 1...1_000_000)
        try OptionCheck.require(prefix + "batchSize", batchSize, in: 2...1_000_000)
        try OptionCheck.require(prefix + "learningRate", learningRate, in: 1e-12...100)
        try OptionCheck.require(prefix + "weightDecay", weightDecay, in: 0...100)
        try OptionCheck.require(prefix + "warmupEpochs", warmupEpochs, in: 0...1_000_000)
        try OptionCheck.require(prefix + "warmupMultiplier", warmupMultiplier, in: 1...1000)
        try OptionCheck.require(prefix + "cropScale", cropScale, in: 0.01...1)
    }

    /// Warm-up then cosine decay, in fractional epochs.
    public var schedule: LearningRateSchedule {
        let base = Float(learningRate), peak = Float(learningRate * warmupMultiplier)
        let cosine = cosineDecay
            ? LearningRateSchedule.cosineDecay(from: peak, to: 0, over: Double(epochs)) : LearningRateSchedule.constant(peak)
        guard warmupEpochs > 0 else { return cosine }
        return .gradualWarmup(base: base, multiplier: Float(warmupMultiplier), warmup: warmupEpochs, then: cosine)
    }

    /// The optimizer over `module`'s parameters.
    public func makeOptimizer(_ module: Module) -> Optimizer {
        switch optimizer {
        case .lars:
            return LARS(parameters: module.parameters(), learningRate: Float(learningRate), weightDecay: Float(weightDecay))
        case .adam:
            return Adam(parameters: module.parameters(), learningRate: Float(learningRate), weightDecay: Float(weightDecay))
        }
    }
}

/// The network of the contrastive methods: the encoder f, a projection head g (its output z is
/// not normalised by the head), an optional shift head over the rotations (CSI) and an optional
/// predictor h (SimSiam, BYOL).
public final class ContrastiveNetwork: Module {
    public let encoder: ResNet
    public let projector: Sequential
    public let shiftHead: Linear?
    public let predictor: Sequential?
    /// Zero rows and columns added to the height and width before the encoder (split evenly,
    /// the odd one at the bottom/right).
    public let inputPadding: [Int]

    public init(
        encoder: ResNet, projector: Sequential, shiftHead: Linear? = nil, predictor: Sequential? = nil,
        inputPadding: [Int] = [0, 0]
    ) {
        self.encoder = encoder
        self.projector = projector
        self.shiftHead = shiftHead
        self.predictor = predictor
        self.inputPadding = inputPadding
    }

    /// The images with `inputPadding` zeros around them.
    func padded(_ x: Tensor) -> Tensor {
        var x = x
        for (axis, total) in zip([2, 3], inputPadding) where total > 0 {
            var before = x.shape, after = x.shape
            before[axis] = total / 2
            after[axis] = total - total / 2
            x = Tensor.concat([Tensor.zeros(before).to(x.device), x, Tensor.zeros(after).to(x.device)], axis: axis)
        }
        return x
    }

    /// h = f(x), the pooled encoder feature.
    public func encode(_ x: Tensor) -> Tensor { encoder(padded(x)) }

    /// Every intermediate output of the encoder (NSA's feature ensemble).
    public func encoderFeatures(_ x: Tensor) -> ResNet.Features { encoder.features(padded(x)) }

    /// CSI's network (§1.1): g = Linear(w, w) → ReLU → Linear(w, `projectionSize`); shift head
    /// Linear(w, `shiftCount`) when `shiftCount` > 1.
    public static func csi(
        sampleShape: [Int], encoder options: EncoderOptions, projectionSize: Int = 128, shiftCount: Int,
        using g: inout SeededGenerator
    ) -> ContrastiveNetwork {
        let encoder = options.encoder(sampleShape: sampleShape, using: &g)
        let w = encoder.featureCount
        let projector = Sequential(Linear(w, w, using: &g), Lambda.relu, Linear(w, projectionSize, using: &g))
        let shift = shiftCount > 1 ? Linear(w, shiftCount, using: &g) : nil
        return ContrastiveNetwork(
            encoder: encoder, projector: projector, shiftHead: shift,
            inputPadding: options.inputPadding(sampleShape: sampleShape))
    }

    /// A multilayer perceptron Linear → BatchNorm1d → ReLU per hidden width, then Linear to the
    /// last width, followed by a BatchNorm1d when `normalizesOutput` (SimSiam's projector).
    public static func mlp(_ widths: [Int], normalizesOutput: Bool, using g: inout SeededGenerator) -> Sequential {
        var layers: [any Layer] = []
        for (i, (from, to)) in zip(widths, widths.dropFirst()).enumerated() {
            let last = i == widths.count - 2
            let normalized = !last || normalizesOutput  // a BatchNorm follows: no bias before it
            layers.append(Linear(from, to, bias: !normalized, using: &g))
            if normalized { layers.append(BatchNorm1d(to)) }
            if !last { layers.append(Lambda.relu) }
        }
        return Sequential(layers)
    }

    /// The shift head's logits, or a precondition failure when the network has none.
    public func shiftLogits(_ features: Tensor) -> Tensor {
        guard let shiftHead else { preconditionFailure("ContrastiveNetwork: no shift head") }
        return shiftHead(features)
    }
}

/// A module that trains a `ContrastiveNetwork` together with parameters of its own (HSCL's
/// prototypes): the loop's sphere diagnostics read the network's features.
public protocol ContrastiveNetworkOwner {
    var contrastiveNetwork: ContrastiveNetwork { get }
}

/// The pre-training loop every contrastive method shares (METHODS.md §1.2–1.4): a loader that
/// builds the augmented views of each batch on its prefetch thread (h-flip per copy → optional
/// rotations → `simclr_aug`, `CSIAugmentation`), the optimizer and the warm-up + cosine schedule
/// of `ContrastiveTrainingOptions`, and the `TrainingLoop` (progress, checkpoints, resume). The
/// method's `step` receives the views `[views·rotations·B, C, H, W]` in `CSIAugmentation`'s row
/// order and returns its named loss terms.
public enum ContrastivePretraining {
    /// The views of a training batch: `rotationCount` 4 for shifted instances (CSI, SC(−)), 1 for
    /// plain two-view SimCLR / SimSiam / BYOL.
    public static func views(options: ContrastiveTrainingOptions, rotationCount: Int) -> CSIAugmentation {
        CSIAugmentation(simclr: SimCLRAugmentation(cropScale: options.cropScale...1), viewCount: 2, rotationCount: rotationCount)
    }

    /// The loader: shuffled batches of `options.batchSize` images (the last incomplete batch is
    /// dropped), transformed into views on the loader's thread.
    public static func loader(
        _ samples: Samples, labels: [Int]? = nil, options: ContrastiveTrainingOptions, views: CSIAugmentation,
        seed: UInt64
    ) -> BatchLoader {
        let size = min(options.batchSize, samples.count)
        return BatchLoader(
            samples, labels: labels, batchSize: size, shuffle: true, dropLast: samples.count > size, seed: seed, prefetch: 2,
            transform: { inputs, generator in views(inputs, using: &generator) })
    }

    /// Trains `trained` (whose parameters the optimizer steps) inside `model` (everything the
    /// checkpoint stores: for BYOL also the target network) on `samples`.
    public static func run(
        phase: String = "pretraining", model: Module, trained: Module, samples: Samples,
        options: ContrastiveTrainingOptions, views: CSIAugmentation, context: TrainingContext,
        scorer: ((Samples) throws -> [Float])? = nil,
        step: (_ views: Tensor, _ imageCount: Int) throws -> [LossTerm]
    ) throws {
        try runBatches(
            phase: phase, model: model, trained: trained, samples: samples, options: options, views: views,
            context: context, scorer: scorer
        ) { views, batch in try step(views, batch.indices.count) }
    }

    /// `run` for methods that read more than the views: `step` also receives the loader's batch,
    /// whose `labels` are the images' `labels` (semi-labels; one per image, not per view — see
    /// `CSIAugmentation.viewLabels`) and whose `epoch`/`index` say where the loop is. `selection`
    /// keeps the epoch with the lowest validation loss (`ModelSelection`).
    public static func runBatches(
        phase: String = "pretraining", model: Module, trained: Module, samples: Samples, labels: [Int]? = nil,
        options: ContrastiveTrainingOptions, views: CSIAugmentation, context: TrainingContext,
        scorer: ((Samples) throws -> [Float])? = nil, selection: ModelSelection? = nil,
        step: (_ views: Tensor, _ batch: Batch) throws -> [LossTerm]
    ) throws {
        try runBatches(
            phase: phase, model: model, trained: trained, samples: samples, labels: labels, options: options, views: views,
            context: context, scorer: scorer, selection: selection
        ) { views, batch, _ in try step(views, batch) }
    }

    /// `runBatches` whose `step` also draws from the loop's own generator (sampling inside the
    /// loss, HSCL's anchors): it is saved with the checkpoint, so a resumed run draws what an
    /// uninterrupted one would.
    public static func runBatches(
        phase: String = "pretraining", model: Module, trained: Module, samples: Samples, labels: [Int]? = nil,
        options: ContrastiveTrainingOptions, views: CSIAugmentation, context: TrainingContext,
        scorer: ((Samples) throws -> [Float])? = nil, selection: ModelSelection? = nil,
        step: (_ views: Tensor, _ batch: Batch, _ generator: inout SeededGenerator) throws -> [LossTerm]
    ) throws {
        let optimizer = options.makeOptimizer(trained)
        var loop = TrainingLoop(
            phase: phase, epochs: options.epochs,
            loader: loader(samples, labels: labels, options: options, views: views, seed: context.seed &+ 11), model: model,
            optimizer: optimizer, schedule: options.schedule, seed: context.seed &+ 11)
        let probe = samples.selecting(Array(0..<min(samples.count, 1000)))
        let diagnostics = { () throws -> [String: Double] in
            guard let network = (trained as? ContrastiveNetwork) ?? (trained as? ContrastiveNetworkOwner)?.contrastiveNetwork
            else { return [:] }
            var features: [Tensor] = []
            BatchScorer.forEachBatch(probe, sampleShape: probe.sampleShape, batchSize: 256, device: context.device) {
                features.append(network.encode($1))
            }
            return SphereStatistics.measure(Tensor.concat(features))
        }
        try loop.run(context: context, scorer: scorer, selection: selection, diagnostics: diagnostics) { batch, generator in
            try step(batch.inputs.to(context.device), batch, &generator)
        }
    }

    /// The contrastive methods read images (square ones when they rotate them): a clear error
    /// for other inputs.
    public static func requireImages(_ samples: Samples, detector: String, rotates: Bool) throws {
        let shape = samples.sampleShape
        guard shape.count == 3, shape[1] >= 8, shape[2] >= 8 else {
            throw DetectorError.invalidConfiguration(
                "\(detector) needs images [C, H, W] of at least 8×8 pixels; the training samples have shape \(shape)")
        }
        guard !rotates || shape[1] == shape[2] else {
            throw DetectorError.invalidConfiguration(
                "\(detector) rotates images by quarter turns and needs square ones; the training samples are \(shape[1])×\(shape[2])")
        }
    }
}

/// How the unit-normalised features of the training images fill the sphere, NSA's diagnostics
/// (§2.4.5): the von Mises–Fisher concentration κ (Banerjee et al. 2005's approximation from the
/// mean resultant length R̄: κ ≈ R̄(d − R̄²)/(1 − R̄²)) and the MMD² (unbiased, Gaussian kernel
/// exp(−‖a − b‖²/2)) between the features and as many points drawn uniformly on the sphere
/// (fixed seed). Compact normal features have a large κ and a large MMD to the uniform.
public enum SphereStatistics {
    public static func measure(_ features: Tensor) -> [String: Double] {
        withoutGradients {
            let (n, d) = (features.shape[0], features.shape[1])
            guard n >= 2 else { return [:] }
            let u = l2Normalize(features)
            let r = Double(u.mean(axis: 0).squared().sum().sqrt().item())
            let kappa = r * (Double(d) - r * r) / max(1 - r * r, 1e-12)
            var g = SeededGenerator(seed: 0x5EED)
            let uniform = l2Normalize(Tensor.normal([n, d], using: &g).to(features.device))
            // k(a, b) = exp(−‖a − b‖²/2) = exp(aᵀb − 1) on the unit sphere.
            func meanKernel(_ a: Tensor, _ b: Tensor, excludingDiagonal: Bool) -> Double {
                let total = Double((matmul(a, b, transposeB: true) - 1).exp().sum().item())
                return excludingDiagonal ? (total - Double(n)) / Double(n * (n - 1)) : total / Double(n * n)
            }
            let mmd = meanKernel(u, u, excludingDiagonal: true) + meanKernel(uniform, uniform, excludingDiagonal: true)
                - 2 * meanKernel(u, uniform, excludingDiagonal: false)
            return ["vMF kappa": kappa, "MMD to uniform": mmd]
        }
    }
}

// MARK: - Losses

/// The shift-classification loss L_cls-SI of CSI (§1.4): cross-entropy of the shift head's
/// logits against each view's rotation index.
public func shiftClassificationLoss(logits: Tensor, rotations: [Int]) -> Tensor {
    crossEntropy(logits: logits, labels: rotations)
}

/// SimSiam's / BYOL's symmetric negative cosine (NSA §2.4.1):
/// L = ½ D(p₁, sg(t₂)) + ½ D(p₂, sg(t₁)), D(p, t) = −cos(p, t), averaged over the batch. `p` and
/// `targets` hold the two views' rows `[p₁; p₂]`, `[t₁; t₂]`; the targets are detached here.
public func symmetricNegativeCosineLoss(predictions p: Tensor, targets t: Tensor) -> Tensor {
    let b = p.shape[0] / 2
    precondition(p.shape[0] == 2 * b && b > 0 && t.shape == p.shape, "symmetricNegativeCosineLoss: need [2B, d] predictions and targets, got \(p.shape), \(t.shape)")
    let swapped = Tensor.concat([t.slice(b..<(2 * b)), t.slice(0..<b)]).detached()
    return -cosineSimilarity(p, swapped, axis: 1).mean()
}
