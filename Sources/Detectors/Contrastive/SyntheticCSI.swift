import Datasets
import Foundation
import Layers
import Tensors

/// CSI with synthetic inliers from an adversarial autoencoder (Yu & Chiu, MVA 2021, "Boosting
/// Semi-Supervised Anomaly Detection via Contrasting Synthetic Images"; METHODS.md §2.3).
///
/// Networks: F = CSI's network (§1.4: CIFAR ResNet, 128-d projection, 4-way rotation head);
/// G: h → x̃ with h ~ N(0, I); E: x → h; D: image discriminator; D′: latent discriminator.
///
/// Training (paper Alg. 1), for every batch X of normal images:
/// 1. update F with L_CSI(X), the standard CSI step (`CSI.lossTerms`);
/// 2. every N-th batch (`adversarialInterval`, N = 5; iterations counted over the whole run)
///    additionally:
///    a. h ~ N(0, I) (as many as images in X), X̃ = G(h), X̂ = G(E(X));
///    b. D step on L_D = log D(x) + log(1 − D(x̃)) + log(1 − D(x̂)) — the standard game, D
///       maximises (real → 1, x̃ and x̂ → 0); then G, E step on −log D(x̃) − log D(x̂)
///       (non-saturating; pitfall 22);
///    c. G step on L_CSI-S = L_CSI(X̃), gradients through F with F frozen;
///    d. D′ step on L_LD = log D′(h) + log(1 − D′(E(x))) (prior samples real); then E step on
///       −log D′(E(x));
///    e. G, E step on L_REC = λ·mean (x − x̂)² − mean sim(F(T1 x), F(T2 x̂)), λ = 100, F frozen;
///    f. E step on L_LREC = mean (E(G(h)) − h)² (G held fixed: G(h) detached);
///    g. F step on L_JOINT = L_CSI(X ∪ X̃) (X̃ detached, augmented on the host like X).
///
/// Score (Eq. 11, normality; this detector returns its negative, higher = more anomalous):
/// m(u, v) = sim(F(u), F(v))·‖F(u)‖ on projections averaged over R = `testViews` test views
/// (the code's feature-level ensemble, as CSI), and one nearest training image shared by the
/// four rotations: M(x) = max_m Σ_k ⟨z̄_k(x), z̄_k(x_m)/‖z̄_k(x_m)‖⟩. No rotation-logit term, no
/// per-shift weights (`ShiftedFeatureBank.sharedNeighbourNormality`; `score=csi` gives CSI's
/// score of the same F instead).
///
/// Choices the paper leaves open ([A]/[U] in the spec), all stated here:
/// * Image geometry: G and E/D work at the padded size P = 8·⌈H/8⌉ × 8·⌈W/8⌉ (28×28 → 32×32,
///   CIFAR 32×32 unchanged); G's output is centre-cropped to H×W, and E and D pad their input
///   with −1 (black, the value F's zero padding has in [0, 1]) back to P.
/// * G (SN-GAN "standard CNN" generator): Linear(128 → w·P/8·P/8) → BN → ReLU → three
///   ConvTranspose 4×4 stride 2 (w → w/2 → w/4 → w/8, each BN + ReLU) → Conv 3×3 → C → tanh;
///   w = `generatorWidth` (512 as SN-GAN).
/// * E (mirror of G): Conv 3×3 C → w/8, LeakyReLU(0.1), three Conv 4×4 stride 2
///   (w/8 → w/4 → w/2 → w, BN + LeakyReLU(0.1)), Linear(w·P/8·P/8 → 128).
/// * D (SN-GAN standard CNN discriminator, spectrally normalised, `spectralNorm`): Conv 3×3
///   w/8, Conv 4×4/2 w/8, Conv 3×3 w/4, Conv 4×4/2 w/4, Conv 3×3 w/2, Conv 4×4/2 w/2,
///   Conv 3×3 w, LeakyReLU(0.1) after each, Linear → 1 logit.
/// * D′: MLP 128 → 512 → 512 → 1 with LeakyReLU(0.2) (`latentDiscriminatorWidth`), no spectral
///   normalisation.
/// * GAN images live in [−1, 1]; F reads (x + 1)/2 in [0, 1].
/// * ‖·‖² in L_REC and L_LREC is the mean over elements (a per-image sum would make λ = 100
///   dwarf every other term).
/// * T1, T2 in L_REC and the views of X̃ in step c must pass gradients to G and E, which the
///   host augmentations cannot: `DifferentiableViews` is a differentiable subset of
///   `simclr_aug` (flip, rotation, random resized crop as bilinear interpolation matrices,
///   brightness and contrast with probability 0.8, grey with probability 0.2; no hue or
///   saturation jitter). L_JOINT uses the host `CSIAugmentation`, as the loader does for X.
/// * Optimisers: F with `training` (CSI's LARS and warm-up + cosine by default, the loop's
///   optimizer); G, E, D, D′ each with Adam(2e-4, β = (0.9, 0.999)), constant rate, whose state
///   the training checkpoint keeps (`TrainingLoop.auxiliaryOptimizers`).
/// * "F frozen" (steps c and e) stops F's gradients; F stays in training mode, so those passes
///   (synthetic images, reconstructions, the differentiable views) also move F's BatchNorm
///   running statistics, 3 of every 9 updates — what `requires_grad = False` does in PyTorch.
///   `holdFrozenStatistics` keeps them out (F still normalises those batches by their own
///   statistics). Measured: pullover, seed 1, 5 epochs: +0.4 (Eq. 11) and +0.2 (CSI's score);
///   the unit-test budget (4 epochs, seeds 1–4): 0.46–0.67 AUROC held against 0.66–0.70 not.
/// * The reported `con-SI`/`cls-SI` are L_CSI(X) on plain batches and L_JOINT on adversarial
///   ones; the GAN terms are averaged over the adversarial batches only.
public struct SyntheticCSI: BankSizedDetector {
    public struct Configuration: Codable, Sendable, Equatable, ValidatingConfiguration, CSIOptions {
        public var encoder = EncoderOptions()
        public var training = ContrastiveTrainingOptions.csi
        /// τ of NT-Xent.
        public var temperature = 0.5
        /// λ of CSI's shift-classification loss.
        public var shiftWeight = 1.0
        public var projectionSize = 128
        /// R: augmented views averaged per test image and rotation.
        public var testViews = 10
        /// Size of the latent code h.
        public var latentSize = 128
        /// w: the widest channel count of G, E and D (512 as SN-GAN; smaller on a CPU).
        public var generatorWidth = 512
        /// Hidden width of the latent discriminator D′.
        public var latentDiscriminatorWidth = 512
        /// N: the adversarial-autoencoder updates run on every N-th batch.
        public var adversarialInterval = 5
        /// λ of L_REC.
        public var reconstructionWeight = 100.0
        /// Adam's rate for G, E, D and D′.
        public var ganLearningRate = 2e-4
        public var ganBeta1 = 0.9
        public var ganBeta2 = 0.999
        /// Spectral normalisation of D's layers (SN-GAN).
        public var spectralNorm = true
        /// Whether F's frozen passes (steps c, e) leave its BatchNorm running statistics alone.
        public var holdFrozenStatistics = false
        /// Eq. 11 (`sharedNeighbour`) by default; `csi` scores F with CSI's score (a diagnostic
        /// that separates what the synthetic inliers do to F from what the score does).
        public var score = CSI.Score.sharedNeighbour

