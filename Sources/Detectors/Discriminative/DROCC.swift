import Datasets
import Foundation
import Layers
import Tensors

/// DROCC — Deep Robust One-Class Classification (Goyal et al., ICML 2020; METHODS.md §3.3).
/// Normal training points are positives; negatives are searched for, every batch, on a shell
/// around each training point by gradient ascent on the inputs, and a binary classifier f
/// learns to tell them apart:
///
///     min_θ  Σ_i [ ℓ(f(x_i), 1) + μ · max_{x̃ : r ≤ ‖x̃ − x_i‖ ≤ γr} ℓ(f(x̃), 0) ]      (ℓ = BCE on logits)
///
/// Adversarial search (the official code's): x̃ ← x + N(0, I); `ascentSteps` times
/// x̃ ← x̃ + η · g/‖g‖ with g = ∇_x̃ ℓ(f(x̃), 0) (per-sample normalised: points the model calls
/// normal), projecting h = x̃ − x onto r ≤ ‖h‖ ≤ γr every 10 steps. The first
/// `crossEntropyOnlyEpochs` epochs train on the positive term alone. Score: −f(x) (the paper's
/// logit is a normality score).
///
/// Networks: for images Deep SVDD's bias-free LeNet (§3.1) + Linear(code→64) + leaky ReLU +
/// Linear(64→1), both bias-free (the code's CIFAR network); for tables one hidden layer
/// d → 128 → 1 with ReLU (the code's tabular network). Deviations, stated: images are
/// standardised per channel with the training data's statistics (the code uses fixed CIFAR-10
/// statistics); the epoch is not chosen on the test set (the code keeps the best test epoch).
public struct DROCC: DeepDetector {
    public struct Configuration: Codable, Sendable, Equatable, ValidatingConfiguration {
        /// r: inner radius of the shell negatives are searched on.
        public var radius = 8.0
        /// γ: the shell's outer radius is γ·r.
        public var gamma = 2.0
        /// μ ("lamda" in the code): weight of the adversarial term.
        public var adversarialWeight = 1.0
        /// η: length of each normalised ascent step.
        public var ascentStepSize = 1e-3
        public var ascentSteps = 50
        /// Epochs with the positive cross-entropy term only.
        public var crossEntropyOnlyEpochs = 0
        public var network = NetworkOptions(codeSize: nil, hiddenWidths: [128])
        public var preprocessing = InputNormalization.channelStandardization
        /// Step schedule (the CIFAR code's): ×0.1 after 40 % and after 80 % of 50 epochs.
        public var training = TrainingOptions(
            epochs: 50, batchSize: 256, learningRate: 1e-3, learningRateMilestones: [20, 40], dropLast: false)

        public init() {}

        public func validate() throws {
            try OptionCheck.require("radius", radius, in: 1e-6...1e6)
            try OptionCheck.require("gamma", gamma, in: 1...1e3)
            try OptionCheck.require("adversarialWeight", adversarialWeight, in: 0...1e6)
            try OptionCheck.require("ascentStepSize", ascentStepSize, in: 1e-12...1e3)
            try OptionCheck.require("ascentSteps", ascentSteps, in: 0...10_000)
            try OptionCheck.require("crossEntropyOnlyEpochs", crossEntropyOnlyEpochs, in: 0...1_000_000)
            try network.validate(prefix: "network.")
            try training.validate(prefix: "training.")
        }
    }

    /// The fitted detector: the input scaling and the classifier f (one logit per sample).
    public final class State: DetectorState {
        public let scaling: InputScaling
        public let classifier: Sequential

        init(sampleShape: [Int], scaling: InputScaling, classifier: Sequential) {
            self.scaling = scaling
            self.classifier = classifier
            super.init(sampleShape: sampleShape)
        }

        /// f(x) for a batch of scaled inputs, `[B]`.
        func logits(_ scaled: Tensor) -> Tensor { classifier(scaled).reshaped([scaled.shape[0]]) }
    }

