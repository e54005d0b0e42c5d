import Datasets
import Foundation
import Layers
import Metrics
import Tensors

/// Elsa and Elsa+ (Han et al., BMVC 2021; METHODS.md §2.1, code `archon159/elsa`): energy-based
/// fine-tuning of a contrastive encoder with a few labelled normals and anomalies, robust to
/// polluted unlabelled data.
///
/// 1. Pre-training: SimCLR (Elsa) or CSI (Elsa+) on the unlabelled samples and labelled normals
///    (no labels), or the network of a `simclr`/`csi` run named by `pretrained=<run folder>`.
/// 2. Prototypes: spherical k-means (K = 50) on the normalised projections ẑ of every sample that
///    is not a labelled anomaly, without augmentation (Elsa+: all four rotations pooled).
/// 3. Energy: S_τ(x) = LSE_p(⟨ẑ(x), p⟩/τ), τ = 0.5, which lies in [ln K − 1/τ, ln K + 1/τ].
/// 4. Fine-tuning, 50 epochs of Adam 1e-4 over batches of 64 images (two h-flipped copies,
///    Elsa+: × 4 rotations, then `simclr_aug` with a fixed 54 % crop):
///
///        L = mean over views of  1/(C − S_τ)  for labelled anomalies,  1/S_τ  otherwise,
///        C = ln K + 1/τ,
///
///    Elsa+ adds the rotation cross-entropy of the shift head over the views of samples that are
///    not labelled anomalies and keeps every BatchNorm in inference mode (the code's, not the
///    paper's). Prototypes are recomputed after epochs 0, 3, 6, …
/// 5. Early stopping: 5 % of the unlabelled samples are held out; each gets a weak view (flip +
///    `simclr_aug`) and a strong one (RandAugmentMC(12, 5) + `simclr_aug`), drawn once. After
///    every epoch the AUROC of LSE_p⟨ẑ, p⟩ (no τ; Elsa+: summed over rotations) of weak (normal)
///    against strong (anomalous) views, averaged over batches of 64, picks the epoch kept.
/// 6. Score (the code's): Elsa LSE_p⟨ẑ, p⟩ of one random view; Elsa+ Σ_k LSE_p⟨normalize(z̄_k), p⟩
///    with z̄_k the projection of rotation k averaged over 10 random views. `score=paper` keeps
///    τ in the energy. The detector returns the negative (higher = more anomalous).
///
/// Where the paper and the code differ the code is the default and the paper an option
/// (§2.1.5–2.1.8): the loss's mean (`lossReduction=sum`), τ dropped at test time and view
/// features averaged before scoring (`score=paper`), Elsa+'s rotation loss (`shiftWeight=0`) and
/// frozen BatchNorm (`freezesBatchNorm=false`). The validation AUROC is per batch, as coded.
public struct Elsa: DeepDetector {
    public enum Score: String, Codable, Sendable, CaseIterable {
        /// LSE_p⟨ẑ, p⟩ without τ on view-averaged projections (the released code; reproduces
        /// the published numbers).
        case code
        /// S_τ = LSE_p(⟨ẑ, p⟩/τ) (the paper's Eq. 12), averaged over the test views (the paper's
        /// score-level ensemble of weakly augmented copies).
        case paper
    }

    /// How the fine-tuning loss reduces over the views of a batch.
    public enum LossReduction: String, Codable, Sendable, CaseIterable {
        /// The code's mean.
        case mean
        /// The paper's sums (Eq. 13).
        case sum
    }

