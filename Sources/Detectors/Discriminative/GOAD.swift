import Datasets
import Foundation
import Layers
import Tensors

/// GOAD — classification-based anomaly detection for general data (Bergman & Hoshen, ICLR
/// 2020; METHODS.md §3.5), for tables: M fixed random affine maps T_m(x) = xᵀW_m
/// (W_m ∈ R^{d×d_out}, i.i.d. N(0, 1)); a shared network f embeds each T_m(x), a head predicts m,
/// and a triplet-centre loss keeps each transformation's embeddings around their own centre:
///
///     L    = CE(head(f(T_m x)), m) + λ · L_tc
///     L_tc = mean_{i,m} max(0, ‖f_im − c_m‖² + s − min_{m'≠m} ‖f_im − c_m'‖²)    (c_m: batch means)
///     P(m'|T_m x) ∝ exp(−‖f(T_m x) − c_m'‖²)   (c_m: the last epoch's running batch means)
///     score(x) = −Σ_m log P(m | T_m x)
///
/// The official code's tabular defaults (Thyroid/Arrhythmia): M = 256, d_out = 32, a linear
/// trunk to ndf = 8 features, head LeakyReLU(0.2) + Linear(ndf → M), Adam 1e-3 with
/// β = (0.5, 0.999), batch 64, λ = 0.1, margin s = 1, one epoch. (KDDCUP: M = 64, d_out = 64,
/// ndf = 32, 25 epochs — set them as options.) Images (the 72 geometric transforms and a
/// wide ResNet) are not implemented here.
public struct GOAD: DeepDetector {
    public struct Configuration: Codable, Sendable, Equatable, ValidatingConfiguration {
        /// M: the number of random transformations.
        public var transformationCount = 256
        /// d_out: the dimension of each transformed vector.
        public var transformedDimension = 32
        /// ndf: the embedding size.
        public var featureCount = 8
        /// λ: weight of the triplet-centre loss.
        public var centerLossWeight = 0.1
        /// s: the triplet margin.
        public var margin = 1.0
        /// Lower bound of the squared distances in the score (the code's `eps`).
        public var distanceFloor = 0.0
        /// How the scoring centres c_m are estimated:
        /// - `running` (the official code's `sum_zs / n_batch`): the mean over the last epoch's
        ///   batches of each batch's mean embedding, taken while the weights change;
        /// - `final`: one pass over the training data after training.
        /// It decides the tabular results: with z-scored inputs and the linear, bias-free trunk,
        /// the `final` centres are the embeddings of the all-zero mean input — all ≈ 0 — and the
        /// score is noise (thyroid AUROC 0.37); the running ones are not (0.94 for the official
        /// algorithm in PyTorch on the same split, `bench/goad_tabular_torch.py`).
        public var centers = CenterEstimate.running
        public var training = TrainingOptions(epochs: 1, batchSize: 64, learningRate: 1e-3, dropLast: false)

        public init() {}

        public func validate() throws {
            try OptionCheck.require("transformationCount", transformationCount, in: 2...4096)
            try OptionCheck.require("transformedDimension", transformedDimension, in: 1...4096)
            try OptionCheck.require("featureCount", featureCount, in: 1...4096)
            try OptionCheck.require("centerLossWeight", centerLossWeight, in: 0...1e6)
            try OptionCheck.require("margin", margin, in: 0...1e6)
            try OptionCheck.require("distanceFloor", distanceFloor, in: 0...1e6)
            try training.validate(prefix: "training.")
        }
    }

    public enum CenterEstimate: String, Codable, Sendable, CaseIterable {
        case running, final
    }

    /// The fitted detector: the transformations, the trunk f, the head, and the centres.
    public final class State: DetectorState {
        /// [d, M·d_out]: the M matrices side by side.
        public let transformations: Tensor
        public let trunk: Linear
        public let head: Linear
        /// [M, ndf]: mean training embedding of each transformation.
        public let centers: Tensor
        let transformationCount: Int

        init(sampleShape: [Int], configuration: Configuration, using g: inout SeededGenerator) {
            let (d, m, dOut) = (sampleShape.reduce(1, *), configuration.transformationCount, configuration.transformedDimension)
            transformations = Tensor.normal([d, m * dOut], using: &g)
            trunk = Linear(dOut, configuration.featureCount, bias: false, using: &g)
            head = Linear(configuration.featureCount, m, using: &g)
            // The code's `weights_init`: Xavier-normal with gain √2 (it matters: PyTorch's default
            // uniform initialisation leaves the tabular AUROC far lower).
            for weight in [trunk.weight, head.weight] {
                let (fanOut, fanIn) = (Float(weight.shape[0]), Float(weight.shape[1]))
                weight.assign(Tensor.normal(weight.shape, std: Float(2).squareRoot() * (2 / (fanIn + fanOut)).squareRoot(), using: &g))
            }
            centers = Tensor.zeros([m, configuration.featureCount])
            transformationCount = m
            super.init(sampleShape: sampleShape)
        }