        public init() {}

        public func validate() throws {
            try csi.validate()
            try OptionCheck.require("latentSize", latentSize, in: 1...65_536)
            try OptionCheck.require("generatorWidth", generatorWidth, in: 8...65_536)
            try OptionCheck.require("latentDiscriminatorWidth", latentDiscriminatorWidth, in: 1...65_536)
            try OptionCheck.require("adversarialInterval", adversarialInterval, in: 1...1_000_000)
            try OptionCheck.require("reconstructionWeight", reconstructionWeight, in: 0...1_000_000)
            try OptionCheck.require("ganLearningRate", ganLearningRate, in: 1e-12...100)
            try OptionCheck.require("ganBeta1", ganBeta1, in: 0...0.999_999)
            try OptionCheck.require("ganBeta2", ganBeta2, in: 0...0.999_999)
        }
    }

    /// F, the adversarial autoencoder (G, E, D, D′) and the bank of training axes.
    public final class State: DetectorState {
        public let network: ContrastiveNetwork
        public let generator: ImageGenerator
        public let encoder: ImageEncoder
        public let discriminator: Sequential
        public let latentDiscriminator: Sequential
        public let bank: ShiftedFeatureBank

        init(
            sampleShape: [Int], network: ContrastiveNetwork, generator: ImageGenerator, encoder: ImageEncoder,
            discriminator: Sequential, latentDiscriminator: Sequential, bank: ShiftedFeatureBank
        ) {
            self.network = network
            self.generator = generator
            self.encoder = encoder
            self.discriminator = discriminator
            self.latentDiscriminator = latentDiscriminator
            self.bank = bank
            super.init(sampleShape: sampleShape)
        }