    public struct Configuration: Codable, Sendable, Equatable, ValidatingConfiguration {
        /// Elsa+: CSI pre-training, rotation-augmented fine-tuning with the rotation loss and
        /// frozen BatchNorm, the 10-view × 4-rotation test ensemble.
        public var plus = false
        /// A fitted `simclr` or `csi` run (folder or model file) to fine-tune instead of
        /// pre-training here; its encoder options replace `encoder` and `projectionSize`.
        public var pretrained: String?
        public var encoder = EncoderOptions()
        public var projectionSize = 128
        /// Pre-training when no `pretrained` run is named (CSI's schedule, §2.1.2).
        public var pretraining = ContrastiveTrainingOptions.csi
        /// Fine-tuning (§2.1.6: Adam 1e-4, constant rate); `finetuning.cropScale` is the fixed
        /// crop area of its views.
        public var finetuning = ContrastiveTrainingOptions(
            epochs: 50, batchSize: 64, optimizer: .adam, learningRate: 1e-4, weightDecay: 0, warmupEpochs: 0,
            warmupMultiplier: 1, cropScale: 0.54, cosineDecay: false)
        /// K prototypes; ln K must exceed 1/τ (K ≥ 8 at τ = 0.5) so that S_τ > 0.
        public var prototypeCount = 50
        /// Prototypes are recomputed after epochs 0, `refresh`, 2·`refresh`, …
        public var prototypeRefresh = 3
        public var kMeansIterations = 10
        /// τ of the energy and of the pre-training NT-Xent.
        public var temperature = 0.5
        /// Share of the unlabelled samples held out for early stopping (0: keep the last epoch).
        public var validationFraction = 0.05
        /// Weight of Elsa+'s rotation loss (0: the paper's Elsa+, without it).
        public var shiftWeight = 1.0
        /// Elsa+ fine-tunes with every BatchNorm in inference mode (the code's; false: the paper).
        public var freezesBatchNorm = true
        public var lossReduction = LossReduction.mean
        /// Random views averaged per test image (and rotation, Elsa+).
        public var testViews = 1
        public var score = Score.code

        public init() {}

        /// Elsa+ (the code's ELSApp defaults).
        public static var plus: Configuration {
            var c = Configuration()
            c.plus = true
            c.testViews = 10
            return c
        }

        public var shiftCount: Int { plus ? 4 : 1 }

        public func validate() throws {
            try encoder.validate(prefix: "encoder.")
            try pretraining.validate(prefix: "pretraining.")
            try finetuning.validate(prefix: "finetuning.")
            try OptionCheck.require("projectionSize", projectionSize, in: 1...65_536)
            try OptionCheck.require("temperature", temperature, in: 1e-3...100)
            try OptionCheck.require("prototypeCount", prototypeCount, in: 1...100_000)
            guard log(Double(prototypeCount)) > 1 / temperature else {
                throw DetectorError.invalidOption(
                    option: "prototypeCount", value: "\(prototypeCount)",
                    requirement: "ln K must exceed 1/temperature (\(1 / temperature)), else the loss term 1/S is singular; "
                        + "use at least \(Int(exp(1 / temperature).rounded(.down)) + 1)")
            }
            try OptionCheck.require("prototypeRefresh", prototypeRefresh, in: 1...1_000_000)
            try OptionCheck.require("kMeansIterations", kMeansIterations, in: 1...10_000)
            try OptionCheck.require("validationFraction", validationFraction, in: 0...0.5)
            try OptionCheck.require("shiftWeight", shiftWeight, in: 0...1000)
            try OptionCheck.require("testViews", testViews, in: 1...1000)
        }

        /// The CSI configuration of the pre-training (SimCLR for Elsa).
        var pretrainingCSI: CSI.Configuration {
            var c = CSI.Configuration()
            c.shiftedInstances = plus
            c.encoder = encoder
            c.training = pretraining
            c.temperature = temperature
            c.projectionSize = projectionSize
            return c
        }
    }

    /// The network and the unit prototypes [K, d].
    public final class State: DetectorState {
        public let network: ContrastiveNetwork
        public let prototypes: Tensor

        init(sampleShape: [Int], network: ContrastiveNetwork, prototypeCount: Int, dimension: Int) {
            self.network = network
            prototypes = Tensor.zeros([prototypeCount, dimension])
            super.init(sampleShape: sampleShape)
        }
    }

    public static let methodName = "elsa"
    /// Mutable so that a `pretrained` run's encoder options are recorded with the fitted model.
    public var configuration: Configuration
    public var state: State?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public static func makeState(sampleShape: [Int], configuration c: Configuration, using g: inout SeededGenerator)
        throws -> State
    {
        let network = ContrastiveNetwork.csi(
            sampleShape: sampleShape, encoder: c.encoder, projectionSize: c.projectionSize, shiftCount: c.shiftCount,
            using: &g)
        return State(sampleShape: sampleShape, network: network, prototypeCount: c.prototypeCount, dimension: c.projectionSize)
    }