        /// f(T_m x) for every sample and transformation: `[B·M, ndf]` (rows i·M + m).
        func embeddings(_ x: Tensor) -> Tensor {
            let batch = x.shape[0]
            let transformed = matmul(x.reshaped([batch, x.count / batch]), transformations)
            return trunk(transformed.reshaped([batch * transformationCount, transformed.count / (batch * transformationCount)]))
        }

        /// ‖z_r − c_m'‖² for every row r and centre m', `[rows, M]`.
        static func squaredDistances(_ z: Tensor, _ centers: Tensor) -> Tensor {
            let cross = matmul(z, centers, transposeB: true)
            return z.squared().sum(axis: 1, keepDims: true) + centers.squared().sum(axis: 1).reshaped([1, centers.shape[0]])
                - cross * 2
        }

        /// The indicator of each sample's own transformation, `[1, M, M]` (broadcast over the batch,
        /// never materialised per sample).
        var ownTransformation: Tensor {
            Tensor.eye(transformationCount).reshaped([1, transformationCount, transformationCount])
        }
    }

    public static let methodName = "goad"
    public let configuration: Configuration
    public var state: State?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public static func makeState(sampleShape: [Int], configuration: Configuration, using g: inout SeededGenerator)
        throws -> State
    {
        State(sampleShape: sampleShape, configuration: configuration, using: &g)
    }

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let samples = try validatedTrainingSamples(data)
        let c = configuration
        var generator = SeededGenerator(seed: context.seed)
        let state = try Self.makeState(sampleShape: samples.sampleShape, configuration: c, using: &generator)
        let m = c.transformationCount
        let labels = (0..<m).map { $0 }
        let optimizer = Adam(
            parameters: state.trunk.parameters() + state.head.parameters(), learningRate: Float(c.training.learningRate),
            betas: (0.5, 0.999), weightDecay: Float(c.training.weightDecay))
        var loop = TrainingLoop(
            phase: "training", epochs: c.training.epochs, loader: c.training.loader(samples, seed: context.seed),
            model: state, optimizer: optimizer, schedule: c.training.schedule, seed: context.seed)
        let margin = Float(c.margin)
        // The running centres of the current epoch (kept in the state after every batch, so that
        // an epoch's checkpoint carries them and a resumed run scores the same).
        var running = (epoch: -1, sum: Tensor.zeros([m, c.featureCount]), batches: 0)
        try loop.run(context: context) { batch, _ in
            let x = batch.inputs.to(context.device)
            let b = x.shape[0]
            let z = state.embeddings(x)
            if c.centers == .running {
                if batch.epoch != running.epoch { running = (batch.epoch, Tensor.zeros([m, c.featureCount]), 0) }
                running.sum = running.sum + z.detached().reshaped([b, m, c.featureCount]).mean(axis: 0).to(.cpu)
                running.batches += 1
                state.centers.assign(running.sum / Float(running.batches))
            }
            let classification = crossEntropy(
                logits: state.head(z.leakyRelu(0.2)), labels: Array(repeating: labels, count: b).flatMap { $0 })
            let tripletCenter = Self.tripletCenterLoss(z, state: state, batch: b, margin: margin)
            return [LossTerm("classification", classification), LossTerm("triplet-centre", tripletCenter * Float(c.centerLossWeight))]
        }
        state.eval()
        if c.centers == .final {
            var sum = Tensor.zeros([m, c.featureCount])
            BatchScorer.forEachBatch(samples, sampleShape: state.sampleShape, batchSize: 256, device: context.device) { _, x in
                sum = sum + state.embeddings(x).reshaped([x.shape[0], m, c.featureCount]).sum(axis: 0)
            }
            state.centers.assign(sum / Float(samples.count))
        }
        self.state = state
    }

    /// L_tc with the batch's centres: mean over rows of max(0, ‖z − c_own‖² + s − min_other ‖z − c‖²).
    public static func tripletCenterLoss(_ z: Tensor, state: State, batch b: Int, margin: Float) -> Tensor {
        let m = state.transformationCount
        let batchCenters = z.reshaped([b, m, z.shape[1]]).mean(axis: 0)
        let distances = State.squaredDistances(z, batchCenters).reshaped([b, m, m])
        let own = state.ownTransformation
        let positive = (distances * own).sum(axis: 2)
        let negative = (distances + own * 1e6).min(axis: 2)
        return (positive + margin - negative).relu().mean()
    }

    public static func scoreBatch(_ inputs: Tensor, state: State, configuration: Configuration) -> Tensor {
        let b = inputs.shape[0]
        let distances = State.squaredDistances(state.embeddings(inputs), state.centers)
            .clamped(min: Float(configuration.distanceFloor))
        let m = state.transformationCount
        let logProbability = (-1 * distances).logSoftmax(axis: 1).reshaped([b, m, m])
        return -1 * (logProbability * state.ownTransformation).sum(axes: [1, 2])
    }
}