        /// D(x) for images in [−1, 1] of the sample shape (padded with −1 to G's size).
        public func discriminate(_ x: Tensor) -> Tensor { discriminator(generator.padded(x)) }
    }

    public static let methodName = "csi-synthetic"
    public let configuration: Configuration
    public var state: State?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public static let bankShapeKey = (name: "bank.axes", axis: 1, untrained: 1)

    public static func makeState(
        sampleShape: [Int], configuration c: Configuration, bankCount: Int, using g: inout SeededGenerator
    ) throws -> State {
        let network = ContrastiveNetwork.csi(
            sampleShape: sampleShape, encoder: c.encoder, projectionSize: c.projectionSize, shiftCount: 4, using: &g)
        let generator = ImageGenerator(sampleShape: sampleShape, latentSize: c.latentSize, width: c.generatorWidth, using: &g)
        let encoder = ImageEncoder(sampleShape: sampleShape, latentSize: c.latentSize, width: c.generatorWidth, using: &g)
        let discriminator = Self.imageDiscriminator(
            channels: sampleShape[0], paddedSize: generator.paddedSize, width: c.generatorWidth,
            spectralNorm: c.spectralNorm, using: &g)
        let h = c.latentDiscriminatorWidth
        let latentDiscriminator = Sequential(
            Linear(c.latentSize, h, using: &g), Lambda.leakyRelu(0.2), Linear(h, h, using: &g), Lambda.leakyRelu(0.2),
            Linear(h, 1, using: &g))
        return State(
            sampleShape: sampleShape, network: network, generator: generator, encoder: encoder,
            discriminator: discriminator, latentDiscriminator: latentDiscriminator,
            bank: ShiftedFeatureBank(shiftCount: 4, count: bankCount, dimension: c.projectionSize))
    }

    /// SN-GAN's standard CNN discriminator for images of `paddedSize` (multiples of 8).
    static func imageDiscriminator(
        channels: Int, paddedSize: [Int], width w: Int, spectralNorm: Bool, using g: inout SeededGenerator
    ) -> Sequential {
        func conv(_ i: Int, _ o: Int, _ k: Int, _ s: Int, _ p: Int) -> any Layer {
            spectralNorm
                ? SpectralNormConv2d(i, o, kernelSize: Size2D(k), stride: Size2D(s), padding: Size2D(p), using: &g)
                : Conv2d(i, o, kernelSize: Size2D(k), stride: Size2D(s), padding: Size2D(p), using: &g)
        }
        let (w8, w4, w2) = (max(w / 8, 1), max(w / 4, 1), max(w / 2, 1))
        var layers: [any Layer] = []
        for (i, o, k, s, p) in [
            (channels, w8, 3, 1, 1), (w8, w8, 4, 2, 1), (w8, w4, 3, 1, 1), (w4, w4, 4, 2, 1), (w4, w2, 3, 1, 1),
            (w2, w2, 4, 2, 1), (w2, w, 3, 1, 1),
        ] {
            layers += [conv(i, o, k, s, p), Lambda.leakyRelu(0.1)]
        }
        let features = w * (paddedSize[0] / 8) * (paddedSize[1] / 8)
        layers.append(Lambda.flatten)
        layers.append(
            spectralNorm ? SpectralNormLinear(features, 1, using: &g) as any Layer : Linear(features, 1, using: &g))
        return Sequential(layers)
    }