    /// Loads with the encoder options recorded in the model file: a run fine-tuned from
    /// `pretrained` records that run's encoder, which its options (`pretrained=…`) do not say.
    public mutating func loadFittedState(from url: URL) throws {
        let contents = try Checkpoint.read(from: url)
        if let json = contents.metadata["configuration"]?.data(using: .utf8),
            let stored = try? ConfigurationDecoding.decode(Configuration.self, from: json, defaults: configuration)
        {
            configuration.encoder = stored.encoder
            configuration.projectionSize = stored.projectionSize
        }
        state = try Self.loadState(from: contents, url: url, configuration: configuration)
    }

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        try configuration.validate()
        let (samples, semiLabels) = try DetectorInput.semiSupervised(data, detector: Self.methodName)
        try ContrastivePretraining.requireImages(samples, detector: Self.methodName, rotates: configuration.plus)
        let notAnomalous = semiLabels.indices.filter { semiLabels[$0] != DetectorInput.labeledAnomaly }
        let normalish = samples.selecting(notAnomalous)

        // Step 1: a pre-trained network, from a named run or trained here.
        var pretrained: CSI.State? = nil
        if let path = configuration.pretrained {
            let (fitted, used) = try CSI.referenced(
                option: "pretrained", path: path, sampleShape: samples.sampleShape, defaults: CSI.Configuration())
            if configuration.plus && !used.shiftedInstances {
                throw DetectorError.invalidConfiguration(
                    "pretrained=\(path): Elsa+ fine-tunes a CSI network with a rotation head; that run is SimCLR (use a csi run, or plus=false)")
            }
            if used.encoder != configuration.encoder || used.projectionSize != configuration.projectionSize {
                context.logger.info("elsa: pretrained=\(path) has encoder \(used.encoder.architecture.rawValue) ×\(used.encoder.widthMultiplier), projection \(used.projectionSize); fine-tuning that network")
            }
            configuration.encoder = used.encoder
            configuration.projectionSize = used.projectionSize
            pretrained = fitted
        }
        let c = configuration
        var generator = SeededGenerator(seed: context.seed)
        let state = try Self.makeState(sampleShape: samples.sampleShape, configuration: c, using: &generator)
        let network = state.network
        if let pretrained {
            let source = Dictionary(uniqueKeysWithValues: pretrained.network.namedTensors().map { ($0.name, $0.tensor) })
            withoutGradients {
                for (name, tensor) in network.namedTensors() { if let value = source[name] { tensor.assign(value) } }
            }
        } else {
            let csi = c.pretrainingCSI
            try ContrastivePretraining.run(
                model: network, trained: network, samples: normalish, options: c.pretraining,
                views: ContrastivePretraining.views(options: c.pretraining, rotationCount: c.shiftCount), context: context
            ) { views, imageCount in
                CSI.lossTerms(network, views: views, imageCount: imageCount, configuration: csi)
            }
        }

        // The early-stopping hold-out: a share of the unlabelled samples, out of the training batches.
        var holdOutGenerator = SeededGenerator(seed: context.seed &+ 21)
        let unlabeled = semiLabels.indices.filter { semiLabels[$0] == DetectorInput.unlabeled }
        let heldOutCount = Int(Double(unlabeled.count) * c.validationFraction)
        let heldOut = Set(holdOutGenerator.permutation(unlabeled.count).prefix(heldOutCount).map { unlabeled[$0] })
        let training = semiLabels.indices.filter { !heldOut.contains($0) }
        let validation = EarlyStopping(
            samples.selecting(heldOut.sorted()), rotationCount: c.shiftCount, crop: c.finetuning.cropScale,
            using: &holdOutGenerator)

