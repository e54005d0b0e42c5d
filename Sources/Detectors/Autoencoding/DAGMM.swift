import Datasets
import Foundation
import Layers
import Tensors

/// DAGMM — Deep Autoencoding Gaussian Mixture Model (Zong et al., ICLR 2018; METHODS.md §3.4):
/// an autoencoder and a Gaussian mixture over z = [z_c, relative Euclidean error, cosine
/// similarity], trained jointly; the sample energy under the mixture is the anomaly score.
///
///     z_c = Enc(x), x̂ = Dec(z_c),  z = [z_c ; ‖x − x̂‖/‖x‖ ; cos(x, x̂)]
///     γ̂ = softmax(MLP(z))   (Linear → tanh → dropout 0.5 → Linear)
///     φ_k = mean γ̂_k,  μ_k = Σγ̂_k z / Σγ̂_k,  Σ_k = Σγ̂_k (z − μ_k)(z − μ_k)ᵀ / Σγ̂_k + εI   (batch estimates)
///     E(z) = −log Σ_k φ_k N(z; μ_k, Σ_k)
///     L = (1/N) Σ ‖x − x̂‖² + λ1 (1/N) Σ E(z_i) + λ2 Σ_k Σ_j 1/(Σ_k)_jj
///
/// Σ⁻¹ and log|Σ| come from a Float64 Cholesky factorisation with custom gradients
/// (`GaussianScorer`). After training φ, μ, Σ are estimated over the whole training set; the
/// score is E(z(x)). Compression network: the paper's tanh MLP for tables (hidden widths and
/// code size are options; the default is the KDDCUP one, 60-30-10-1; Thyroid: 12-4-1),
/// Deep SVDD's LeNet autoencoder for MNIST/CIFAR shapes. Adam 1e-4 (paper).
public struct DAGMM: DeepDetector {
    public struct Configuration: Codable, Sendable, Equatable, ValidatingConfiguration {
        /// K: mixture components.
        public var componentCount = 4
        /// λ1: weight of the sample energy.
        public var energyWeight = 0.1
        /// λ2: weight of the penalty on small covariance diagonals.
        public var covarianceWeight = 0.005
        /// ε added to every covariance's diagonal.
        public var covarianceEpsilon = 1e-6
        public var estimationHiddenWidth = 10
        public var estimationDropout = 0.5
        /// Tables: the tanh MLP's hidden widths and code size (nil: 1); images: the LeNet code.
        public var network = NetworkOptions(codeSize: nil, hiddenWidths: [60, 30, 10])
        public var training = TrainingOptions(epochs: 200, batchSize: 1024, learningRate: 1e-4, dropLast: false)

        public init() {}

        public func validate() throws {
            try OptionCheck.require("componentCount", componentCount, in: 1...256)
            try OptionCheck.require("energyWeight", energyWeight, in: 0...1e6)
            try OptionCheck.require("covarianceWeight", covarianceWeight, in: 0...1e6)
            try OptionCheck.require("covarianceEpsilon", covarianceEpsilon, in: 1e-12...1)
            try OptionCheck.require("estimationHiddenWidth", estimationHiddenWidth, in: 1...65_536)
            try OptionCheck.require("estimationDropout", estimationDropout, in: 0...0.99)
            try network.validate(prefix: "network.")
            try training.validate(prefix: "training.")
        }
    }

    /// The fitted detector: compression and estimation networks and the mixture over z.
    public final class State: DetectorState {
        public let compression: Autoencoder
        public let estimationHidden: Linear
        public let estimationOutput: Linear
        public let weights: Tensor
        public let means: Tensor
        public let covariances: Tensor
        let featureCount: Int

