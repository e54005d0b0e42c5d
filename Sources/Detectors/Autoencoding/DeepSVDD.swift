import Datasets
import Foundation
import Layers
import Tensors

/// Deep SVDD (Ruff et al., ICML 2018; METHODS.md §3.1): a bias-free network φ maps normal data
/// into a small hypersphere around a fixed centre c; the anomaly score is ‖φ(x) − c‖².
///
/// 1. Pre-train an autoencoder whose encoder is φ (reconstruction error, Adam).
/// 2. c ← mean of φ(x) over the training data (one forward pass, evaluation mode); coordinates
///    with |c_j| < ε are pushed to ±ε.
/// 3. Train φ with Adam (L2 weight decay = the λ term, milestones ×0.1) on
///    one-class:      L = (1/n) Σ ‖φ(x_i) − c‖²
///    soft-boundary:  L = R² + 1/(νn) Σ max(0, ‖φ(x_i) − c‖² − R²), with R set after every batch
///                    (after the warm-up epochs) to the (1 − ν)-quantile of the batch's distances.
/// 4. Score: ‖φ(x) − c‖² (one-class) or ‖φ(x) − c‖² − R² (soft-boundary).
///
/// Defaults are the official code's (`lukasruff/Deep-SVDD-PyTorch`): 150 + 150 epochs, learning
/// rate 1e-4 dropped ×0.1 after epoch 50, weight decay 0.5e-3 (pre-training) and 0.5e-6, batch
/// 200, GCN-l1 + min–max preprocessing with the training data's extremes for images (tables are
/// left as the reader z-scored them: `preprocessing=automatic`), ε = 0.1. Unlike the
/// official code we drop the last incomplete batch (Deep SAD's loader does); `dropLast` says.
public struct DeepSVDD: DeepDetector {
    public enum Objective: String, Codable, Sendable, CaseIterable {
        case oneClass = "one-class"
        case softBoundary = "soft-boundary"
    }

    public struct Configuration: Codable, Sendable, Equatable, ValidatingConfiguration {
        public var objective = Objective.oneClass
        /// ν of the soft-boundary objective: bound on the fraction of training samples outside.
        public var nu = 0.1
        /// Epochs before the soft-boundary radius is first updated.
        public var warmUpEpochs = 10
        /// Centre coordinates closer to 0 than this are pushed to ±centerEpsilon.
        public var centerEpsilon = 0.1
        /// GCN-l1 + min–max for images (the official code's), none for tables.
        public var preprocessing = InputNormalization.automatic
        public var network = NetworkOptions()
        public var pretraining = TrainingOptions(
            epochs: 150, batchSize: 200, learningRate: 1e-4, weightDecay: 0.5e-3, learningRateMilestones: [50])
        public var training = TrainingOptions(
            epochs: 150, batchSize: 200, learningRate: 1e-4, weightDecay: 0.5e-6, learningRateMilestones: [50])

        public init() {}

        public func validate() throws {
            try OptionCheck.require("nu", nu, in: 1e-6...1)
            try OptionCheck.require("warmUpEpochs", warmUpEpochs, in: 0...1_000_000)
            try OptionCheck.require("centerEpsilon", centerEpsilon, in: 0...1e6)
            try network.validate(prefix: "network.")
            try pretraining.validate(prefix: "pretraining.", allowsZeroEpochs: true)
            try training.validate(prefix: "training.")
        }
    }

    /// The fitted detector: input scaling, the network φ, the centre c and the radius R.
    public final class State: DetectorState {
        public let scaling: InputScaling
        public let network: any Layer
        public let center: Tensor
        public let radius = Tensor([0])

        init(sampleShape: [Int], scaling: InputScaling, network: any Layer, codeSize: Int) {
            self.scaling = scaling
            self.network = network
            center = Tensor.zeros([codeSize])
            super.init(sampleShape: sampleShape)
        }

        /// ‖φ(x) − c‖² per sample of a batch, `[B]`.
        public func squaredDistances(_ inputs: Tensor) -> Tensor {
            (network(scaling(inputs)) - center).squared().sum(axis: 1)
        }
    }