        // Steps 2–5.
        let refreshPrototypes = { (epoch: Int) in
            var g = SeededGenerator(seed: context.seed &+ 31 &+ UInt64(epoch))
            state.prototypes.assign(
                Self.prototypes(normalish, network: network, c, device: context.device, using: &g))
        }
        refreshPrototypes(0)
        let views = CSIAugmentation(
            simclr: SimCLRAugmentation(cropScale: c.finetuning.cropScale...c.finetuning.cropScale), viewCount: 2,
            rotationCount: c.shiftCount)
        let selection = validation.imageCount > 0
            ? ModelSelection { -(try validation.score(network: network, prototypes: state.prototypes, device: context.device)) }
            : nil
        try ContrastivePretraining.runBatches(
            phase: "finetuning", model: state, trained: network, samples: samples.selecting(training),
            labels: training.map { semiLabels[$0] }, options: c.finetuning, views: views, context: context,
            scorer: Self.scorer(state, c, context), selection: selection
        ) { batchViews, batch in
            if batch.index == 0, batch.epoch > 0, (batch.epoch - 1) % c.prototypeRefresh == 0 {
                refreshPrototypes(batch.epoch)
                network.train()
            }
            if c.plus && c.freezesBatchNorm { Self.freezeBatchNorm(network) }
            return Self.lossTerms(
                network, views: batchViews, semiLabels: views.viewLabels(batch.labels), prototypes: state.prototypes,
                configuration: c)
        }
        state.eval()
        self.state = state
    }

    /// The fine-tuning loss of one batch of views (`semiLabels` per view): the energy term and,
    /// for Elsa+, the rotation term.
    public static func lossTerms(
        _ network: ContrastiveNetwork, views: Tensor, semiLabels: [Int], prototypes: Tensor, configuration c: Configuration
    ) -> [LossTerm] {
        let h = network.encode(views)
        let z = l2Normalize(network.projector(h), axis: 1)
        var energy = energyLoss(z, prototypes: prototypes, semiLabels: semiLabels, temperature: Float(c.temperature))
        if c.lossReduction == .sum { energy = energy * Float(semiLabels.count) }
        var terms = [LossTerm("energy", energy)]
        if c.plus {
            let rows = semiLabels.indices.filter { semiLabels[$0] != DetectorInput.labeledAnomaly }
            if !rows.isEmpty {
                let rotations = CSIAugmentation(viewCount: 2, rotationCount: c.shiftCount)
                    .rotationLabels(batchSize: views.shape[0] / (2 * c.shiftCount))
                let logits = network.shiftLogits(h).indexSelect(rows)
                terms.append(LossTerm("rotation", shiftClassificationLoss(logits: logits, rotations: rows.map { rotations[$0] }) * Float(c.shiftWeight)))
            }
        }
        return terms
    }

    /// S_τ(x) = LSE_p(⟨ẑ(x), p⟩/τ) of unit rows `z` [N, d] against unit `prototypes` [K, d]
    /// (`temperature` nil: τ = 1, the code's test score).
    public static func energy(_ z: Tensor, prototypes: Tensor, temperature: Float?) -> Tensor {
        let similarities = matmul(z, prototypes, transposeB: true)
        return (temperature.map { similarities * (1 / $0) } ?? similarities).logSumExp(axis: 1)
    }

    /// Elsa's inverse-energy loss (Eq. 13, the code's mean): 1/(C − S_τ) for labelled anomalies
    /// (semi-label −1), 1/S_τ for the others, C = ln K + 1/τ, averaged over the rows of `z`.
    public static func energyLoss(_ z: Tensor, prototypes: Tensor, semiLabels: [Int], temperature: Float) -> Tensor {
        precondition(semiLabels.count == z.shape[0], "Elsa.energyLoss: one semi-label per row")
        let s = energy(z, prototypes: prototypes, temperature: temperature)
        let bound = Float(log(Double(prototypes.shape[0]))) + 1 / temperature
        let anomalies = semiLabels.indices.filter { semiLabels[$0] == DetectorInput.labeledAnomaly }
        let others = semiLabels.indices.filter { semiLabels[$0] != DetectorInput.labeledAnomaly }
        var total: Tensor? = nil
        if !anomalies.isEmpty { total = (1 / (bound - s.indexSelect(anomalies))).sum() }
        if !others.isEmpty {
            let term = (1 / s.indexSelect(others)).sum()
            total = total.map { $0 + term } ?? term
        }
        return total! * (1 / Float(semiLabels.count))
    }

    /// The prototypes: spherical k-means on the unaugmented normalised projections of `samples`
    /// (Elsa+: of their four rotations, pooled).
    static func prototypes(
        _ samples: Samples, network: ContrastiveNetwork, _ c: Configuration, device: Device, using g: inout SeededGenerator
    ) -> Tensor {
        network.eval()
        var rows: [Tensor] = []
        BatchScorer.forEachBatch(samples, sampleShape: samples.sampleShape, batchSize: 256, device: device) { _, x in
            for k in 0..<c.shiftCount {
                let view = k == 0 ? x : ImageOps.rot90(x.to(.cpu), k: k).to(device)
                rows.append(l2Normalize(network.projector(network.encode(view)), axis: 1).to(.cpu))
            }
        }
        return SphericalKMeans.fit(Tensor.concat(rows), clusterCount: c.prototypeCount, iterations: c.kMeansIterations, using: &g)
            .to(device)
    }

    /// Puts every BatchNorm of `network` in inference mode (Elsa+ fine-tuning).
    static func freezeBatchNorm(_ network: Module) {
        network.visitModules { _, module in if module is BatchNorm { module.eval() } }
    }

    public static func scoreBatch(_ inputs: Tensor, state: State, configuration c: Configuration) -> Tensor {
        let network = state.network
        switch c.score {
        case .code:
            let views = ShiftedFeatureBank.averagedViews(
                inputs, network: network, shiftCount: c.shiftCount, viewCount: c.testViews, flips: c.plus)
            return -views.projections.map { energy(l2Normalize($0, axis: 1), prototypes: state.prototypes, temperature: nil) }
                .reduce(Tensor.zeros([inputs.shape[0]]).to(inputs.device), +)
        case .paper:
            var total = Tensor.zeros([inputs.shape[0]]).to(inputs.device)
            ShiftedFeatureBank.forEachTestView(
                inputs, network: network, shiftCount: c.shiftCount, viewCount: c.testViews, flips: c.plus
            ) { _, _, _, z in
                total = total + energy(l2Normalize(z, axis: 1), prototypes: state.prototypes, temperature: Float(c.temperature))
            }
            return total * (-1 / Float(c.testViews))
        }
    }

    /// The early-stopping score of §2.1.7 over fixed validation views.
    struct EarlyStopping {
        /// Per batch of ≤ 64 held-out images: weak and strong views, `rotationCount` blocks of rows each.
        let batches: [(weak: Tensor, strong: Tensor, count: Int)]
        let rotationCount: Int

        var imageCount: Int { batches.reduce(0) { $0 + $1.count } }

        init(_ samples: Samples, rotationCount: Int, crop: Double, using g: inout SeededGenerator) {
            self.rotationCount = rotationCount
            let simclr = SimCLRAugmentation(cropScale: crop...crop)
            let weak = CSIAugmentation(simclr: simclr, viewCount: 1, rotationCount: rotationCount)
            let strong = CSIAugmentation(
                simclr: simclr, viewCount: 1, rotationCount: rotationCount, flip: RandomHorizontalFlip(probability: 0))
            let randAugment = RandAugmentMC()
            var batches: [(Tensor, Tensor, Int)] = []
            BatchScorer.forEachBatch(samples, sampleShape: samples.sampleShape, batchSize: 64, device: .cpu) { _, x in
                let weakViews = weak(x, using: &g)
                let strongViews = strong(randAugment(x, using: &g), using: &g)
                batches.append((weakViews, strongViews, x.shape[0]))
            }
            self.batches = batches
        }

        /// The mean over batches of the AUROC of weak (normal) against strong views, scored by
        /// LSE_p⟨ẑ, p⟩ summed over rotations.
        func score(network: ContrastiveNetwork, prototypes: Tensor, device: Device) throws -> Double {
            try withoutGradients {
                var total = 0.0
                for (weak, strong, count) in batches {
                    func normality(_ views: Tensor) -> [Float] {
                        let z = l2Normalize(network.projector(network.encode(views.to(device))), axis: 1)
                        return Elsa.energy(z, prototypes: prototypes, temperature: nil)
                            .reshaped([rotationCount, count]).sum(axis: 0).toArray()
                    }
                    total += try auroc(normalScores: normality(weak), anomalyScores: normality(strong), orientation: .higherIsNormal)
                }
                return total / Double(batches.count)
            }
        }
    }
}