    public static let methodName = "drocc"
    public let configuration: Configuration
    public var state: State?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public static func makeState(sampleShape: [Int], configuration: Configuration, using g: inout SeededGenerator)
        throws -> State
    {
        let classifier: Sequential
        switch Backbones.kind(of: sampleShape) {
        case .mlp(let d):
            let hidden = configuration.network.hiddenWidths.first ?? 128
            classifier = Sequential(Lambda.flatten, Linear(d, hidden, using: &g), Lambda.relu, Linear(hidden, 1, using: &g))
        case .mnistLeNet, .cifarLeNet:
            let code = Backbones.codeSize(configuration.network, for: sampleShape)
            classifier = Sequential(
                Backbones.encoder(sampleShape: sampleShape, options: configuration.network, using: &g),
                Linear(code, 64, bias: false, using: &g), Lambda.leakyRelu(), Linear(64, 1, bias: false, using: &g))
        }
        return State(
            sampleShape: sampleShape, scaling: InputScaling(configuration.preprocessing, sampleShape: sampleShape),
            classifier: classifier)
    }

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let samples = try validatedTrainingSamples(data)
        let c = configuration
        var generator = SeededGenerator(seed: context.seed)
        let state = try Self.makeState(sampleShape: samples.sampleShape, configuration: c, using: &generator)
        state.scaling.fit(samples, device: context.device)
        let (radius, outer) = (Float(c.radius), Float(c.radius * c.gamma))
        var loop = TrainingLoop(
            phase: "training", epochs: c.training.epochs, loader: c.training.loader(samples, seed: context.seed),
            model: state, optimizer: c.training.adam(state.classifier), schedule: c.training.schedule,
            seed: context.seed)
        try loop.run(context: context, scorer: Self.scorer(state, c, context)) { batch, generator in
            let x = state.scaling(batch.inputs.to(context.device))
            let positive = binaryCrossEntropyWithLogits(logits: state.logits(x), targets: Tensor.ones([x.shape[0]]))
            guard batch.epoch >= c.crossEntropyOnlyEpochs, c.adversarialWeight > 0 else {
                return [LossTerm("normal", positive)]
            }
            let negatives = Self.adversarialSearch(
                around: x.detached(), state: state, radius: radius, outerRadius: outer,
                stepSize: Float(c.ascentStepSize), steps: c.ascentSteps, using: &generator)
            let adversarial = binaryCrossEntropyWithLogits(
                logits: state.logits(negatives), targets: Tensor.zeros([x.shape[0]]))
            return [LossTerm("normal", positive), LossTerm("adversarial", adversarial * Float(c.adversarialWeight))]
        }
        state.eval()
        self.state = state
    }

    /// Gradient ascent on ℓ(f(x̃), 0) from x + N(0, I), with per-sample normalised steps and a
    /// projection of x̃ − x onto the shell r ≤ ‖·‖ ≤ γr every 10 steps (and after the last).
    public static func adversarialSearch(
        around x: Tensor, state: State, radius: Float, outerRadius: Float, stepSize: Float, steps: Int,
        using generator: inout SeededGenerator
    ) -> Tensor {
        let batch = x.shape[0]
        let perSample = [batch] + [Int](repeating: 1, count: x.rank - 1)
        func norms(_ t: Tensor) -> Tensor {
            t.squared().reshaped([batch, t.count / batch]).sum(axis: 1).sqrt().reshaped(perSample)
        }
        func projected(_ candidate: Tensor) -> Tensor {
            let h = candidate - x
            let length = norms(h).clamped(min: 1e-12)
            return x + h * (length.clamped(min: radius, max: outerRadius) / length)
        }
        // Only the inputs' gradient is wanted: with the classifier's parameters untrainable for
        // the search, its ops skip their weight gradients (a third of each ascent step's work).
        // Their `grad`s are not touched.
        let parameters = state.classifier.parameters()
        for p in parameters { p.requiresGrad = false }
        defer { for p in parameters { p.requiresGrad = true } }
        var candidate = x + Tensor.normal(x.shape, using: &generator).to(x.device)
        for step in 0..<steps {
            let point = candidate.detached().requiringGrad()
            let loss = binaryCrossEntropyWithLogits(logits: state.logits(point), targets: Tensor.zeros([batch]))
            let gradient = loss.gradients(with: [point])[0]
            candidate = withoutGradients { point.detached() + gradient / norms(gradient).clamped(min: 1e-12) * stepSize }
            if (step + 1) % 10 == 0 { candidate = withoutGradients { projected(candidate) } }
        }
        return withoutGradients { projected(candidate) }.detached()
    }

    public static func scoreBatch(_ inputs: Tensor, state: State, configuration: Configuration) -> Tensor {
        -1 * state.logits(state.scaling(inputs))
    }
}