    // MARK: Fit (Alg. 1)

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let samples = try validatedTrainingSamples(data)
        try ContrastivePretraining.requireImages(samples, detector: Self.methodName, rotates: true)
        let c = configuration
        let csi = c.csi
        var initialization = SeededGenerator(seed: context.seed)
        let state = try Self.makeState(
            sampleShape: samples.sampleShape, configuration: c, bankCount: samples.count, using: &initialization)
        let (F, G, E) = (state.network, state.generator, state.encoder)
        let (D, latentD) = (state.discriminator, state.latentDiscriminator)
        let views = ContrastivePretraining.views(options: c.training, rotationCount: 4)
        let differentiable = DifferentiableViews(cropScale: c.training.cropScale)
        func adam(_ module: Module) -> Adam {
            Adam(
                parameters: module.parameters(), learningRate: Float(c.ganLearningRate),
                betas: (Float(c.ganBeta1), Float(c.ganBeta2)))
        }
        let (optG, optE, optD, optLD) = (adam(G), adam(E), adam(D), adam(latentD))
        let optF = c.training.makeOptimizer(F)
        let loader = ContrastivePretraining.loader(samples, options: c.training, views: views, seed: context.seed &+ 11)
        var loop = TrainingLoop(
            phase: "pretraining", epochs: c.training.epochs, loader: loader, model: state, optimizer: optF,
            schedule: c.training.schedule, seed: context.seed &+ 11,
            auxiliaryOptimizers: [("generator", optG), ("encoder", optE), ("discriminator", optD), ("latentDiscriminator", optLD)])
        let batchCount = loader.batchCount
        let (n, lambda, shape) = (c.adversarialInterval, Float(c.reconstructionWeight), samples.sampleShape)
        let width = samples.featureCount
        let device = context.device

