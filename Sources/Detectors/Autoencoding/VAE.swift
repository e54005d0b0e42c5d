import Datasets
import Foundation
import Layers
import Tensors

/// Variational autoencoder (Kingma & Welling, 2014) scored by its negative ELBO — the VAE
/// baseline of CANCE's tables (METHODS.md §2.5.5):
///
///     q(z|x) = N(μ(x), diag σ²(x)),  p(z) = N(0, I),  z = μ + σ ⊙ ε,  ε ~ N(0, I)
///     L(x)   = −log p(x|z) + KL(q(z|x) ‖ p(z)),   KL = −½ Σ_j (1 + log σ_j² − μ_j² − σ_j²)
///
/// −log p(x|z) is the Bernoulli log-loss of the decoder's sigmoid output for images in [0, 1]
/// (the LeNet shapes) and ½‖x − x̂‖² (a unit-variance Gaussian, constant dropped) otherwise.
/// Networks: Deep SVDD's LeNet encoder with 2·latent outputs (μ, log σ²) and its decoder, or the
/// MLPs for tables. Score: the negative ELBO at z = μ (deterministic, so a sample's score does
/// not depend on the noise or its batch; an L-sample Monte-Carlo estimate would be noisier).
public struct VAE: DeepDetector {
    public enum Likelihood: String, Codable, Sendable, CaseIterable {
        /// Bernoulli for MNIST/CIFAR-shaped images, Gaussian for other inputs.
        case automatic
        case bernoulli
        case gaussian
    }

    public struct Configuration: Codable, Sendable, Equatable, ValidatingConfiguration {
        public var likelihood = Likelihood.automatic
        /// `network.codeSize` is the latent size (a multiple of 16 for the LeNet decoders).
        public var network = NetworkOptions()
        public var preprocessing = InputNormalization.none
        public var training = TrainingOptions(epochs: 50, batchSize: 128, learningRate: 1e-3, weightDecay: 0)

        public init() {}

        public func validate() throws {
            try network.validate(prefix: "network.")
            try training.validate(prefix: "training.")
        }
    }

    /// The fitted detector: input scaling, the encoder (→ μ, log σ²) and the decoder.
    public final class State: DetectorState {
        public let scaling: InputScaling
        public let encoder: any Layer
        public let decoder: any Layer
        let latentSize: Int
        let usesBernoulli: Bool

        init(
            sampleShape: [Int], scaling: InputScaling, encoder: any Layer, decoder: any Layer, latentSize: Int,
            usesBernoulli: Bool
        ) {
            self.scaling = scaling
            self.encoder = encoder
            self.decoder = decoder
            self.latentSize = latentSize
            self.usesBernoulli = usesBernoulli
            super.init(sampleShape: sampleShape)
        }

        /// (μ, log σ²) of a batch of scaled inputs.
        func posterior(_ x: Tensor) -> (mean: Tensor, logVariance: Tensor) {
            let parts = encoder(x).split(sizes: [latentSize, latentSize], axis: 1)
            return (parts[0], parts[1].clamped(min: -30, max: 20))
        }

        /// −log p(x|z) + KL(q ‖ p) per sample, `[B]`.
        func negativeELBO(_ x: Tensor, z: Tensor, mean: Tensor, logVariance: Tensor) -> Tensor {
            let batch = x.shape[0]
            let reconstruction = decoder(z)
            let perValue: Tensor
            if usesBernoulli {
                let p = reconstruction.clamped(min: 1e-6, max: 1 - 1e-6)
                perValue = -1 * (x * p.log() + (1 - x) * (1 - p).log())
            } else {
                perValue = (reconstruction - x).squared() * 0.5
            }
            let logLikelihood = perValue.reshaped([batch, x.count / batch]).sum(axis: 1)
            let kl = (1 + logVariance - mean.squared() - logVariance.exp()).sum(axis: 1) * -0.5
            return logLikelihood + kl
        }
    }