    public static let methodName = "deepsvdd"
    public let configuration: Configuration
    public var state: State?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public static func makeState(sampleShape: [Int], configuration: Configuration, using g: inout SeededGenerator)
        throws -> State
    {
        State(
            sampleShape: sampleShape, scaling: InputScaling(configuration.preprocessing, sampleShape: sampleShape),
            network: Backbones.encoder(sampleShape: sampleShape, options: configuration.network, using: &g),
            codeSize: Backbones.codeSize(configuration.network, for: sampleShape))
    }

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let samples = try validatedTrainingSamples(data)
        let configuration = configuration
        let state = try Self.pretrainedState(
            samples: samples, preprocessing: configuration.preprocessing, network: configuration.network,
            pretraining: configuration.pretraining, centerEpsilon: configuration.centerEpsilon, context: context)
        let nu = Float(configuration.nu)
        var loop = TrainingLoop(
            phase: "training", epochs: configuration.training.epochs,
            loader: configuration.training.loader(samples, seed: context.seed &+ 1), model: state,
            optimizer: configuration.training.adam(state.network), schedule: configuration.training.schedule,
            seed: context.seed &+ 1)
        try loop.run(context: context, scorer: Self.scorer(state, configuration, context)) { batch, _ in
            let distances = state.squaredDistances(batch.inputs.to(context.device))
            switch configuration.objective {
            case .oneClass:
                return [LossTerm("distance", distances.mean())]
            case .softBoundary:
                let r2 = state.radius.squared()
                let loss = r2.sum() + (distances - r2).relu().mean() / nu
                if batch.epoch >= configuration.warmUpEpochs {
                    // The graph above already holds R's old value; the new R applies from the next batch.
                    state.radius.assign(Tensor([Self.radius(distances, nu: nu)]).to(state.radius.device))
                }
                return [LossTerm("soft-boundary", loss)]
            }
        }
        state.eval()
        self.state = state
    }

    public static func scoreBatch(_ inputs: Tensor, state: State, configuration: Configuration) -> Tensor {
        let distances = state.squaredDistances(inputs)
        return configuration.objective == .softBoundary ? distances - state.radius.squared() : distances
    }

    // MARK: Shared with Deep SAD

    /// Steps 1–2: pre-trains an autoencoder on `samples` (phase "pretraining"), copies its
    /// encoder into a new state's network and sets the centre from one forward pass.
    static func pretrainedState(
        samples: Samples, preprocessing: InputNormalization, network: NetworkOptions, pretraining: TrainingOptions,
        centerEpsilon: Double, context: TrainingContext
    ) throws -> State {
        var generator = SeededGenerator(seed: context.seed)
        var configuration = Configuration()
        configuration.preprocessing = preprocessing
        configuration.network = network
        let state = try makeState(sampleShape: samples.sampleShape, configuration: configuration, using: &generator)
        state.scaling.fit(samples, device: context.device)
        let autoencoder = Backbones.autoencoder(sampleShape: samples.sampleShape, options: network, using: &generator)
        try AutoencoderPretraining.train(
            autoencoder, scaling: state.scaling, on: samples, options: pretraining, phase: "pretraining",
            context: context, seed: context.seed)
        if pretraining.epochs > 0 { state.network.copyMatchingTensors(from: autoencoder.encoder) }
        state.center.assign(
            try initialCenter(state, samples: samples, epsilon: Float(centerEpsilon), device: context.device))
        return state
    }

    /// c = mean φ(x) over `samples` (evaluation mode, no gradients); |c_j| < ε → ±ε (0 stays 0).
    static func initialCenter(_ state: State, samples: Samples, epsilon: Float, device: Device) throws -> Tensor {
        state.eval()
        defer { state.train() }
        var sum: Tensor? = nil
        BatchScorer.forEachBatch(samples, sampleShape: state.sampleShape, batchSize: 256, device: device) { _, x in
            let batchSum = state.network(state.scaling(x)).sum(axis: 0)
            sum = sum.map { $0 + batchSum } ?? batchSum
        }
        return pushedAwayFromZero(sum! / Float(samples.count), epsilon: epsilon)
    }

    /// The official code's rule for the centre: coordinates with 0 < |c_j| < ε become ±ε (a
    /// coordinate near 0 would let a bias-free network map everything there trivially).
    public static func pushedAwayFromZero(_ center: Tensor, epsilon: Float) -> Tensor {
        let small = center.abs().less(epsilon) * center.notEqual(Tensor(0))
        let pushed = Tensor.where(center.less(0), Tensor.full([], -epsilon), Tensor.full([], epsilon))
        return Tensor.where(small, pushed, center)
    }

    /// R = (1 − ν)-quantile of the batch's distances √d (NumPy's linear interpolation).
    public static func radius(_ squaredDistances: Tensor, nu: Float) -> Float {
        let sorted = squaredDistances.toArray().map { $0.squareRoot() }.sorted()
        let position = Float(sorted.count - 1) * (1 - nu)
        let below = Int(position.rounded(.down)), above = min(below + 1, sorted.count - 1)
        return sorted[below] + (sorted[above] - sorted[below]) * (position - Float(below))
    }
}