        try loop.run(context: context, scorer: Self.monitor(state, training: samples, c, context)) { batch, random in
            let viewsX = batch.inputs.to(device)
            let b = batch.indices.count
            guard (batch.epoch * batchCount + batch.index) % n == 0 else {
                return CSI.lossTerms(F, views: viewsX, imageCount: b, configuration: csi)  // 1.
            }
            var reported: [LossTerm] = []
            /// One update of `optimizers` on `loss`, checked first; gradients cleared before and after.
            func update(_ name: String, _ loss: Tensor, _ optimizers: [Optimizer]) throws {
                let value = loss.item()
                guard value.isFinite else {
                    throw DetectorError.diverged(phase: "pretraining", epoch: batch.epoch + 1, term: name, value: value, cause: nil)
                }
                state.zeroGradients()
                loss.backward()
                for optimizer in optimizers { optimizer.step() }
                state.zeroGradients()
                reported.append(LossTerm(name, Tensor([value])))
            }
            // 1. the standard CSI step.
            let plain = CSI.lossTerms(F, views: viewsX, imageCount: b, configuration: csi)
            try update("CSI(X)", plain.dropFirst().reduce(plain[0].value) { $0 + $1.value }, [optF])
            reported.removeLast()
            // a. X in [−1, 1], h ~ N(0, I).
            var rows: [Float] = []
            rows.reserveCapacity(b * width)
            for i in batch.indices { rows += samples.values[(i * width)..<((i + 1) * width)] }
            let x = (Tensor(rows, shape: [b] + shape) * 2 - 1).to(device)
            let h = Tensor.normal([b, c.latentSize], using: &random).to(device)
            // b. D maximises L_D; G, E minimise −log D(x̃) − log D(x̂).
            let (fake, reconstruction) = withoutGradients { (G(h), G(E(x))) }
            try update(
                "D", Self.discriminatorLoss(real: state.discriminate(x), fakes: [state.discriminate(fake), state.discriminate(reconstruction)]),
                [optD])
            try update(
                "G,E adversarial", Self.generatorLoss(fakes: [state.discriminate(G(h)), state.discriminate(G(E(x)))]),
                [optG, optE])
            /// `body` through F frozen: weights left as they are (and, with `holdFrozenStatistics`,
            /// BatchNorm running statistics).
            func throughFrozenF(_ body: () throws -> Void) rethrows {
                F.freeze()
                defer { F.unfreeze() }
                if c.holdFrozenStatistics { try F.holdingRunningStatistics(body) } else { try body() }
            }
            // c. G through F (F frozen): L_CSI-S = L_CSI(X̃).
            try throughFrozenF {
                let synthetic = differentiable.csiViews(Self.toUnit(G(h)), using: &random)
                let csiS = CSI.lossTerms(F, views: synthetic, imageCount: b, configuration: csi)
                try update("CSI-S", csiS.dropFirst().reduce(csiS[0].value) { $0 + $1.value }, [optG])
            }
            // d. D′ maximises L_LD; E minimises −log D′(E(x)).
            let code = withoutGradients { E(x) }
            try update("D'", Self.discriminatorLoss(real: latentD(h), fakes: [latentD(code)]), [optLD])
            try update("E adversarial", Self.generatorLoss(fakes: [latentD(E(x))]), [optE])
            // e. L_REC with T1, T2 ~ 𝒯 (F frozen).
            try throughFrozenF {
                let t1 = differentiable.views(Self.toUnit(x), using: &random)
                let xHat = G(E(x))
                let t2 = differentiable.views(Self.toUnit(xHat), using: &random)
                try update(
                    "REC",
                    Self.reconstructionLoss(
                        x, xHat, projections: F.projector(F.encode(t1)), F.projector(F.encode(t2)), weight: lambda),
                    [optG, optE])
            }
            // f. L_LREC, E only.
            try update("LREC", Self.latentReconstructionLoss(E(G(h).detached()), h), [optE])
            // g. L_JOINT = L_CSI(X ∪ X̃): X̃ (a fresh G(h) after the updates) as views on the host.
            let syntheticImages = withoutGradients { Self.toUnit(G(h)) }.to(.cpu)
            let viewsSynthetic = views(syntheticImages, using: &random).to(device)
            let joint = Self.mergedViews(viewsX, viewsSynthetic, blocks: views.viewCount * views.rotationCount)
            return CSI.lossTerms(F, views: joint, imageCount: 2 * b, configuration: csi) + reported
        }
        state.bank.fit(samples, network: F, viewCount: c.testViews, flips: true, context: context)
        state.eval()
        self.state = state
    }

    // MARK: Losses (Eq. 5–10)

    /// The discriminator's side of the standard GAN game on logits: −log σ(real) − Σ log(1 − σ(fake)),
    /// each a batch mean (minimising it maximises L_D).
    public static func discriminatorLoss(real: Tensor, fakes: [Tensor]) -> Tensor {
        fakes.reduce((-real).softplus().mean()) { $0 + $1.softplus().mean() }
    }

    /// The non-saturating generator (or encoder) loss: −Σ log σ(fake), each a batch mean.
    public static func generatorLoss(fakes: [Tensor]) -> Tensor {
        fakes.dropFirst().reduce((-fakes[0]).softplus().mean()) { $0 + (-$1).softplus().mean() }
    }

    /// L_REC = λ·mean (x − x̂)² − mean_i sim(p1_i, p2_i), `p1`, `p2` the projections of T1(x), T2(x̂).
    public static func reconstructionLoss(_ x: Tensor, _ xHat: Tensor, projections p1: Tensor, _ p2: Tensor, weight: Float)
        -> Tensor
    {
        (x - xHat).squared().mean() * weight - cosineSimilarity(p1, p2, axis: 1).mean()
    }

    /// L_LREC = mean (E(G(h)) − h)².
    public static func latentReconstructionLoss(_ reconstructed: Tensor, _ h: Tensor) -> Tensor {
        (reconstructed - h).squared().mean()
    }

    /// [−1, 1] → [0, 1].
    static func toUnit(_ x: Tensor) -> Tensor { (x + 1) * 0.5 }

    /// Views of two image sets in `CSIAugmentation`'s row order `(v·K + k)·B + b` merged into the
    /// views of their union (the images of `a` first in every block).
    public static func mergedViews(_ a: Tensor, _ b: Tensor, blocks: Int) -> Tensor {
        let sample = Array(a.shape.dropFirst())
        let (na, nb) = (a.shape[0] / blocks, b.shape[0] / blocks)
        let per = sample.reduce(1, *)
        let merged = Tensor.concat([a.reshaped([blocks, na, per]), b.reshaped([blocks, nb, per])], axis: 1)
        return merged.reshaped([blocks * (na + nb)] + sample)
    }

    // MARK: Score (Eq. 11)

    public static func scoreBatch(_ inputs: Tensor, state: State, configuration: Configuration) -> Tensor {
        let views = ShiftedFeatureBank.averagedViews(
            inputs, network: state.network, shiftCount: 4, viewCount: configuration.testViews, flips: true)
        return -CSI.normality(views, bank: state.bank, score: configuration.score)
    }

    /// The test-evaluation callback: the bank is refitted with the current network first.
    static func monitor(_ state: State, training: Samples, _ c: Configuration, _ context: TrainingContext)
        -> (Samples) throws -> [Float]
    {
        let score = scorer(state, c, context)
        var quiet = context
        quiet.progress = SilentProgress()
        return { samples in
            state.bank.fit(training, network: state.network, viewCount: c.testViews, flips: true, context: quiet)
            return try score(samples)
        }
    }
}

