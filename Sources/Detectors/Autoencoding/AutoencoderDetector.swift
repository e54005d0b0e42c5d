import Datasets
import Foundation
import Layers
import Tensors

/// Autoencoder reconstruction-error detector (the "CAE"/"AE" baseline of Deep SVDD's and
/// CANCE's tables), and the template a new deep method copies: a `Configuration` of nested
/// options with their ranges, a `State` holding everything needed to score, `makeState` for the
/// architecture, `fit` written as the algorithm, and the per-batch score.
///
/// Images of MNIST or CIFAR shape train Deep SVDD's LeNet autoencoder (METHODS.md §3.1), other
/// inputs a fully connected one. Training minimises the mean squared reconstruction error with
/// Adam; the anomaly score is a sample's mean squared reconstruction error.
public struct AutoencoderDetector: DeepDetector {
    public struct Configuration: Codable, Sendable, Equatable, ValidatingConfiguration {
        public var network = NetworkOptions()
        public var preprocessing = InputNormalization.none
        public var training = TrainingOptions(epochs: 20, batchSize: 128, learningRate: 1e-3, weightDecay: 5e-7)

        public init() {}

        public func validate() throws {
            try network.validate(prefix: "network.")
            try training.validate(prefix: "training.")
        }
    }

    /// The fitted detector: the input scaling and the autoencoder.
    public final class State: DetectorState {
        public let scaling: InputScaling
        public let autoencoder: Autoencoder

        init(sampleShape: [Int], scaling: InputScaling, autoencoder: Autoencoder) {
            self.scaling = scaling
            self.autoencoder = autoencoder
            super.init(sampleShape: sampleShape)
        }
    }

    public static let methodName = "autoencoder"
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
            autoencoder: Backbones.autoencoder(sampleShape: sampleShape, options: configuration.network, using: &g))
    }

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let samples = try validatedTrainingSamples(data)
        var generator = SeededGenerator(seed: context.seed)
        let state = try Self.makeState(sampleShape: samples.sampleShape, configuration: configuration, using: &generator)
        state.scaling.fit(samples, device: context.device)
        try AutoencoderPretraining.train(
            state.autoencoder, scaling: state.scaling, on: samples, options: configuration.training, phase: "training",
            context: context, seed: context.seed, scorer: Self.scorer(state, configuration, context))
        self.state = state
    }

    public static func scoreBatch(_ inputs: Tensor, state: State, configuration: Configuration) -> Tensor {
        AutoencoderPretraining.reconstructionError(state.autoencoder, state.scaling(inputs))
    }
}

extension AutoencoderDetector: ReconstructingDetector {
    public static func reconstruction(_ x: Tensor, state: State) -> (input: Tensor, reconstruction: Tensor) {
        let scaled = state.scaling(x)
        return (scaled, state.autoencoder(scaled))
    }
}
