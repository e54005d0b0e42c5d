import Datasets
import Foundation
import Layers
import Tensors

/// CSI — Contrasting Shifted Instances (Tack et al., NeurIPS 2020; METHODS.md §1.4), and SimCLR
/// (§1.3) as CSI without shifted instances (`shiftedInstances=false`, the method `simclr`).
///
/// Training (one-class, unlabelled normal images):
/// 1. A batch of B images → two independently h-flipped copies → the 4 rotations of each
///    (SimCLR: none) → `simclr_aug` per view: 8B views (SimCLR: 2B).
/// 2. L_con-SI = NT-Xent over the views, τ = 0.5, the instance being (image, rotation): the other
///    rotations of an image are negatives (§1.3, §1.4).
/// 3. L_cls-SI = cross-entropy of the shift head against each view's rotation; L = L_con-SI + λ·L_cls-SI.
/// 4. LARS, rate 0.1 warmed up ×10 over 10 epochs, cosine decay (CSI's defaults).
///
/// Score (the code's feature-level ensemble, §1.4 and pitfall 11): per rotation k, projections
/// averaged over T = 10 test views (flip, crop area 0.54), norm-weighted cosine to the nearest
/// training axis plus the weighted correct-rotation logit, averaged over k. CSI's score is a
/// normality score; this detector returns its negative (higher = more anomalous). SimCLR's
/// "simclr" score: one shift, no flips, no logit term.
public struct CSI: BankSizedDetector {
    /// How test projections enter the score.
    public enum Score: String, Codable, Sendable, CaseIterable {
        /// CSI's: the unnormalised averaged projection, so its norm counts (§1.4).
        case csi
        /// The same with the averaged test projections normalised: cosine to the nearest
        /// training axis (a diagnostic of what the norm contributes).
        case cosine
        /// Eq. 11 of the synthetic-inlier method (§2.3): one nearest training image shared by
        /// the shifts, unweighted, no shift logits (`csi-synthetic`'s score).
        case sharedNeighbour
    }

    public struct Configuration: Codable, Sendable, Equatable, ValidatingConfiguration {
        /// Rotations as distinct instances plus the shift head (CSI); false gives SimCLR.
        public var shiftedInstances = true
        public var encoder = EncoderOptions()
        public var training = ContrastiveTrainingOptions.csi
        /// τ of NT-Xent.
        public var temperature = 0.5
        /// λ of the shift-classification loss.
        public var shiftWeight = 1.0
        public var projectionSize = 128
        /// T: augmented views averaged per test image and rotation.
        public var testViews = 10
        public var score = Score.csi
        /// A fitted `csi`/`simclr` or `csi-synthetic` run (folder or model file) whose network is
        /// scored instead of training one: only the feature bank is fitted (other `testViews` or `score`).
        public var encoderModel: String?

        public init() {}

        /// SimCLR with CSI's "simclr" score.
        public static var simclr: Configuration {
            var c = Configuration()
            c.shiftedInstances = false
            return c
        }

        public var shiftCount: Int { shiftedInstances ? 4 : 1 }

        public func validate() throws {
            try encoder.validate(prefix: "encoder.")
            try training.validate(prefix: "training.")
            try OptionCheck.require("temperature", temperature, in: 1e-3...100)
            try OptionCheck.require("shiftWeight", shiftWeight, in: 0...1000)
            try OptionCheck.require("projectionSize", projectionSize, in: 1...65_536)
            try OptionCheck.require("testViews", testViews, in: 1...1000)
        }
    }

    /// The network and the bank of training axes with CSI's weights.
    public final class State: DetectorState {
        public let network: ContrastiveNetwork
        public let bank: ShiftedFeatureBank

        init(sampleShape: [Int], network: ContrastiveNetwork, bank: ShiftedFeatureBank) {
            self.network = network
            self.bank = bank
            super.init(sampleShape: sampleShape)
        }
    }