extension SyntheticCSI: ImageReporting {
    /// G(h) for `count` seeded draws h ~ N(0, I), and the first `count` of `samples` each followed
    /// by its reconstruction G(E(x)): what the synthetic inliers joining the CSI batch look like.
    public func reportImages(of samples: Samples, count: Int, context: InferenceContext) throws -> [ReportImages] {
        guard let state else { throw DetectorError.notFitted(Self.methodName) }
        guard count > 0, samples.sampleShape == state.sampleShape else { return [] }
        state.eval()
        var random = SeededGenerator(seed: context.seed ^ 0x5e4e_7a7e_d000)
        let h = Tensor.normal([count, configuration.latentSize], using: &random).to(context.device)
        let generated = withoutGradients { Self.toUnit(state.generator(h)).to(.cpu).toArray() }
        let pairs = ReportImages.reconstructions(
            title: "Test images and their reconstructions G(E(x))", label: "G(E(x))", of: samples, count: count,
            sampleShape: state.sampleShape, device: context.device
        ) { x in (x, Self.toUnit(state.generator(state.encoder(x * 2 - 1)))) }
        return [
            ReportImages(
                title: "Synthetic inliers G(h), h ~ N(0, I)", images: Samples(values: generated, shape: [count] + samples.sampleShape),
                captions: (0..<count).map { "G(h) \($0 + 1)" })
        ] + (pairs.map { [$0] } ?? [])
    }
}

// MARK: - Networks

/// G of `SyntheticCSI`: h → x̃ in [−1, 1] (SN-GAN's standard CNN generator at the padded size,
/// centre-cropped to the sample shape).
public final class ImageGenerator: Module, Layer {
    public let body: Sequential
    /// [C, H, W] of the samples.
    public let sampleShape: [Int]
    /// H, W rounded up to multiples of 8.
    public let paddedSize: [Int]

    public init(sampleShape: [Int], latentSize: Int, width w: Int, using g: inout SeededGenerator) {
        self.sampleShape = sampleShape
        paddedSize = [sampleShape[1], sampleShape[2]].map { ($0 + 7) / 8 * 8 }
        let (w2, w4, w8) = (max(w / 2, 1), max(w / 4, 1), max(w / 8, 1))
        let (bh, bw) = (paddedSize[0] / 8, paddedSize[1] / 8)
        body = Sequential(
            Linear(latentSize, w * bh * bw, using: &g), BatchNorm1d(w * bh * bw), Lambda.relu,
            Lambda { $0.reshaped([$0.shape[0], w, bh, bw]) },
            ConvTranspose2d(w, w2, kernelSize: 4, stride: 2, padding: 1, using: &g), BatchNorm2d(w2), Lambda.relu,
            ConvTranspose2d(w2, w4, kernelSize: 4, stride: 2, padding: 1, using: &g), BatchNorm2d(w4), Lambda.relu,
            ConvTranspose2d(w4, w8, kernelSize: 4, stride: 2, padding: 1, using: &g), BatchNorm2d(w8), Lambda.relu,
            Conv2d(w8, sampleShape[0], kernelSize: 3, padding: 1, using: &g), Lambda.tanh)
    }

    public func callAsFunction(_ h: Tensor) -> Tensor {
        let full = body(h)
        let (top, left) = ((paddedSize[0] - sampleShape[1]) / 2, (paddedSize[1] - sampleShape[2]) / 2)
        if top == 0 && left == 0 && paddedSize == [sampleShape[1], sampleShape[2]] { return full }
        return full.slice(axis: 2, top..<(top + sampleShape[1])).slice(axis: 3, left..<(left + sampleShape[2]))
    }

