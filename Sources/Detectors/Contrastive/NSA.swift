import Datasets
import Foundation
import Layers
import Tensors

/// NSA — "No Shifted Augmentations" (Yousef et al., WACV 2023; METHODS.md §2.4): self-supervised
/// training with L2-normalisations that keep the normal features compact, scored by the angular
/// Mahalanobis distance of the encoder features to the training features.
///
/// Training (two views per image: h-flip → `simclr_aug`, crop area (0.08, 1)):
/// - SS(n), SimSiam:  ŷ = f(x)/‖f(x)‖,  ẑ = g(ŷ)/‖g(ŷ)‖,  p = h(ẑ),
///                    L = ½ D(p₁, sg(ẑ₂)) + ½ D(p₂, sg(ẑ₁)),  D = −cos            (§2.4.1)
/// - BYOL(n):         the same with the targets ẑ' from an EMA copy of f and g (decay 0.99 [U])
/// - SC(n), SimCLR:   ŷ = f(x)/‖f(x)‖ only, z = g(ŷ), NT-Xent; SC(n−) with rotations as shifted
///                    (negative) instances as in CSI's con-SI
/// `normalized=false` drops the normalisations (SS, BYOL, SC, SC(−)). Adam 1e-4 with cosine decay.
///
/// Score (§2.4.3–2.4.4) on the 512-d (encoder-width) pooled encoder output y: k-Cos (angle to the
/// nearest whitened training feature) or c-Cos (angle to the whitened mean); `ensemble` scores
/// the pooled stem and every stage the same way, min–max normalises each on its training range
/// (k-Cos leave-one-out) and sums them. `centering` chooses centred (paper, Eq. 2) or uncentred
/// whitening for k-Cos [A]. The angles are anomaly scores.
///
/// Choices the paper leaves open ([U]/[A] in the spec): the MLP widths (`projectionWidth` 2048,
/// `predictorWidth` 512; SimCLR's projector Linear(w, w)–BN–ReLU–Linear(w, 128)), the batch size
/// (512), τ = 0.5, the EMA decay 0.99, the ensemble's layers (stem and all stages).
public struct NSA: BankSizedDetector {
    public enum Variant: String, Codable, Sendable, CaseIterable {
        case simsiam, byol, simclr
    }

    public struct Configuration: Codable, Sendable, Equatable, ValidatingConfiguration {
        public var variant = Variant.simsiam
        /// NSA's L2-normalisations (after the encoder; on the projection for SimSiam and BYOL).
        public var normalized = true
        /// SC(−)/SC(n−): the four rotations of an image are distinct instances in NT-Xent (SimCLR only).
        public var shiftedNegatives = false
        public var encoder = EncoderOptions()
        public var training = ContrastiveTrainingOptions(
            epochs: 500, batchSize: 512, optimizer: .adam, learningRate: 1e-4, weightDecay: 0, warmupEpochs: 0,
            warmupMultiplier: 1)
        /// Hidden and output width of SimSiam's / BYOL's projector g (and the predictor's output).
        public var projectionWidth = 2048
        /// Hidden width of the predictor h.
        public var predictorWidth = 512
        /// Output width of SimCLR's projector.
        public var projectionSize = 128
        public var temperature = 0.5
        /// BYOL's target update: target ← decay·target + (1 − decay)·online, every step.
        public var targetDecay = 0.99
        public var score = AngularMahalanobis.Score.kCos
        /// Sum the min–max normalised scores of the stem and every stage (…_E results).
        public var ensemble = false
        /// Centre the features before whitening (Eq. 2 as reconstructed); c-Cos never centres.
        public var centering = true
        /// A fitted NSA model (model file or run folder) whose trained network this detector
        /// takes instead of training its own: only the scorers are fitted, with this
        /// configuration's `score`, `ensemble` and `centering` (the network options must match).
        public var encoderModel: String?

        public init() {}

        public func validate() throws {
            try encoder.validate(prefix: "encoder.")
            try training.validate(prefix: "training.")
            try OptionCheck.require("projectionWidth", projectionWidth, in: 1...65_536)
            try OptionCheck.require("predictorWidth", predictorWidth, in: 1...65_536)
            try OptionCheck.require("projectionSize", projectionSize, in: 1...65_536)
            try OptionCheck.require("temperature", temperature, in: 1e-3...100)
            try OptionCheck.require("targetDecay", targetDecay, in: 0...1)
            if shiftedNegatives && variant != .simclr {
                throw DetectorError.invalidOption(
                    option: "shiftedNegatives", value: "true", requirement: "applies to variant=simclr only")
            }
        }
    }