    public static let methodName = "csi"
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
            sampleShape: sampleShape, encoder: c.encoder, projectionSize: c.projectionSize, shiftCount: c.shiftCount,
            using: &g)
        return State(
            sampleShape: sampleShape, network: network,
            bank: ShiftedFeatureBank(shiftCount: c.shiftCount, count: bankCount, dimension: c.projectionSize))
    }

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let samples = try validatedTrainingSamples(data)
        try ContrastivePretraining.requireImages(samples, detector: Self.methodName, rotates: configuration.shiftedInstances)
        let c = configuration
        var generator = SeededGenerator(seed: context.seed)
        let state = try Self.makeState(
            sampleShape: samples.sampleShape, configuration: c, bankCount: samples.count, using: &generator)
        let network = state.network
        if let path = c.encoderModel {
            let fitted = try Self.referencedNetwork(path, sampleShape: samples.sampleShape)
            do {
                try network.copyState(from: fitted)
            } catch {
                throw DetectorError.invalidConfiguration("encoderModel=\(path): its network has another architecture (\(error))")
            }
            state.bank.fit(samples, network: network, viewCount: c.testViews, flips: c.shiftedInstances, context: context)
            state.eval()
            self.state = state
            return
        }
        let views = ContrastivePretraining.views(options: c.training, rotationCount: c.shiftCount)
        try ContrastivePretraining.run(
            model: network, trained: network, samples: samples, options: c.training, views: views, context: context,
            scorer: Self.monitor(state, training: samples, c, context)
        ) { batch, imageCount in
            Self.lossTerms(network, views: batch, imageCount: imageCount, configuration: c)
        }
        state.bank.fit(samples, network: network, viewCount: c.testViews, flips: c.shiftedInstances, context: context)
        state.eval()
        self.state = state
    }

    /// F of a fitted `csi`/`simclr` run, or of a `csi-synthetic` run (its CSI network).
    static func referencedNetwork(_ path: String, sampleShape: [Int]) throws -> ContrastiveNetwork {
        do {
            return try referencedState(option: "encoderModel", path: path, sampleShape: sampleShape, defaults: Configuration())
                .network
        } catch let notCSI {
            guard let synthetic = try? SyntheticCSI.referencedState(
                option: "encoderModel", path: path, sampleShape: sampleShape, defaults: SyntheticCSI.Configuration())
            else { throw notCSI }
            return synthetic.network
        }
    }

    /// L_CSI = L_con-SI + λ·L_cls-SI of one batch of views in `CSIAugmentation`'s row order
    /// (SimCLR: L_con only).
    public static func lossTerms(_ network: ContrastiveNetwork, views: Tensor, imageCount: Int, configuration c: Configuration)
        -> [LossTerm]
    {
        let h = network.encode(views)
        return lossTerms(network, features: h, projections: network.projector(h), imageCount: imageCount, configuration: c)
    }

    /// `lossTerms` from the views' encoder features h and projections z = g(h), for methods that
    /// add terms of their own on the same forward pass (HSCL).
    public static func lossTerms(
        _ network: ContrastiveNetwork, features h: Tensor, projections z: Tensor, imageCount: Int,
        configuration c: Configuration
    ) -> [LossTerm] {
        var terms = [LossTerm("con-SI", ntXentLoss(z, temperature: Float(c.temperature)))]  // §1.3 over (image, rotation)
        if c.shiftedInstances {
            let rotations = CSIAugmentation(rotationCount: c.shiftCount).rotationLabels(batchSize: imageCount)
            let classification = shiftClassificationLoss(logits: network.shiftLogits(h), rotations: rotations)
            terms.append(LossTerm("cls-SI", classification * Float(c.shiftWeight)))
        }
        return terms
    }

    public static func scoreBatch(_ inputs: Tensor, state: State, configuration c: Configuration) -> Tensor {
        let bank = state.bank
        let views = ShiftedFeatureBank.averagedViews(
            inputs, network: state.network, shiftCount: bank.shiftCount, viewCount: c.testViews, flips: c.shiftedInstances)
        return -normality(views, bank: bank, score: c.score)
    }

    /// The normality of test images from their averaged views under `score`.
    static func normality(_ views: (projections: [Tensor], logits: [Tensor]), bank: ShiftedFeatureBank, score: Score)
        -> Tensor
    {
        switch score {
        case .csi: return bank.normality(projections: views.projections, logits: views.logits)
        case .cosine: return bank.normality(projections: views.projections.map { l2Normalize($0, axis: 1) }, logits: views.logits)
        case .sharedNeighbour: return ShiftedFeatureBank.sharedNeighbourNormality(projections: views.projections, axes: bank.axes)
        }
    }

    /// The test-evaluation callback: the bank is refitted with the current network first.
    static func monitor(_ state: State, training: Samples, _ c: Configuration, _ context: TrainingContext)
        -> (Samples) throws -> [Float]
    {
        let score = scorer(state, c, context)
        var quiet = context
        quiet.progress = SilentProgress()
        return { samples in
            state.bank.fit(training, network: state.network, viewCount: c.testViews, flips: c.shiftedInstances, context: quiet)
            return try score(samples)
        }
    }
}

/// A configuration that carries CSI's options under CSI's names and trains CSI's loss on its
/// network (HSCL's L_ss, the synthetic-inlier method's F).
public protocol CSIOptions {
    var encoder: EncoderOptions { get }
    var training: ContrastiveTrainingOptions { get }
    var temperature: Double { get }
    var shiftWeight: Double { get }
    var projectionSize: Int { get }
    var testViews: Int { get }
}

extension CSIOptions {
    /// These options as CSI's configuration.
    public var csi: CSI.Configuration {
        var c = CSI.Configuration()
        c.encoder = encoder
        c.training = training
        c.temperature = temperature
        c.shiftWeight = shiftWeight
        c.projectionSize = projectionSize
        c.testViews = testViews
        return c
    }
}
