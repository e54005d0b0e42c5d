import Datasets
import Foundation
import Layers
import Tensors

/// HSCL — Hierarchical Semi-Supervised Contrastive Learning (Wang et al., ECCV 2022;
/// METHODS.md §2.2): one training run on the contaminated unlabelled images X_u, the labelled
/// normals X_n and the labelled anomalies X_a (semi-labels 0, +1, −1 of `DetectorInput`).
///
/// Training, per batch of B images (the views of CSI, 2 flipped copies × 4 rotations = 8B rows;
/// every view carries its image's semi-label, pitfall 20):
/// 1. a = ẑ, the unit projections of the views; L_ss = L_con-SI + L_cls-SI, CSI's loss (Eq. 1–2).
/// 2. Prototypes P ∈ R^{d×K} (K = 1), learnable, Xavier-uniform; p̂ = column-normalised P.
/// 3. Soft weights (Eq. 5): w_i = 1 for labelled normals, (max_k a_iᵀp̂_k + 1)/2 for unlabelled
///    views, held constant (stop-gradient).
/// 4. L_sp (S-P, Eq. 3–4): pull the normal-ish views towards their nearest prototype, push the
///    labelled anomalies away.
/// 5. L_na (N-A, Eq. 6–7): one anchor per view; anchor and positive drawn ∝ w·1[w > η] from the
///    labelled normals and unlabelled views, negatives from the labelled anomalies; softmax
///    cross-entropy at scale r = 1/τ = 2.
/// 6. L = L_ss + λ1·L_sp + λ2·L_na (Eq. 8); a batch without a labelled normal or without a
///    labelled anomaly has L_sp = L_na = 0 (code). Adam 1e-3 warmed up ×10 over 10 epochs, then
///    cosine (pitfall 10), 250 epochs of 256 images.
///
/// Code and paper differ in both added losses (pitfall 7); `spLoss` and `naLoss` choose, the
/// code's form being the default:
/// * S-P, code: mean_i (w_i(max_k a_iᵀp̂_k − 1))² + mean_{j,k} (a_jᵀp̂_k + 1)² with every a
///   detached (only P learns). Paper (Eq. 4): the same first term, and the anomalies' [a_jᵀp̂_k]_+²
///   summed over k and averaged over j, with gradients into the encoder.
/// * N-A, code: anchor, positive and one negative per view are each the normalised convex mix
///   of `mixCount` = 2 draws (weights U(0,1) normalised to sum 1). Paper (Eq. 6–7, as
///   reconstructed): single draws for anchor and positive, every labelled-anomaly view a negative.
///
/// Score (`score`, §2.2.4), a normality score whose negative this detector returns: `csi`, the
/// code's — CSI's score (§1.4) with the nearest training axis replaced by the raw prototype,
/// s(x) = (1/4) Σ_k [w^sim_k · max_j ⟨z̄_k(x), P_{:,j}⟩ + w^cls_k · ℓ̄_k(x)], z̄_k and ℓ̄_k averaged
/// over `testViews` views (crop 0.54), the CSI weights taken on all the training images (the
/// labelled anomalies included, as the code's evaluation set); `prototype`, the paper's Eq. 9,
/// max_k cos(ẑ(x), p_k) of the plain image's projection.
///
/// Choices: the paper form keeps the soft weights constant as the code does; its N-A draws one
/// anchor per view, like the code. The cosine ends at 0 rather than the code's η_min = 1e-6. The
/// data protocol of §2.2.5 is `SemiSupervisedProtocol.hscl`.
public struct HSCL: DeepDetector {
    /// Which form of an added loss: the released code's (default) or the paper's.
    public enum LossForm: String, Codable, Sendable, CaseIterable {
        case code, paper
    }

    public enum Score: String, Codable, Sendable, CaseIterable {
        /// The code's CSI-style score with the prototype in place of the nearest training axis.
        case csi
        /// The paper's Eq. 9: the largest cosine to a prototype.
        case prototype
    }

    public struct Configuration: Codable, Sendable, Equatable, ValidatingConfiguration, CSIOptions {
        public var encoder = EncoderOptions()
        public var training = ContrastiveTrainingOptions.hscl
        /// τ of NT-Xent in L_ss.
        public var temperature = 0.5
        /// Weight of the rotation loss L_cls-SI inside L_ss.
        public var shiftWeight = 1.0
        public var projectionSize = 128
        /// K, the number of prototypes.
        public var prototypeCount = 1
        /// λ1 of L_sp.
        public var prototypeWeight = 1.0
        /// λ2 of L_na.
        public var contrastWeight = 1.0
        public var spLoss = LossForm.code
        public var naLoss = LossForm.code
        /// η: views with a soft weight w ≤ η are never drawn as anchors or positives.
        public var samplingThreshold = 0.4
        /// Draws mixed into each anchor, positive and negative (code form of L_na).
        public var mixCount = 2
        /// r, the scale of the N-A cosines (1/τ).
        public var contrastScale = 2.0
        public var score = Score.csi
        /// T: augmented views averaged per test image and rotation (score=csi).
        public var testViews = 10