    /// Images of the sample shape padded with −1 to `paddedSize` (the inverse of the crop).
    public func padded(_ x: Tensor) -> Tensor {
        var x = x
        for (axis, (size, total)) in zip([2, 3], zip([sampleShape[1], sampleShape[2]], paddedSize)) where total > size {
            let extra = total - size
            var before = x.shape, after = x.shape
            before[axis] = extra / 2
            after[axis] = extra - extra / 2
            x = Tensor.concat([Tensor.full(before, -1).to(x.device), x, Tensor.full(after, -1).to(x.device)], axis: axis)
        }
        return x
    }
}

/// E of `SyntheticCSI`: x in [−1, 1] → h, the mirror of `ImageGenerator`.
public final class ImageEncoder: Module, Layer {
    public let body: Sequential
    public let sampleShape: [Int]
    public let paddedSize: [Int]

    public init(sampleShape: [Int], latentSize: Int, width w: Int, using g: inout SeededGenerator) {
        self.sampleShape = sampleShape
        paddedSize = [sampleShape[1], sampleShape[2]].map { ($0 + 7) / 8 * 8 }
        let (w2, w4, w8) = (max(w / 2, 1), max(w / 4, 1), max(w / 8, 1))
        let features = w * (paddedSize[0] / 8) * (paddedSize[1] / 8)
        body = Sequential(
            Conv2d(sampleShape[0], w8, kernelSize: 3, padding: 1, using: &g), Lambda.leakyRelu(0.1),
            Conv2d(w8, w4, kernelSize: 4, stride: 2, padding: 1, using: &g), BatchNorm2d(w4), Lambda.leakyRelu(0.1),
            Conv2d(w4, w2, kernelSize: 4, stride: 2, padding: 1, using: &g), BatchNorm2d(w2), Lambda.leakyRelu(0.1),
            Conv2d(w2, w, kernelSize: 4, stride: 2, padding: 1, using: &g), BatchNorm2d(w), Lambda.leakyRelu(0.1),
            Lambda.flatten, Linear(features, latentSize, using: &g))
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var x = x
        for (axis, (size, total)) in zip([2, 3], zip([sampleShape[1], sampleShape[2]], paddedSize)) where total > size {
            let extra = total - size
            var before = x.shape, after = x.shape
            before[axis] = extra / 2
            after[axis] = extra - extra / 2
            x = Tensor.concat([Tensor.full(before, -1).to(x.device), x, Tensor.full(after, -1).to(x.device)], axis: axis)
        }
        return body(x)
    }
}

// MARK: - Differentiable augmentation

/// A differentiable subset of CSI's `simclr_aug` for images produced by G (gradients must reach
/// G and E): random horizontal flip, quarter-turn rotations (as `ImageOps.rot90`), a random
/// resized crop (area in `cropScale`…1, aspect ratio in (3/4, 4/3)) applied as per-image bilinear
/// interpolation matrices out = A_y · x · A_xᵀ, brightness and contrast factors in [0.6, 1.4] with
/// probability 0.8, grey with probability 0.2 (3 channels), clamped to [0, 1]. All random draws
/// come from the caller's generator.
public struct DifferentiableViews: Sendable {
    public var cropScale: Double

    public init(cropScale: Double = 0.08) {
        self.cropScale = cropScale
    }

    /// Horizontal mirror of [N, C, H, W] images.
    public static func flipped(_ x: Tensor) -> Tensor { x.indexSelect(Array((0..<x.shape[3]).reversed()), axis: 3) }

    /// `k` quarter turns counter-clockwise (`torch.rot90(x, k, (2, 3))`).
    public static func rotated(_ x: Tensor, k: Int) -> Tensor {
        var y = x
        for _ in 0..<(((k % 4) + 4) % 4) { y = flipped(y).transposed(2, 3) }
        return y
    }