    /// The online network and one angular-Mahalanobis scorer per scored layer.
    public final class State: DetectorState {
        public let network: ContrastiveNetwork
        public let layers: [AngularMahalanobis]

        init(sampleShape: [Int], network: ContrastiveNetwork, layers: [AngularMahalanobis]) {
            self.network = network
            self.layers = layers
            super.init(sampleShape: sampleShape)
        }

        /// The pooled features the scorers read: the encoder output y, or (ensemble) the
        /// pooled stem and stages, the last being y.
        func features(_ x: Tensor, ensemble: Bool) -> [Tensor] {
            let f = network.encoderFeatures(x)
            guard ensemble else { return [f.pooled] }
            return ([f.stem] + f.stages).map { adaptiveAvgPool2d($0, outputSize: 1).flattened() }
        }
    }

    /// BYOL's online and target networks: what its training checkpoint holds.
    final class OnlineAndTarget: Module {
        let online: ContrastiveNetwork
        let target: ContrastiveNetwork
        init(online: ContrastiveNetwork, target: ContrastiveNetwork) {
            self.online = online
            self.target = target
        }
    }

    public static let methodName = "nsa"
    public let configuration: Configuration
    public var state: State?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public static let bankShapeKey = (name: "layers.0.bank", axis: 0, untrained: 2)

    /// The online network of a variant: the encoder, g and (SimSiam, BYOL) h.
    public static func makeNetwork(sampleShape: [Int], _ c: Configuration, using g: inout SeededGenerator) -> ContrastiveNetwork {
        let encoder = c.encoder.encoder(sampleShape: sampleShape, using: &g)
        let w = encoder.featureCount
        let padding = c.encoder.inputPadding(sampleShape: sampleShape)
        switch c.variant {
        case .simsiam, .byol:
            let p = c.projectionWidth
            return ContrastiveNetwork(
                encoder: encoder, projector: ContrastiveNetwork.mlp([w, p, p, p], normalizesOutput: true, using: &g),
                predictor: ContrastiveNetwork.mlp([p, c.predictorWidth, c.predictorWidth, p], normalizesOutput: false, using: &g),
                inputPadding: padding)
        case .simclr:
            return ContrastiveNetwork(
                encoder: encoder, projector: ContrastiveNetwork.mlp([w, w, c.projectionSize], normalizesOutput: false, using: &g),
                inputPadding: padding)
        }
    }