        public init() {}

        public func validate() throws {
            try csi.validate()
            try OptionCheck.require("prototypeCount", prototypeCount, in: 1...1024)
            try OptionCheck.require("prototypeWeight", prototypeWeight, in: 0...1000)
            try OptionCheck.require("contrastWeight", contrastWeight, in: 0...1000)
            try OptionCheck.require("samplingThreshold", samplingThreshold, in: 0...0.999)
            try OptionCheck.require("mixCount", mixCount, in: 1...64)
            try OptionCheck.require("contrastScale", contrastScale, in: 1e-3...1000)
        }
    }

    /// The network, the prototypes and CSI's per-rotation weights of the training set.
    public final class State: DetectorState, ContrastiveNetworkOwner {
        public let network: ContrastiveNetwork
        /// P [d, K], the code's `normal_vec` (learnable; normalised where the losses use it).
        public let prototypes: Tensor
        /// w^sim_k and w^cls_k [4] (score=csi).
        public let similarityWeights: Tensor
        public let shiftWeights: Tensor

        init(sampleShape: [Int], network: ContrastiveNetwork, prototypes: Tensor) {
            self.network = network
            self.prototypes = prototypes
            similarityWeights = Tensor.ones([Self.shiftCount])
            shiftWeights = Tensor.zeros([Self.shiftCount])
            super.init(sampleShape: sampleShape)
        }

        static let shiftCount = 4
        public var contrastiveNetwork: ContrastiveNetwork { network }
    }