    /// CSI's training views of a batch in `CSIAugmentation`'s order: two independently flipped
    /// copies × 4 rotations × B images, each then augmented by `views`.
    public func csiViews(_ x: Tensor, using g: inout SeededGenerator) -> Tensor {
        var blocks: [Tensor] = []
        for _ in 0..<2 {
            let flags = (0..<x.shape[0]).map { _ in Bool.random(using: &g) ? Float(1) : 0 }
            let f = Tensor(flags, shape: [x.shape[0], 1, 1, 1]).to(x.device)
            let copy = x * (1 - f) + Self.flipped(x) * f
            for k in 0..<4 { blocks.append(Self.rotated(copy, k: k)) }
        }
        return views(Tensor.concat(blocks), using: &g)
    }

    /// The crop and colour part, independent per image.
    public func views(_ x: Tensor, using g: inout SeededGenerator) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var rowsMatrix = [Float](repeating: 0, count: n * c * h * h)
        var columnsMatrix = [Float](repeating: 0, count: n * c * w * w)
        var brightness = [Float](repeating: 1, count: n), contrast = [Float](repeating: 1, count: n)
        var grey = [Float](repeating: 0, count: n)
        for i in 0..<n {
            // RandomResizedCrop's draw (falls back to the whole image after 10 tries).
            var (ch, cw, top, left) = (h, w, 0, 0)
            for _ in 0..<10 {
                let area = Double(h * w) * Double.random(in: cropScale...1, using: &g)
                let ratio = exp(Double.random(in: log(3.0 / 4)...log(4.0 / 3), using: &g))
                let cwTry = Int((area * ratio).squareRoot().rounded()), chTry = Int((area / ratio).squareRoot().rounded())
                if cwTry > 0, chTry > 0, cwTry <= w, chTry <= h {
                    (ch, cw) = (chTry, cwTry)
                    top = Int.random(in: 0...(h - ch), using: &g)
                    left = Int.random(in: 0...(w - cw), using: &g)
                    break
                }
            }
            let ay = Self.interpolation(outputs: h, inputs: h, start: top, length: ch)
            let ax = Self.interpolation(outputs: w, inputs: w, start: left, length: cw)
            for channel in 0..<c {
                let p = i * c + channel
                rowsMatrix.replaceSubrange((p * h * h)..<((p + 1) * h * h), with: ay)
                columnsMatrix.replaceSubrange((p * w * w)..<((p + 1) * w * w), with: ax)
            }
            if Double.random(in: 0..<1, using: &g) < 0.8 {
                brightness[i] = Float.random(in: 0.6...1.4, using: &g)
                contrast[i] = Float.random(in: 0.6...1.4, using: &g)
            }
            if c == 3, Double.random(in: 0..<1, using: &g) < 0.2 { grey[i] = 1 }
        }
        let device = x.device
        let planes = x.reshaped([n * c, h, w])
        let cropped = matmul(
            matmul(Tensor(rowsMatrix, shape: [n * c, h, h]).to(device), planes),
            Tensor(columnsMatrix, shape: [n * c, w, w]).to(device), transposeB: true
        ).reshaped([n, c, h, w])
        let bright = cropped * Tensor(brightness, shape: [n, 1, 1, 1]).to(device)
        let mean = bright.mean(axes: [1, 2, 3], keepDims: true)
        var y = (bright - mean) * Tensor(contrast, shape: [n, 1, 1, 1]).to(device) + mean
        if c == 3 {
            let weights = Tensor([0.299, 0.587, 0.114], shape: [1, 3, 1, 1]).to(device)
            let gray = (y * weights).sum(axis: 1, keepDims: true)
            let f = Tensor(grey, shape: [n, 1, 1, 1]).to(device)
            y = y * (1 - f) + gray * f
        }
        return y.clamped(min: 0, max: 1)
    }

    /// The [outputs, inputs] bilinear resampling matrix of the crop [start, start + length) to
    /// `outputs` pixels (half-pixel centres, edges clamped).
    static func interpolation(outputs: Int, inputs: Int, start: Int, length: Int) -> [Float] {
        var a = [Float](repeating: 0, count: outputs * inputs)
        for i in 0..<outputs {
            let s = min(max(Double(start) + (Double(i) + 0.5) * Double(length) / Double(outputs) - 0.5, 0), Double(inputs - 1))
            let lo = Int(s.rounded(.down)), hi = min(lo + 1, inputs - 1)
            let t = Float(s - Double(lo))
            a[i * inputs + lo] += 1 - t
            a[i * inputs + hi] += t
        }
        return a
    }
}