        init(sampleShape: [Int], configuration: Configuration, using g: inout SeededGenerator) {
            let k = configuration.componentCount
            switch Backbones.kind(of: sampleShape) {
            case .mlp(let d):
                let code = configuration.network.codeSize ?? 1
                compression = Autoencoder(
                    encoder: DAGMM.tanhMLP(widths: [d] + configuration.network.hiddenWidths + [code], using: &g),
                    decoder: Sequential(
                        DAGMM.tanhMLP(widths: [code] + configuration.network.hiddenWidths.reversed() + [d], using: &g),
                        Lambda { [sampleShape] in $0.reshaped([$0.shape[0]] + sampleShape) }))
                featureCount = code + 2
            case .mnistLeNet, .cifarLeNet:
                compression = Backbones.autoencoder(sampleShape: sampleShape, options: configuration.network, using: &g)
                featureCount = Backbones.codeSize(configuration.network, for: sampleShape) + 2
            }
            estimationHidden = Linear(featureCount, configuration.estimationHiddenWidth, using: &g)
            estimationOutput = Linear(configuration.estimationHiddenWidth, k, using: &g)
            weights = Tensor.full([k], 1 / Float(k))
            means = Tensor.zeros([k, featureCount])
            covariances = Tensor.eye(featureCount).reshaped([1, featureCount, featureCount]).expanded(
                to: [k, featureCount, featureCount])
            super.init(sampleShape: sampleShape)
        }

        /// z = [z_c, ‖x − x̂‖/‖x‖, cos(x, x̂)] `[B, D]` and the reconstruction error ‖x − x̂‖² `[B]`.
        func features(_ x: Tensor) -> (z: Tensor, squaredError: Tensor) {
            let batch = x.shape[0]
            let code = compression.encoder(x)
            let flat = x.reshaped([batch, x.count / batch]), reconstruction = compression.decoder(code).reshaped(flat.shape)
            let squaredError = (flat - reconstruction).squared().sum(axis: 1)
            let norm = flat.squared().sum(axis: 1).sqrt()
            let relative = squaredError.clamped(min: 1e-12).sqrt() / norm.clamped(min: 1e-8)
            let cosine = (flat * reconstruction).sum(axis: 1)
                / (norm * reconstruction.squared().sum(axis: 1).sqrt()).clamped(min: 1e-8)
            let z = Tensor.concat(
                [code.reshaped([batch, code.count / batch]), relative.reshaped([batch, 1]), cosine.reshaped([batch, 1])],
                axis: 1)
            return (z, squaredError)
        }

        /// Membership logits of the estimation network (dropout `mask` in training).
        func membershipLogits(_ z: Tensor, dropoutMask: Tensor? = nil) -> Tensor {
            let hidden = estimationHidden(z).tanh()
            return estimationOutput(dropoutMask.map { hidden * $0 } ?? hidden)
        }
    }

    public static let methodName = "dagmm"
    public let configuration: Configuration
    public var state: State?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public static func makeState(sampleShape: [Int], configuration: Configuration, using g: inout SeededGenerator)
        throws -> State
    {
        if case .mlp = Backbones.kind(of: sampleShape) {} else if let code = configuration.network.codeSize, code % 16 != 0 {
            throw DetectorError.invalidOption(
                option: "network.codeSize", value: "\(code)", requirement: "must be a multiple of 16 for image autoencoders")
        }
        return State(sampleShape: sampleShape, configuration: configuration, using: &g)
    }

    static func tanhMLP(widths: [Int], using g: inout SeededGenerator) -> Sequential {
        var layers: [any Layer] = [Lambda.flatten]
        for (i, (a, b)) in zip(widths, widths.dropFirst()).enumerated() {
            layers.append(Linear(a, b, using: &g))
            if i < widths.count - 2 { layers.append(Lambda.tanh) }
        }
        return Sequential(layers)
    }