    public static let methodName = "hscl"
    public let configuration: Configuration
    public var state: State?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public static func makeState(sampleShape: [Int], configuration c: Configuration, using g: inout SeededGenerator)
        throws -> State
    {
        let network = ContrastiveNetwork.csi(
            sampleShape: sampleShape, encoder: c.encoder, projectionSize: c.projectionSize, shiftCount: State.shiftCount,
            using: &g)
        // Xavier-uniform for a [d, K] matrix: fan_in = K, fan_out = d.
        let bound = Float((6 / Double(c.projectionSize + c.prototypeCount)).squareRoot())
        let prototypes = Tensor.uniform([c.projectionSize, c.prototypeCount], low: -bound, high: bound, using: &g)
        return State(sampleShape: sampleShape, network: network, prototypes: prototypes.requiringGrad())
    }

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        try configuration.validate()
        let (samples, semiLabels) = try DetectorInput.semiSupervised(data, detector: Self.methodName)
        try ContrastivePretraining.requireImages(samples, detector: Self.methodName, rotates: true)
        guard semiLabels.contains(DetectorInput.labeledNormal), semiLabels.contains(DetectorInput.labeledAnomaly) else {
            throw DetectorError.invalidConfiguration(
                "hscl is semi-supervised: it needs labelled normals and labelled anomalies besides the unlabelled images "
                    + "(e.g. --protocol semi-supervised --counting hscl)")
        }
        let c = configuration
        var generator = SeededGenerator(seed: context.seed)
        let state = try Self.makeState(sampleShape: samples.sampleShape, configuration: c, using: &generator)
        let views = ContrastivePretraining.views(options: c.training, rotationCount: State.shiftCount)
        try ContrastivePretraining.runBatches(
            model: state, trained: state, samples: samples, labels: semiLabels, options: c.training, views: views,
            context: context, scorer: Self.monitor(state, training: samples, c, context)
        ) { batch, info, generator in
            Self.lossTerms(
                state, views: batch, semiLabels: views.viewLabels(info.labels), imageCount: info.indices.count,
                configuration: c, using: &generator)
        }
        Self.fitScoreWeights(state, training: samples, c, context)
        state.eval()
        self.state = state
    }

    /// L = L_ss + λ1·L_sp + λ2·L_na (Eq. 8) of one batch of views in `CSIAugmentation`'s row order,
    /// `semiLabels` one per view; the N-A draws come from `generator`.
    public static func lossTerms(
        _ state: State, views: Tensor, semiLabels: [Int], imageCount: Int, configuration c: Configuration,
        using generator: inout SeededGenerator
    ) -> [LossTerm] {
        let h = state.network.encode(views)
        let z = state.network.projector(h)
        var terms = CSI.lossTerms(state.network, features: h, projections: z, imageCount: imageCount, configuration: c.csi)  // L_ss, Eq. 1–2
        guard semiLabels.contains(DetectorInput.labeledNormal), semiLabels.contains(DetectorInput.labeledAnomaly) else {
            return terms + [LossTerm("S-P", Tensor(0)), LossTerm("N-A", Tensor(0))]  // the code's batch rule
        }
        let a = l2Normalize(z, axis: 1)
        let w = softWeights(embeddings: a, semiLabels: semiLabels, prototypes: state.prototypes)  // Eq. 5
        let sp = samplePrototypeLoss(embeddings: a, semiLabels: semiLabels, prototypes: state.prototypes, weights: w, form: c.spLoss)
        let draws = drawContrast(
            semiLabels: semiLabels, weights: w.toArray(), form: c.naLoss, threshold: Float(c.samplingThreshold),
            mixCount: c.mixCount, count: semiLabels.count, using: &generator)  // Eq. 7
        let na = normalAnomalyLoss(embeddings: a, semiLabels: semiLabels, draws: draws, scale: Float(c.contrastScale))
        terms.append(LossTerm("S-P", sp * Float(c.prototypeWeight)))  // Eq. 3–4
        terms.append(LossTerm("N-A", na * Float(c.contrastWeight)))  // Eq. 6
        return terms
    }

    // MARK: - Losses

    /// Eq. 5: w_i = 1 for a labelled normal, (max_k a_iᵀp̂_k + 1)/2 for an unlabelled row, 0 for a
    /// labelled anomaly (never used); constant (no gradient). `embeddings` [N, d] unit rows,
    /// `prototypes` [d, K] raw.
    public static func softWeights(embeddings a: Tensor, semiLabels: [Int], prototypes: Tensor) -> Tensor {
        precondition(a.rank == 2 && semiLabels.count == a.shape[0], "HSCL.softWeights: one semi-label per row of \(a.shape)")
        return withoutGradients {
            let nearest = matmul(a, l2Normalize(prototypes, axis: 0)).max(axis: 1)
            let isNormal = Tensor(semiLabels.map { $0 == DetectorInput.labeledNormal ? 1 : 0 }).to(a.device)
            let isUnlabeled = Tensor(semiLabels.map { $0 == DetectorInput.unlabeled ? 1 : 0 }).to(a.device)
            return (isNormal + isUnlabeled * (nearest + 1) * 0.5).detached()
        }
    }

    /// L_sp (Eq. 3–4) of unit embeddings `a` [N, d] with semi-labels, prototypes P [d, K] (raw;
    /// normalised here) and soft weights `weights` [N] (constants): with n_i = max_k a_iᵀp̂_k over
    /// the labelled-normal and unlabelled rows U and the labelled anomalies A,
    ///
    ///     code:  mean_{i∈U} (w_i(n_i − 1))² + mean_{j∈A,k} (a_jᵀp̂_k + 1)²,   a detached;
    ///     paper: mean_{i∈U} (w_i(n_i − 1))² + (1/|A|) Σ_{j∈A,k} [a_jᵀp̂_k]_+².
    public static func samplePrototypeLoss(
        embeddings a: Tensor, semiLabels: [Int], prototypes: Tensor, weights: Tensor, form: LossForm
    ) -> Tensor {
        let (pool, anomalies) = roles(semiLabels)
        precondition(!pool.isEmpty && !anomalies.isEmpty, "HSCL.samplePrototypeLoss: needs normal-ish rows and anomalies")
        let embeddings = form == .code ? a.detached() : a
        let p = l2Normalize(prototypes, axis: 0)
        let nearest = matmul(embeddings.indexSelect(pool), p).max(axis: 1)
        let pull = (weights.detached().indexSelect(pool) * (nearest - 1)).squared().mean()
        let anomalyCosines = matmul(embeddings.indexSelect(anomalies), p)
        switch form {
        case .code: return pull + (anomalyCosines + 1).squared().mean()
        case .paper: return pull + anomalyCosines.relu().squared().sum() * (1 / Float(anomalies.count))
        }
    }

    /// A convex combination of rows of the embeddings: Σ_j coefficients[j]·a[rows[j]], normalised.
    public struct Mixture: Equatable, Sendable {
        public var rows: [Int]
        public var coefficients: [Float]

        public init(rows: [Int], coefficients: [Float]) {
            precondition(rows.count == coefficients.count && !rows.isEmpty, "HSCL.Mixture: one coefficient per row")
            self.rows = rows
            self.coefficients = coefficients
        }
    }

    /// The random draws of one N-A loss: an anchor and a positive per draw, and either one mixed
    /// negative per anchor (code) or none, every labelled anomaly being a negative (paper).
    public struct ContrastDraws: Equatable, Sendable {
        public var anchors: [Mixture]
        public var positives: [Mixture]
        public var negatives: [Mixture]?

        public init(anchors: [Mixture], positives: [Mixture], negatives: [Mixture]?) {
            precondition(anchors.count == positives.count && (negatives?.count ?? anchors.count) == anchors.count, "HSCL.ContrastDraws: one positive (and negative) per anchor")
            self.anchors = anchors
            self.positives = positives
            self.negatives = negatives
        }
    }

    /// L_na (Eq. 6) of unit embeddings `a` [N, d] for fixed draws: anchors u_b, positives v_b
    /// (normalised mixtures), negatives n_b (mixed) or all labelled anomalies,
    ///
    ///     L_na = mean_b −log( e^{r⟨u_b, v_b⟩} / (e^{r⟨u_b, v_b⟩} + Σ_negatives e^{r⟨u_b, n⟩}) ).
    public static func normalAnomalyLoss(embeddings a: Tensor, semiLabels: [Int], draws: ContrastDraws, scale: Float)
        -> Tensor
    {
        let anchors = mix(a, draws.anchors), positives = mix(a, draws.positives)
        let positive = (anchors * positives).sum(axis: 1, keepDims: true)
        let negative: Tensor
        if let negatives = draws.negatives {
            negative = (anchors * mix(a, negatives)).sum(axis: 1, keepDims: true)
        } else {
            let anomalies = roles(semiLabels).anomalies
            precondition(!anomalies.isEmpty, "HSCL.normalAnomalyLoss: no labelled anomaly to contrast with")
            negative = matmul(anchors, a.indexSelect(anomalies), transposeB: true)
        }
        let logits = Tensor.concat([positive, negative], axis: 1) * scale
        return crossEntropy(logits: logits, labels: [Int](repeating: 0, count: draws.anchors.count))
    }

    /// Eq. 7's sampling from the loop's generator: `count` anchors and positives from the
    /// labelled-normal and unlabelled rows, drawn with replacement ∝ w·1[w > η]; code form: each a
    /// mix of `mixCount` draws with U(0,1) weights normalised to sum 1, and a negative mixed the
    /// same way from labelled anomalies drawn uniformly; paper form: single draws, no negatives
    /// drawn (all labelled anomalies are).
    public static func drawContrast(
        semiLabels: [Int], weights: [Float], form: LossForm, threshold: Float, mixCount: Int, count: Int,
        using g: inout SeededGenerator
    ) -> ContrastDraws {
        precondition(weights.count == semiLabels.count, "HSCL.drawContrast: one weight per row")
        var cumulative: [Float] = [], total: Float = 0
        for (w, label) in zip(weights, semiLabels) {
            if label != DetectorInput.labeledAnomaly, w > threshold { total += w }
            cumulative.append(total)
        }
        precondition(total > 0, "HSCL.drawContrast: no row above the sampling threshold")
        let anomalies = roles(semiLabels).anomalies
        func weighted() -> Int {
            let u = Float(g.nextUniform()) * total
            // The first row whose cumulative weight exceeds u (rows of weight 0 are never chosen).
            var (low, high) = (0, cumulative.count - 1)
            while low < high {
                let middle = (low + high) / 2
                if cumulative[middle] > u { high = middle } else { low = middle + 1 }
            }
            return low
        }
        func uniformAnomaly() -> Int { anomalies[Int(g.next() % UInt64(anomalies.count))] }
        func mixture(_ draw: () -> Int) -> Mixture {
            let rows = (0..<mixCount).map { _ in draw() }
            let raw = (0..<mixCount).map { _ in Float(g.nextUniform()) }
            let sum = max(raw.reduce(0, +), 1e-12)
            return Mixture(rows: rows, coefficients: raw.map { $0 / sum })
        }
        switch form {
        case .code:
            var anchors: [Mixture] = [], positives: [Mixture] = [], negatives: [Mixture] = []
            for _ in 0..<count {
                anchors.append(mixture(weighted))
                positives.append(mixture(weighted))
                negatives.append(mixture(uniformAnomaly))
            }
            return ContrastDraws(anchors: anchors, positives: positives, negatives: negatives)
        case .paper:
            var anchors: [Mixture] = [], positives: [Mixture] = []
            for _ in 0..<count {
                anchors.append(Mixture(rows: [weighted()], coefficients: [1]))
                positives.append(Mixture(rows: [weighted()], coefficients: [1]))
            }
            return ContrastDraws(anchors: anchors, positives: positives, negatives: nil)
        }
    }

    /// Rows of the labelled normals and unlabelled views (U), and of the labelled anomalies (A).
    static func roles(_ semiLabels: [Int]) -> (pool: [Int], anomalies: [Int]) {
        let anomalies = semiLabels.indices.filter { semiLabels[$0] == DetectorInput.labeledAnomaly }
        return (semiLabels.indices.filter { semiLabels[$0] != DetectorInput.labeledAnomaly }, anomalies)
    }

    /// normalize(Σ_j c_bj · a[i_bj]) for every mixture b; all mixtures have the same length.
    static func mix(_ a: Tensor, _ mixtures: [Mixture]) -> Tensor {
        let size = mixtures[0].rows.count
        precondition(mixtures.allSatisfy { $0.rows.count == size }, "HSCL.mix: mixtures of one length")
        var sum: Tensor? = nil
        for j in 0..<size {
            let coefficients = Tensor(mixtures.map { $0.coefficients[j] }, shape: [mixtures.count, 1]).to(a.device)
            let term = a.indexSelect(mixtures.map { $0.rows[j] }) * coefficients
            sum = sum.map { $0 + term } ?? term
        }
        return l2Normalize(sum!, axis: 1)
    }

    // MARK: - Score

    public static func scoreBatch(_ inputs: Tensor, state: State, configuration c: Configuration) -> Tensor {
        -normality(inputs, state: state, configuration: c)
    }

    /// HSCL's normality score of a batch (§2.2.4; see the type's documentation).
    public static func normality(_ inputs: Tensor, state: State, configuration c: Configuration) -> Tensor {
        switch c.score {
        case .prototype:  // Eq. 9
            let z = state.network.projector(state.network.encode(inputs))
            return matmul(l2Normalize(z, axis: 1), l2Normalize(state.prototypes, axis: 0)).max(axis: 1)
        case .csi:
            let views = ShiftedFeatureBank.averagedViews(
                inputs, network: state.network, shiftCount: State.shiftCount, viewCount: c.testViews, flips: true)
            let sim = state.similarityWeights.toArray(), cls = state.shiftWeights.toArray()
            var total: Tensor? = nil
            for k in 0..<State.shiftCount {
                let term = matmul(views.projections[k], state.prototypes).max(axis: 1) * sim[k] + views.logits[k] * cls[k]
                total = total.map { $0 + term } ?? term
            }
            return total! * (1 / Float(State.shiftCount))
        }
    }

    /// CSI's weights w^sim_k, w^cls_k on the training images (score=csi; nothing for score=prototype).
    static func fitScoreWeights(_ state: State, training: Samples, _ c: Configuration, _ context: TrainingContext) {
        guard c.score == .csi else { return }
        let views = ShiftedFeatureBank.averagedViews(
            of: training, network: state.network, shiftCount: State.shiftCount, viewCount: c.testViews, flips: true,
            context: context)
        let weights = ShiftedFeatureBank.weights(projections: views.projections, logits: views.logits)
        withoutGradients {
            state.similarityWeights.assign(Tensor(weights.similarity))
            state.shiftWeights.assign(Tensor(weights.shift))
        }
    }

    /// The test-evaluation callback: the score weights are refitted with the current network first.
    static func monitor(_ state: State, training: Samples, _ c: Configuration, _ context: TrainingContext)
        -> (Samples) throws -> [Float]
    {
        let score = scorer(state, c, context)
        var quiet = context
        quiet.progress = SilentProgress()
        return { samples in
            fitScoreWeights(state, training: training, c, quiet)
            return try score(samples)
        }
    }
}

extension ContrastiveTrainingOptions {
    /// HSCL's code defaults (§2.2.3): Adam 1e-3 warmed up ×10 over 10 epochs (peak 1e-2), then
    /// cosine; weight decay 1e-6; 250 epochs of 256 images.
    public static let hscl = ContrastiveTrainingOptions(
        epochs: 250, batchSize: 256, optimizer: .adam, learningRate: 1e-3, weightDecay: 1e-6, warmupEpochs: 10,
        warmupMultiplier: 10)
}
