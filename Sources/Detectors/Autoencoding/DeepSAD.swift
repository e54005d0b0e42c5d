import Datasets
import Foundation
import Layers
import Tensors

/// Deep SAD (Ruff et al., ICLR 2020; METHODS.md §3.2): Deep SVDD with a few labelled samples.
/// Unlabelled samples (semi-label 0) and labelled normals (+1) are pulled towards the centre c,
/// labelled anomalies (−1) pushed away through an inverse distance:
///
///     d_i = ‖φ(x_i) − c‖²
///     ℓ_i = d_i                  if ỹ_i = 0
///     ℓ_i = η · (d_i + ε)^ỹ_i     if ỹ_i = ±1        (η·(d+ε) for normals, η/(d+ε) for anomalies)
///     L   = mean_i ℓ_i  (+ weight decay)
///
/// Pre-training, the centre and the network are Deep SVDD's; as in the official code
/// (`lukasruff/Deep-SAD-PyTorch`) the autoencoder and the centre see all training samples,
/// labelled anomalies included. Score: ‖φ(x) − c‖². Defaults are that code's MNIST example:
/// 150 + 150 epochs, Adam 1e-4 dropped ×0.1 after epoch 50, batch 128, weight decay 0.5e-3 /
/// 0.5e-6, η = 1, ε = 1e-6, drop-last, pixels in [0, 1] without GCN.
public struct DeepSAD: DeepDetector {
    public struct Configuration: Codable, Sendable, Equatable, ValidatingConfiguration {
        /// η: weight of the labelled terms.
        public var eta = 1.0
        /// ε of the inverse distance (keeps 1/(d+ε) finite).
        public var inverseEpsilon = 1e-6
        public var centerEpsilon = 0.1
        public var preprocessing = InputNormalization.none
        public var network = NetworkOptions()
        public var pretraining = TrainingOptions(
            epochs: 150, batchSize: 128, learningRate: 1e-4, weightDecay: 0.5e-3, learningRateMilestones: [50])
        public var training = TrainingOptions(
            epochs: 150, batchSize: 128, learningRate: 1e-4, weightDecay: 0.5e-6, learningRateMilestones: [50])

        public init() {}

        public func validate() throws {
            try OptionCheck.require("eta", eta, in: 0...1e6)
            try OptionCheck.require("inverseEpsilon", inverseEpsilon, in: 1e-12...1)
            try OptionCheck.require("centerEpsilon", centerEpsilon, in: 0...1e6)
            try network.validate(prefix: "network.")
            try pretraining.validate(prefix: "pretraining.", allowsZeroEpochs: true)
            try training.validate(prefix: "training.")
        }
    }

    public typealias State = DeepSVDD.State

    public static let methodName = "deepsad"
    public let configuration: Configuration
    public var state: State?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public static func makeState(sampleShape: [Int], configuration: Configuration, using g: inout SeededGenerator)
        throws -> State
    {
        var svdd = DeepSVDD.Configuration()
        svdd.preprocessing = configuration.preprocessing
        svdd.network = configuration.network
        return try DeepSVDD.makeState(sampleShape: sampleShape, configuration: svdd, using: &g)
    }

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        try configuration.validate()
        // Semi-labels: 0 unlabelled, +1 labelled normal, −1 labelled anomaly.
        let (samples, semiLabels) = try DetectorInput.semiSupervised(data, detector: Self.methodName)
        let configuration = configuration
        let state = try DeepSVDD.pretrainedState(
            samples: samples, preprocessing: configuration.preprocessing, network: configuration.network,
            pretraining: configuration.pretraining, centerEpsilon: configuration.centerEpsilon, context: context)
        let (eta, epsilon) = (Float(configuration.eta), Float(configuration.inverseEpsilon))
        var loop = TrainingLoop(
            phase: "training", epochs: configuration.training.epochs,
            loader: configuration.training.loader(samples, labels: semiLabels, seed: context.seed &+ 1), model: state,
            optimizer: configuration.training.adam(state.network), schedule: configuration.training.schedule,
            seed: context.seed &+ 1)
        try loop.run(context: context, scorer: Self.scorer(state, configuration, context)) { batch, _ in
            let distances = state.squaredDistances(batch.inputs.to(context.device))
            let semi = Tensor(batch.labels.map(Float.init)).to(distances.device)
            let n = Float(batch.labels.count)
            let isUnlabeled = semi.equal(Tensor(0)), isNormal = semi.greater(0), isAnomaly = semi.less(0)
            return [
                LossTerm("unlabeled", (isUnlabeled * distances).sum() / n),
                LossTerm("labeled normal", (isNormal * eta * (distances + epsilon)).sum() / n),
                LossTerm("labeled anomaly", (isAnomaly * (eta / (distances + epsilon))).sum() / n),
            ]
        }
        state.eval()
        self.state = state
    }

    public static func scoreBatch(_ inputs: Tensor, state: State, configuration: Configuration) -> Tensor {
        state.squaredDistances(inputs)
    }
}