    /// φ, μ, Σ (+ εI) of a mixture with memberships γ `[N, K]` over z `[N, D]` (differentiable).
    static func mixture(_ z: Tensor, memberships gamma: Tensor, epsilon: Float)
        -> (weights: Tensor, means: Tensor, covariances: Tensor)
    {
        let (n, d, k) = (z.shape[0], z.shape[1], gamma.shape[1])
        let mass = gamma.sum(axis: 0)  // [K]
        let means = matmul(gamma, z, transposeA: true) / mass.reshaped([k, 1])
        let centred = z.reshaped([1, n, d]) - means.reshaped([k, 1, d])  // [K, N, D]
        let weighted = centred * gamma.transposed().reshaped([k, n, 1])
        let covariances = matmul(weighted, centred, transposeA: true) / mass.reshaped([k, 1, 1])
            + Tensor.eye(d).reshaped([1, d, d]) * epsilon
        return (mass / Float(n), means, covariances)
    }

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let samples = try validatedTrainingSamples(data)
        let c = configuration
        var generator = SeededGenerator(seed: context.seed)
        let state = try Self.makeState(sampleShape: samples.sampleShape, configuration: c, using: &generator)
        let (epsilon, keep) = (Float(c.covarianceEpsilon), Float(1 - c.estimationDropout))
        let trainable = [state.compression, state.estimationHidden, state.estimationOutput].flatMap { $0.parameters() }
        var loop = TrainingLoop(
            phase: "training", epochs: c.training.epochs, loader: c.training.loader(samples, seed: context.seed),
            model: state,
            optimizer: Adam(
                parameters: trainable, learningRate: Float(c.training.learningRate),
                weightDecay: Float(c.training.weightDecay)),
            schedule: c.training.schedule, seed: context.seed)
        try loop.run(context: context, scorer: Self.scorer(state, c, context)) { batch, generator in
            let (z, squaredError) = state.features(batch.inputs.to(context.device))
            let mask = (Tensor.uniform([z.shape[0], c.estimationHiddenWidth], using: &generator).less(keep) / keep)
                .to(z.device)
            let gamma = state.membershipLogits(z, dropoutMask: mask).softmax(axis: 1)
            let (weights, means, covariances) = Self.mixture(z, memberships: gamma, epsilon: epsilon)
            guard let logDensity = GaussianScorer.mixtureLogDensity(z, weights: weights, means: means, covariances: covariances)
            else { throw Self.notPositiveDefinite(epoch: batch.epoch + 1) }
            let diagonal = (covariances * Tensor.eye(z.shape[1]).reshaped([1, z.shape[1], z.shape[1]])).sum(axis: 2)
            return [
                LossTerm("reconstruction", squaredError.mean()),
                LossTerm("energy", -1 * logDensity.mean() * Float(c.energyWeight)),
                LossTerm("covariance", (1 / diagonal).sum() * Float(c.covarianceWeight)),
            ]
        }
        // The mixture over the whole training set (evaluation mode, no dropout).
        state.eval()
        let k = c.componentCount, d = state.featureCount
        var mass = Tensor.zeros([k]), first = Tensor.zeros([k, d]), second = Tensor.zeros([k, d, d])
        BatchScorer.forEachBatch(samples, sampleShape: state.sampleShape, batchSize: 256, device: context.device) { _, x in
            let z = state.features(x).z
            let gamma = state.membershipLogits(z).softmax(axis: 1)
            mass = mass + gamma.sum(axis: 0)
            first = first + matmul(gamma, z, transposeA: true)
            let weighted = z.reshaped([1, z.shape[0], d]) * gamma.transposed().reshaped([k, z.shape[0], 1])
            second = second + matmul(weighted, z.reshaped([1, z.shape[0], d]).expanded(to: [k, z.shape[0], d]), transposeA: true)
        }
        let means = first / mass.reshaped([k, 1])
        let covariances = second / mass.reshaped([k, 1, 1])
            - matmul(means.reshaped([k, d, 1]), means.reshaped([k, 1, d])) + Tensor.eye(d).reshaped([1, d, d]) * epsilon
        state.weights.assign(mass / Float(samples.count))
        state.means.assign(means)
        state.covariances.assign(covariances)
        guard GaussianScorer.logDeterminant(covariances) != nil else {
            throw Self.notPositiveDefinite(epoch: c.training.epochs)
        }
        self.state = state
    }

    static func notPositiveDefinite(epoch: Int) -> DetectorError {
        .diverged(
            phase: "training", epoch: epoch, term: "energy", value: .nan,
            cause: "a mixture covariance is not positive definite; raise covarianceEpsilon")
    }

    public static func scoreBatch(_ inputs: Tensor, state: State, configuration: Configuration) -> Tensor {
        let z = state.features(inputs).z
        let logDensity = GaussianScorer.mixtureLogDensity(
            z, weights: state.weights, means: state.means, covariances: state.covariances)
        return logDensity.map { -1 * $0 } ?? Tensor.full([inputs.shape[0]], .nan)
    }
}