    public static let methodName = "vae"
    public let configuration: Configuration
    public var state: State?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public static func makeState(sampleShape: [Int], configuration: Configuration, using g: inout SeededGenerator)
        throws -> State
    {
        let latent = Backbones.codeSize(configuration.network, for: sampleShape)
        let isImage = Backbones.kind(of: sampleShape) != .mlp(inputCount: sampleShape.reduce(1, *))
        if isImage && latent % 16 != 0 {
            throw DetectorError.invalidOption(
                option: "network.codeSize", value: "\(latent)", requirement: "must be a multiple of 16 for image VAEs")
        }
        var doubled = configuration.network
        doubled.codeSize = 2 * latent
        let encoder = Backbones.encoder(sampleShape: sampleShape, options: doubled, using: &g)
        let decoder = Backbones.autoencoder(sampleShape: sampleShape, options: configuration.network, using: &g).decoder
        let bernoulli =
            configuration.likelihood == .bernoulli || (configuration.likelihood == .automatic && isImage)
        return State(
            sampleShape: sampleShape, scaling: InputScaling(configuration.preprocessing, sampleShape: sampleShape),
            encoder: encoder, decoder: decoder, latentSize: latent, usesBernoulli: bernoulli)
    }

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let samples = try validatedTrainingSamples(data)
        var generator = SeededGenerator(seed: context.seed)
        let state = try Self.makeState(sampleShape: samples.sampleShape, configuration: configuration, using: &generator)
        state.scaling.fit(samples, device: context.device)
        let options = configuration.training
        var loop = TrainingLoop(
            phase: "training", epochs: options.epochs, loader: options.loader(samples, seed: context.seed), model: state,
            optimizer: options.adam(state), schedule: options.schedule, seed: context.seed)
        try loop.run(context: context, scorer: Self.scorer(state, configuration, context)) { batch, generator in
            let x = state.scaling(batch.inputs.to(context.device))
            let (mean, logVariance) = state.posterior(x)
            let noise = Tensor.normal(mean.shape, using: &generator).to(mean.device)
            let z = mean + (logVariance * 0.5).exp() * noise  // reparameterisation
            return [LossTerm("negative ELBO", state.negativeELBO(x, z: z, mean: mean, logVariance: logVariance).mean())]
        }
        state.eval()
        self.state = state
    }

    public static func scoreBatch(_ inputs: Tensor, state: State, configuration: Configuration) -> Tensor {
        let x = state.scaling(inputs)
        let (mean, logVariance) = state.posterior(x)
        return state.negativeELBO(x, z: mean, mean: mean, logVariance: logVariance)
    }
}

extension VAE: ReconstructingDetector {
    /// The decoding of the posterior mean μ(x).
    public static func reconstruction(_ x: Tensor, state: State) -> (input: Tensor, reconstruction: Tensor) {
        let scaled = state.scaling(x)
        return (scaled, state.decoder(state.posterior(scaled).mean))
    }

    /// Decoded draws z ~ N(0, I) (the model's samples, seeded by `context.seed`), then the first
    /// `count` test images each followed by its reconstruction.
    public func reportImages(of samples: Samples, count: Int, context: InferenceContext) throws -> [ReportImages] {
        let pairs = try reconstructionImages(of: samples, count: count, context: context)
        guard let state, !pairs.isEmpty else { return pairs }
        var random = SeededGenerator(seed: context.seed ^ 0x5a3b_1e5d_0000)
        let z = Tensor.normal([count, state.latentSize], using: &random).to(context.device)
        let decoded = withoutGradients { state.decoder(z).to(.cpu).toArray() }
        let width = samples.featureCount
        let drawn = (0..<count).flatMap { ReportImages.unitRange(Array(decoded[($0 * width)..<(($0 + 1) * width)])) }
        return [
            ReportImages(
                title: "Samples: decoded z ~ N(0, I)", images: Samples(values: drawn, shape: [count] + state.sampleShape),
                captions: (0..<count).map { "sample \($0 + 1)" })
        ] + pairs
    }
}