    public static func makeState(sampleShape: [Int], configuration c: Configuration, bankCount: Int, using g: inout SeededGenerator)
        throws -> State
    {
        let network = makeNetwork(sampleShape: sampleShape, c, using: &g)
        // The scored layers' widths, from one forward pass of a blank image.
        let widths = withoutGradients { () -> [Int] in
            network.eval()
            defer { network.train() }
            let probe = Tensor.zeros([1] + sampleShape)
            let f = network.encoderFeatures(probe)
            return c.ensemble ? ([f.stem] + f.stages).map { $0.shape[1] } : [f.pooled.shape[1]]
        }
        return State(
            sampleShape: sampleShape, network: network,
            layers: widths.map { AngularMahalanobis(count: bankCount, dimension: $0, centering: c.centering) })
    }

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let samples = try validatedTrainingSamples(data)
        try ContrastivePretraining.requireImages(samples, detector: Self.methodName, rotates: configuration.shiftedNegatives)
        guard samples.count >= 2 else { throw DetectorError.emptyTrainingData(Self.methodName) }
        let c = configuration
        var generator = SeededGenerator(seed: context.seed)
        let state = try Self.makeState(
            sampleShape: samples.sampleShape, configuration: c, bankCount: samples.count, using: &generator)
        let online = state.network
        var model: Module = online
        var target: ContrastiveNetwork? = nil
        if c.variant == .byol {
            let copy = Self.makeNetwork(sampleShape: samples.sampleShape, c, using: &generator)
            try copy.copyState(from: online)
            target = copy
            model = OnlineAndTarget(online: online, target: copy)
        }
        if let path = c.encoderModel {
            let fitted = try Self.referencedState(
                option: "encoderModel", path: path, sampleShape: samples.sampleShape, defaults: Configuration())
            do {
                try online.copyState(from: fitted.network)
            } catch {
                throw DetectorError.invalidConfiguration("encoderModel=\(path): its network has another architecture (\(error))")
            }
            try Self.fitScorers(state, training: samples, c, context)
            state.eval()
            self.state = state
            return
        }
        let views = ContrastivePretraining.views(options: c.training, rotationCount: c.shiftedNegatives ? 4 : 1)
        let decay = Float(c.targetDecay)
        try ContrastivePretraining.run(
            model: model, trained: online, samples: samples, options: c.training, views: views, context: context,
            scorer: Self.monitor(state, training: samples, c, context)
        ) { batch, _ in
            // BYOL: target ← EMA(online) with the weights after the previous step, then the loss.
            target?.updateExponentialMovingAverage(from: online, decay: decay, copyingBuffers: false)
            return Self.lossTerms(online, target: target, views: batch, configuration: c)
        }
        try Self.fitScorers(state, training: samples, c, context)
        state.eval()
        self.state = state
    }

    /// ẑ (ŷ = f(x)/‖f(x)‖ → g, normalised again for SimSiam and BYOL) and, with a predictor,
    /// p = h(ẑ), for a batch of views; without `normalized` the plain projections.
    public static func embed(_ network: ContrastiveNetwork, _ views: Tensor, configuration c: Configuration)
        -> (projection: Tensor, prediction: Tensor?)
    {
        let y = network.encode(views)
        let z = network.projector(c.normalized ? l2Normalize(y) : y)
        let projection = c.normalized && c.variant != .simclr ? l2Normalize(z) : z
        return (projection, network.predictor.map { $0(projection) })
    }

    /// The loss of one batch of two-view (SC(−): shifted) views: the symmetric negative cosine
    /// against stop-gradient targets (SimSiam: the other view's ẑ; BYOL: the target network's),
    /// or NT-Xent (SimCLR).
    public static func lossTerms(
        _ online: ContrastiveNetwork, target: ContrastiveNetwork?, views: Tensor, configuration c: Configuration
    ) -> [LossTerm] {
        let (z, p) = embed(online, views, configuration: c)
        switch c.variant {
        case .simsiam:
            return [LossTerm("negative-cosine", symmetricNegativeCosineLoss(predictions: p!, targets: z))]
        case .byol:
            guard let target else { preconditionFailure("NSA: BYOL needs its target network") }
            let targets = withoutGradients { embed(target, views, configuration: c).projection }
            return [LossTerm("negative-cosine", symmetricNegativeCosineLoss(predictions: p!, targets: targets))]
        case .simclr:
            return [LossTerm("nt-xent", ntXentLoss(z, temperature: Float(c.temperature)))]
        }
    }

    /// Fits every layer's scorer to the training features (evaluation mode).
    static func fitScorers(_ state: State, training samples: Samples, _ c: Configuration, _ context: TrainingContext) throws {
        state.eval()
        defer { state.train() }
        var perLayer = [[Tensor]](repeating: [], count: state.layers.count)
        BatchScorer.forEachBatch(samples, sampleShape: samples.sampleShape, batchSize: 256, device: context.device) { _, x in
            for (i, f) in state.features(x, ensemble: c.ensemble).enumerated() { perLayer[i].append(f) }
        }
        for (scorer, features) in zip(state.layers, perLayer) { scorer.fit(Tensor.concat(features)) }
    }

    public static func scoreBatch(_ inputs: Tensor, state: State, configuration c: Configuration) -> Tensor {
        let features = state.features(inputs, ensemble: c.ensemble)
        guard c.ensemble else { return state.layers[0].score(features[0], c.score) }
        let scores = zip(state.layers, features).map { $0.normalizedScore($1, c.score) }
        return scores.dropFirst().reduce(scores[0], +)
    }

    /// The test-evaluation callback: the scorers are refitted with the current network first.
    static func monitor(_ state: State, training: Samples, _ c: Configuration, _ context: TrainingContext)
        -> (Samples) throws -> [Float]
    {
        let score = scorer(state, c, context)
        return { samples in
            try fitScorers(state, training: training, c, context)
            state.eval()
            return try score(samples)
        }
    }
}
