import Datasets
import Foundation
import Layers
import Tensors

/// CANCE — Composite-feature Augmented Noise-Contrastive Estimation (Liao & Brockmeier 2025;
/// METHODS.md §2.5). Unsupervised: trained on normal data only.
///
/// 1. Hold out `validationFraction` of the training data for model selection.
/// 2. Autoencoder with a batch-normalised code z (no affine), stage 1 on
///    L_AE = L_MSE + λ·L_cov, L_cov = mean of the squared off-diagonal entries of the batch's
///    latent covariance; stage 2 freezes the encoder and trains the decoder on L_MSE. Each
///    stage keeps the epoch with the lowest validation loss.
/// 3. Composite feature c(x) = [z ; e ; d]: e = ‖x − x̂‖²/D (per-value squared error),
///    d = 1 − cos(x, x̂).
/// 4. Noise q_A = N(μ, L A² Lᵀ) with μ, Σ = LLᵀ the training features' mean and covariance
///    (batched, §2.5.6) and A = diag(1 + softplus(a)), a learned adversarially.
/// 5. Augmentation (CANCE only): half of each data batch has its (e, d) replaced by draws from
///    normals with the noise's marginal location and scale truncated to [0, r_mode], r_mode the
///    mode of a log-normal fitted to the training e (d).
/// 6. NCE: a classifier g_θ (the log-odds data vs noise, ν noise samples per data sample)
///    minimises L_NCE = −mean log σ(g(c)) − ν·mean log(1 − σ(g(c'))); a maximises the same loss
///    written with ĝ_A(c) = stopgrad(g(c) + log q_A(c)) − log q_A(c). Model selection by the
///    validation NCE loss (validation features not augmented).
/// 7. Score: S(x) = −g_θ(c(x)) − log q_A(c(x)) (= −log p̂(c(x)) − log ν at the optimum).
///
/// Ablations (`variant`): `error` scores e alone, `latnce` estimates the density of z alone,
/// `cnce` of the composite feature without augmentation, `cance` with it.
///
/// What the paper does not give and we chose (METHODS.md marks these [A]/[R]): the networks
/// (conv widths 16-32 for MNIST shapes and 32-64-128 for CIFAR shapes, 5×5 kernels, code 16 /
/// 64; Deep SAD's MLPs for tables), λ, the epoch counts and learning rates, ν = 1, the
/// classifier (3 × 128 ReLU on features standardised by μ and √diag Σ), the order L·A, the
/// form of the adversarial loss, a per-sample coin for the augmented half, one AdamW optimiser
/// stepping θ and a together (a without weight decay, at its own learning rate).
public struct CANCE: DeepDetector {
    public enum Variant: String, Codable, Sendable, CaseIterable {
        /// Score: the reconstruction error e alone.
        case error
        /// NCE density of the latent code z alone.
        case latentNCE = "latnce"
        /// NCE density of the composite feature, without augmentation.
        case compositeNCE = "cnce"
        /// NCE density of the composite feature, with the truncated-normal augmentation.
        case cance

        var usesReconstructionFeatures: Bool { self != .latentNCE }
    }

    /// Where z and the reconstruction come from.
    public enum Extractor: String, Codable, Sendable, CaseIterable {
        /// The covariance-regularised autoencoder, trained in two stages.
        case autoencoder
        /// The "features + PCA" variant: the top-k principal components of the training
        /// inputs (z = Vᵀ(y − ȳ), ŷ = ȳ + Vz), here on the inputs themselves; the paper's
        /// pretrained ResNet-18 features wait for a pretrained network to load.
        case pca
    }

    public struct Configuration: Codable, Sendable, Equatable, ValidatingConfiguration {
        public var variant = Variant.cance
        public var extractor = Extractor.autoencoder
        /// k, the code size; nil: 16 for 1×28×28 images, 64 for 3×32×32, min(16, max(2, D/2)) for tables.
        public var latentSize: Int?
        /// Convolution widths of the image autoencoder (one 2× down-sampling each); nil: 16, 32
        /// for 1-channel 28×28 images, 32, 64, 128 for 3×32×32; [] or tables: an MLP.
        public var convolutionWidths: [Int]?
        /// Hidden widths of the MLP autoencoder (tables).
        public var hiddenWidths = [64, 32]
        /// λ, weight of the latent covariance penalty.
        public var covarianceWeight = 0.1
        /// Share of the training data held out for model selection (0: none).
        public var validationFraction = 0.1
        /// Stage 1: encoder and decoder on L_MSE + λ L_cov (Adam).
        public var autoencoder = TrainingOptions(epochs: 30, batchSize: 128, learningRate: 1e-3)
        /// Stage 2: the decoder alone on L_MSE, encoder frozen (Adam; 0 epochs: no stage 2).
        public var decoder = TrainingOptions(epochs: 10, batchSize: 128, learningRate: 1e-3)
        /// The NCE classifier θ (AdamW with this weight decay).
        public var nce = TrainingOptions(epochs: 100, batchSize: 256, learningRate: 1e-3, weightDecay: 1e-2)
        /// Learning rate of the noise scale a (gradient ascent, no weight decay).
        public var noiseLearningRate = 1e-3
        /// ν: noise samples per data sample.
        public var noiseRatio = 1
        /// Hidden widths of the classifier g_θ (ReLU).
        public var classifierWidths = [128, 128, 128]
        /// Initial a: A_ii = 1 + softplus(a) (−5 ⇒ 1.0067).
        public var initialNoiseScale = -5.0
        /// A fitted CANCE model (`model.safetensors`, or the run folder holding it) whose
        /// autoencoder is taken instead of training stages 1–2: the ablations share one
        /// autoencoder this way. The split and the autoencoder do not depend on `variant`, so a
        /// run that reuses the autoencoder of a run with the same seed, data and autoencoder
        /// options scores exactly as if it had trained its own.
        public var autoencoderModel: String?

        public init() {}

        public func validate() throws {
            if let latentSize { try OptionCheck.require("latentSize", latentSize, in: 1...4096) }
            for width in convolutionWidths ?? [] { try OptionCheck.require("convolutionWidths", width, in: 1...4096) }
            for width in hiddenWidths { try OptionCheck.require("hiddenWidths", width, in: 1...65_536) }
            for width in classifierWidths { try OptionCheck.require("classifierWidths", width, in: 1...65_536) }
            try OptionCheck.require("covarianceWeight", covarianceWeight, in: 0...1e6)
            try OptionCheck.require("validationFraction", validationFraction, in: 0...0.9)
            try OptionCheck.require("noiseLearningRate", noiseLearningRate, in: 0...100)
            try OptionCheck.require("noiseRatio", noiseRatio, in: 1...64)
            try OptionCheck.require("initialNoiseScale", initialNoiseScale, in: -30...30)
            try autoencoder.validate(prefix: "autoencoder.")
            try decoder.validate(prefix: "decoder.", allowsZeroEpochs: true)
            try nce.validate(prefix: "nce.")
            if extractor == .pca, autoencoderModel != nil {
                throw DetectorError.invalidConfiguration("autoencoderModel needs extractor=autoencoder")
            }
        }

        func latentSize(for shape: [Int]) -> Int {
            if let latentSize { return latentSize }
            switch shape {
            case [1, 28, 28]: return 16
            case [3, 32, 32]: return 64
            default: return min(16, max(2, shape.reduce(1, *) / 2))
            }
        }

        func convolutionWidths(for shape: [Int]) -> [Int] {
            if let convolutionWidths { return shape.count == 3 ? convolutionWidths : [] }
            switch shape {
            case [3, 32, 32]: return [32, 64, 128]
            case let s where s.count == 3 && s[1] % 4 == 0 && s[2] % 4 == 0: return [16, 32]
            default: return []
            }
        }
    }

    /// The fitted detector: the autoencoder and the density of its composite features.
    public final class State: DetectorState {
        public let autoencoder: Autoencoder
        public let density: Density
        let variant: Variant

        init(sampleShape: [Int], configuration: Configuration, using g: inout SeededGenerator) {
            let k = configuration.latentSize(for: sampleShape)
            switch configuration.extractor {
            case .autoencoder:
                autoencoder = Backbones.normalizedCodeAutoencoder(
                    sampleShape: sampleShape, codeSize: k, widths: configuration.convolutionWidths(for: sampleShape),
                    hiddenWidths: configuration.hiddenWidths, using: &g)
            case .pca:
                let d = sampleShape.reduce(1, *)
                autoencoder = Autoencoder(
                    encoder: PrincipalComponents(inputCount: d, componentCount: k, reconstructs: false),
                    decoder: PrincipalComponents(inputCount: d, componentCount: k, reconstructs: true))
            }
            variant = configuration.variant
            density = Density(
                featureCount: configuration.variant.usesReconstructionFeatures ? k + 2 : k,
                classifierWidths: configuration.classifierWidths, initialNoiseScale: Float(configuration.initialNoiseScale),
                using: &g)
            super.init(sampleShape: sampleShape)
        }

        /// c(x) `[B, f]` (z, or [z, e, d]) and e `[B]` for a batch.
        func features(_ x: Tensor) -> (composite: Tensor, error: Tensor) {
            let batch = x.shape[0]
            let z = autoencoder.encoder(x)
            let flat = x.reshaped([batch, x.count / batch])
            let reconstruction = autoencoder.decoder(z).reshaped(flat.shape)
            let error = (flat - reconstruction).squared().mean(axis: 1)
            guard variant.usesReconstructionFeatures else { return (z, error) }
            let cosine = (flat * reconstruction).sum(axis: 1)
                / (flat.squared().sum(axis: 1) * reconstruction.squared().sum(axis: 1)).sqrt().clamped(min: 1e-12)
            let composite = Tensor.concat(
                [z, error.reshaped([batch, 1]), (1 - cosine).reshaped([batch, 1])], axis: 1)
            return (composite, error)
        }
    }

    /// The noise model q_A and the classifier g_θ over features of size f (§2.5.3–2.5.4).
    public final class Density: Module {
        /// μ `[f]`.
        public let mean: Tensor
        /// L `[f, f]` (Σ = LLᵀ) and L⁻¹.
        public let factor: Tensor
        public let factorInverse: Tensor
        /// √diag Σ `[f]`: the classifier sees (c − μ)/scale.
        public let scale: Tensor
        /// log|det L| + (f/2) log 2π.
        public let logNormalizer = Tensor([0])
        /// The modes r_mode of log-normals fitted to e and d (augmentation bounds).
        public let reconstructionModes = Tensor([0, 0])
        /// a, trainable: A = diag(1 + softplus(a)).
        public let noiseScale: Tensor
        public let classifier: Sequential

        public init(featureCount f: Int, classifierWidths: [Int], initialNoiseScale: Float, using g: inout SeededGenerator) {
            mean = Tensor.zeros([f])
            factor = Tensor.eye(f)
            factorInverse = Tensor.eye(f)
            scale = Tensor.ones([f])
            noiseScale = Tensor.full([f], initialNoiseScale).requiringGrad()
            var layers: [any Layer] = []
            for (a, b) in zip([f] + classifierWidths, classifierWidths) {
                layers += [Linear(a, b, using: &g), Lambda.relu]
            }
            layers.append(Linear(classifierWidths.last ?? f, 1, using: &g))
            classifier = Sequential(layers)
        }

        var featureCount: Int { mean.shape[0] }

        /// A = 1 + softplus(a), `[f]`.
        public func noiseStandardDeviations() -> Tensor { noiseScale.softplus() + 1 }

        /// g_θ(c), `[B]`.
        func logOdds(_ c: Tensor) -> Tensor { classifier((c - mean) / scale).reshaped([c.shape[0]]) }

        /// log q_A(c) = −½‖A⁻¹L⁻¹(c − μ)‖² − Σ log A_ii − log|det L| − (f/2) log 2π, `[B]`.
        public func logNoiseDensity(_ c: Tensor, _ a: Tensor) -> Tensor {
            let whitened = matmul(c - mean, factorInverse, transposeB: true) / a
            return -0.5 * whitened.squared().sum(axis: 1) - (a.log().sum() + logNormalizer)
        }

        /// c' = μ + L A ε for rows ε `[N, f]`.
        func noise(_ epsilon: Tensor, _ a: Tensor) -> Tensor { mean + matmul(epsilon * a, factor, transposeB: true) }

        /// S(c) = −g_θ(c) − log q_A(c), `[B]`.
        func score(_ c: Tensor) -> Tensor { -1 * (logOdds(c) + logNoiseDensity(c, noiseStandardDeviations())) }

        /// L_NCE(θ) on data rows `[B, f]` and νB noise samples (A held fixed), and L_A, the same
        /// loss through ĝ_A = stopgrad(g + log q_A) − log q_A (gradient only towards a).
        func losses(_ data: Tensor, ratio: Int, using g: inout SeededGenerator) -> (nce: Tensor, adversarial: Tensor) {
            losses(data, noiseDraws: Tensor.normal([data.shape[0] * ratio, featureCount], using: &g).to(data.device))
        }

        /// The losses with the noise's standard-normal draws ε `[νB, f]` given (c' = μ + L A ε).
        public func losses(_ data: Tensor, noiseDraws epsilon: Tensor) -> (nce: Tensor, adversarial: Tensor) {
            let ratio = epsilon.shape[0] / max(data.shape[0], 1)
            let a = noiseStandardDeviations()
            let dataLogOdds = logOdds(data), noiseLogOdds = logOdds(noise(epsilon, a.detached()))
            let nce = (-1 * dataLogOdds).softplus().mean() + noiseLogOdds.softplus().mean() * Float(ratio)
            // At c' = μ + L A ε the whitened noise is ε itself: log q_A(c') = −½‖ε‖² − Σ log A_ii − …,
            // so the noise term needs no second sample and no solve; its gradient reaches a through A.
            let dataLogQ = logNoiseDensity(data, a)
            let noiseLogQ = -0.5 * epsilon.squared().sum(axis: 1) - (a.log().sum() + logNormalizer)
            let dataHat = (dataLogOdds + dataLogQ).detached() - dataLogQ
            let noiseHat = (noiseLogOdds + noiseLogQ).detached() - noiseLogQ
            let adversarial = (-1 * dataHat).softplus().mean() + noiseHat.softplus().mean() * Float(ratio)
            return (nce, adversarial)
        }

        /// Sets μ, L, L⁻¹, the scales and the normaliser from the training features' moments;
        /// Σ gets a small ridge when it is not positive definite. False when even that fails.
        public func setNoise(mean m: [Double], covariance: [Double]) -> Bool {
            let f = featureCount
            let trace = (0..<f).reduce(0.0) { $0 + covariance[$1 * f + $1] } / Double(f)
            var ridge = 0.0
            for _ in 0..<12 {
                var sigma = covariance
                for i in 0..<f { sigma[i * f + i] += ridge }
                if let l = choleskyFactor(sigma, size: f) {
                    let inverse = GaussianScorer.lowerTriangularInverse(l, dimension: f)
                    let logDeterminant = (0..<f).reduce(0.0) { $0 + Foundation.log(l[$1 * f + $1]) }
                    withoutGradients {
                        mean.assign(Tensor(m.map(Float.init)).to(mean.device))
                        factor.assign(Tensor(l.map(Float.init), shape: [f, f]).to(factor.device))
                        factorInverse.assign(Tensor(inverse.map(Float.init), shape: [f, f]).to(factor.device))
                        scale.assign(Tensor((0..<f).map { Float(max(sigma[$0 * f + $0], 1e-24).squareRoot()) }).to(scale.device))
                        logNormalizer.assign(
                            Tensor([Float(logDeterminant + Double(f) / 2 * Foundation.log(2 * Double.pi))]).to(mean.device))
                    }
                    return true
                }
                ridge = ridge == 0 ? max(trace, 1e-12) * 1e-6 : ridge * 10
            }
            return false
        }

        /// The data batch with the (e, d) entries of a random half of its rows (a coin per row)
        /// replaced by draws from N(μ_r, σ_r²) truncated to [0, r_mode] (σ_r: the noise's
        /// marginal standard deviation at the current A).
        public func augmented(_ data: Tensor, using g: inout SeededGenerator) -> Tensor {
            let (rows, f) = (data.shape[0], data.shape[1])
            let modes = reconstructionModes.toArray(), mu = mean.toArray()
            let l = factor.toArray(), a = noiseStandardDeviations().detached().toArray()
            let columns = [f - 2, f - 1]
            let distributions = zip(columns, modes).map { column, mode in
                let variance = (0..<f).reduce(0.0) { $0 + Double(l[column * f + $1] * a[$1]) * Double(l[column * f + $1] * a[$1]) }
                return TruncatedNormal(
                    location: Double(mu[column]), scale: variance.squareRoot(), lower: 0, upper: Double(mode))
            }
            var keep = [Float](repeating: 1, count: rows * f), replacement = [Float](repeating: 0, count: rows * f)
            for row in 0..<rows where Bool.random(using: &g) {
                for (column, distribution) in zip(columns, distributions) {
                    keep[row * f + column] = 0
                    replacement[row * f + column] = Float(distribution.sample(using: &g))
                }
            }
            return data * Tensor(keep, shape: [rows, f]).to(data.device)
                + Tensor(replacement, shape: [rows, f]).to(data.device)
        }
    }

    public static let methodName = "cance"
    public let configuration: Configuration
    public var state: State?

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public static func makeState(sampleShape: [Int], configuration: Configuration, using g: inout SeededGenerator)
        throws -> State
    {
        let widths = configuration.convolutionWidths(for: sampleShape)
        if !widths.isEmpty, sampleShape[1] % (1 << widths.count) != 0 || sampleShape[2] % (1 << widths.count) != 0 {
            throw DetectorError.invalidOption(
                option: "convolutionWidths", value: widths.map(String.init).joined(separator: ","),
                requirement: "\(sampleShape[1])×\(sampleShape[2]) images allow at most as many widths as halvings of both sides")
        }
        return State(sampleShape: sampleShape, configuration: configuration, using: &g)
    }

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let samples = try validatedTrainingSamples(data)
        let c = configuration
        var generator = SeededGenerator(seed: context.seed)
        let state = try Self.makeState(sampleShape: samples.sampleShape, configuration: c, using: &generator)
        var splitGenerator = SeededGenerator(seed: context.seed &+ 4)
        let (train, validation) = Self.split(samples, fraction: c.validationFraction, using: &splitGenerator)
        if c.extractor == .pca {
            try Self.fitPrincipalComponents(state.autoencoder, on: train, device: context.device)
        } else if let path = c.autoencoderModel {
            try Self.loadAutoencoder(into: state, from: path)
            context.logger.info("cance: autoencoder taken from \(path)")
        } else {
            try Self.trainAutoencoder(state.autoencoder, train: train, validation: validation, configuration: c, context: context)
        }
        if c.variant != .error {
            try Self.trainDensity(state, train: train, validation: validation, configuration: c, context: context)
        }
        self.state = state
    }

    public static func scoreBatch(_ inputs: Tensor, state: State, configuration: Configuration) -> Tensor {
        let (composite, error) = state.features(inputs)
        return configuration.variant == .error ? error : state.density.score(composite)
    }

    /// A random `fraction` of the samples held out (nil when fewer than two samples would be
    /// held out or fewer than two left to train on).
    static func split(_ samples: Samples, fraction: Double, using g: inout SeededGenerator) -> (Samples, Samples?) {
        let held = Int((Double(samples.count) * fraction).rounded())
        guard held >= 2, samples.count - held >= 2 else { return (samples, nil) }
        let order = Array(0..<samples.count).shuffled(using: &g)
        return (samples.selecting(Array(order[held...]).sorted()), samples.selecting(Array(order[..<held]).sorted()))
    }

    // MARK: The autoencoder (§2.5.2)

    /// ȳ and the top-k principal directions V (rows) of the inputs: the encoder maps y to
    /// z = V(y − ȳ), the decoder z to ȳ + Vᵀz. (Both hold the same buffers.)
    public final class PrincipalComponents: Module, Layer {
        public let mean: Tensor
        public let components: Tensor
        let reconstructs: Bool

        init(inputCount: Int, componentCount: Int, reconstructs: Bool) {
            mean = Tensor.zeros([inputCount])
            components = Tensor.zeros([componentCount, inputCount])
            self.reconstructs = reconstructs
        }

        public func callAsFunction(_ input: Tensor) -> Tensor {
            reconstructs
                ? mean + matmul(input, components)
                : matmul(input.reshaped([input.shape[0], mean.shape[0]]) - mean, components, transposeB: true)
        }
    }

    /// Fits ȳ and V on `samples` (batched moments, symmetric eigendecomposition in Float64).
    static func fitPrincipalComponents(_ autoencoder: Autoencoder, on samples: Samples, device: Device) throws {
        guard let encoder = autoencoder.encoder as? PrincipalComponents,
            let decoder = autoencoder.decoder as? PrincipalComponents
        else { preconditionFailure("the PCA extractor's autoencoder holds PrincipalComponents") }
        let (k, d) = (encoder.components.shape[0], encoder.mean.shape[0])
        guard k < d else {
            throw DetectorError.invalidOption(
                option: "latentSize", value: "\(k)", requirement: "the PCA extractor needs fewer components than the \(d) inputs")
        }
        var moments = BatchedMoments(dimension: d)
        BatchScorer.forEachBatch(samples, sampleShape: samples.sampleShape, batchSize: 512, device: device) { _, x in
            moments.add(x.reshaped([x.shape[0], d]))
        }
        let eigen = SymmetricEigen(symmetric: moments.covariance, size: d)
        let mean = Tensor(moments.mean.map(Float.init)).to(device)
        let components = Tensor(eigen.vectors[0..<(k * d)].map(Float.init), shape: [k, d]).to(device)
        for module in [encoder, decoder] {
            module.mean.assign(mean)
            module.components.assign(components)
        }
    }

    /// Copies the autoencoder of the fitted CANCE model at `path` (a model file or a run folder).
    static func loadAutoencoder(into state: State, from path: String) throws {
        let fitted = try referencedState(
            option: "autoencoderModel", path: path, sampleShape: state.sampleShape, defaults: Configuration())
        do {
            try state.autoencoder.copyState(from: fitted.autoencoder)
        } catch {
            throw DetectorError.invalidConfiguration("autoencoderModel=\(path): its autoencoder has another architecture (\(error))")
        }
        state.autoencoder.eval()
    }

    /// L_cov: the mean of the squared off-diagonal entries of the batch covariance of z `[B, k]`.
    public static func covarianceLoss(_ z: Tensor) -> Tensor {
        let b = z.shape[0]
        guard z.shape[1] > 1, b > 1 else { return (z * 0).sum() }
        let centred = z - z.mean(axis: 0, keepDims: true)
        return offDiagonalMeanSquare(matmul(centred, centred, transposeA: true) / Float(b - 1))
    }

    /// Σ_{i≠j} C_ij² / (k(k − 1)) of a `k × k` covariance.
    static func offDiagonalMeanSquare(_ covariance: Tensor) -> Tensor {
        let k = covariance.shape[0]
        let offDiagonal = covariance * (Tensor.ones([k, k]) - Tensor.eye(k)).to(covariance.device)
        return offDiagonal.squared().sum() / Float(k * (k - 1))
    }

    /// Stage 1 (encoder and decoder on L_MSE + λ L_cov) and stage 2 (decoder on L_MSE), each
    /// keeping its epoch with the lowest validation loss. Leaves the autoencoder in evaluation mode.
    static func trainAutoencoder(
        _ autoencoder: Autoencoder, train: Samples, validation: Samples?, configuration c: Configuration,
        context: TrainingContext
    ) throws {
        let lambda = Float(c.covarianceWeight)
        var stage1 = TrainingLoop(
            phase: "autoencoder", epochs: c.autoencoder.epochs, loader: c.autoencoder.loader(train, seed: context.seed),
            model: autoencoder, optimizer: c.autoencoder.adam(autoencoder), schedule: c.autoencoder.schedule,
            seed: context.seed)
        try stage1.run(
            context: context,
            selection: validation.map { v in
                ModelSelection { validationLoss(autoencoder, v, covarianceWeight: c.covarianceWeight, device: context.device) }
            }
        ) { batch, _ in
            let x = batch.inputs.to(context.device)
            let z = autoencoder.encoder(x)
            return [
                LossTerm("reconstruction", (autoencoder.decoder(z) - x).squared().mean()),
                LossTerm("covariance", covarianceLoss(z) * lambda),
            ]
        }
        autoencoder.eval()
        guard c.decoder.epochs > 0 else { return }
        var stage2 = TrainingLoop(
            phase: "decoder", epochs: c.decoder.epochs, loader: c.decoder.loader(train, seed: context.seed &+ 1),
            model: autoencoder.decoder, optimizer: c.decoder.adam(autoencoder.decoder), schedule: c.decoder.schedule,
            seed: context.seed &+ 1)
        try stage2.run(
            context: context,
            selection: validation.map { v in
                ModelSelection { validationLoss(autoencoder, v, covarianceWeight: nil, device: context.device) }
            }
        ) { batch, _ in
            let x = batch.inputs.to(context.device)
            let z = withoutGradients { autoencoder.encoder(x) }
            return [LossTerm("reconstruction", (autoencoder.decoder(z) - x).squared().mean())]
        }
        autoencoder.eval()
    }

    /// L_MSE over `samples` (+ λ L_cov of their latent covariance when a weight is given).
    static func validationLoss(_ autoencoder: Autoencoder, _ samples: Samples, covarianceWeight: Double?, device: Device)
        -> Double
    {
        var squaredError = 0.0
        var moments: BatchedMoments?
        BatchScorer.forEachBatch(samples, sampleShape: samples.sampleShape, batchSize: 512, device: device) { _, x in
            let z = autoencoder.encoder(x)
            squaredError += Double((autoencoder.decoder(z) - x).squared().sum().item())
            if covarianceWeight != nil {
                if moments == nil { moments = BatchedMoments(dimension: z.shape[1]) }
                moments?.add(z)
            }
        }
        let mse = squaredError / Double(max(samples.values.count, 1))
        guard let covarianceWeight, let moments, moments.dimension > 1 else { return mse }
        let k = moments.dimension
        let covariance = Tensor(moments.covariance.map(Float.init), shape: [k, k])
        return mse + covarianceWeight * Double(offDiagonalMeanSquare(covariance).item())
    }

    // MARK: The density (§2.5.3–2.5.4)

    /// r_mode = M⁴ / (M² + V)^{3/2}: the mode of the log-normal with mean M and variance V.
    public static func logNormalMode(mean m: Double, variance v: Double) -> Double {
        guard m > 0 else { return 0 }
        return Foundation.pow(m, 4) / Foundation.pow(m * m + max(v, 0), 1.5)
    }

    /// The features of `samples` (evaluation mode) as rows `[N, f]`.
    static func features(_ state: State, _ samples: Samples, device: Device) -> Samples {
        var values: [Float] = []
        BatchScorer.forEachBatch(samples, sampleShape: samples.sampleShape, batchSize: 512, device: device) { _, x in
            values += state.features(x).composite.toArray()
        }
        return Samples(values: values, shape: [samples.count, state.density.featureCount])
    }

    static func trainDensity(
        _ state: State, train: Samples, validation: Samples?, configuration c: Configuration, context: TrainingContext
    ) throws {
        let density = state.density, f = density.featureCount
        let trainFeatures = features(state, train, device: context.device)
        let validationFeatures = validation.map { features(state, $0, device: context.device) }
        var moments = BatchedMoments(dimension: f)
        BatchScorer.forEachBatch(trainFeatures, sampleShape: [f], batchSize: 1024, device: context.device) { _, rows in
            moments.add(rows)
        }
        let (m, covariance) = (moments.mean, moments.covariance)
        guard density.setNoise(mean: m, covariance: covariance) else {
            throw DetectorError.diverged(
                phase: "nce", epoch: 0, term: "noise covariance", value: .nan,
                cause: "the training features' covariance is not positive definite even with a ridge")
        }
        if c.variant.usesReconstructionFeatures {
            let modes = [f - 2, f - 1].map { logNormalMode(mean: m[$0], variance: covariance[$0 * f + $0]) }
            density.reconstructionModes.assign(Tensor(modes.map(Float.init)).to(density.reconstructionModes.device))
        }
        let ratio = c.noiseRatio
        let optimizer = AdamW(
            groups: [
                ParameterGroup(density.classifier.parameters()),
                ParameterGroup(
                    [density.noiseScale], learningRateScale: Float(c.noiseLearningRate / c.nce.learningRate), weightDecay: 0),
            ],
            learningRate: Float(c.nce.learningRate), weightDecay: Float(c.nce.weightDecay))
        var loop = TrainingLoop(
            phase: "nce", epochs: c.nce.epochs, loader: c.nce.loader(trainFeatures, seed: context.seed &+ 2),
            model: density, optimizer: optimizer, schedule: c.nce.schedule, seed: context.seed &+ 2)
        try loop.run(
            context: context, scorer: scorer(state, c, context),
            selection: validationFeatures.map { v in
                ModelSelection {
                    // The same noise draws at every evaluation: epochs are compared on equal terms.
                    var fixed = SeededGenerator(seed: context.seed &+ 3)
                    let rows = Tensor(v.values, shape: v.shape).to(context.device)
                    return Double(withoutGradients { density.losses(rows, ratio: ratio, using: &fixed).nce.item() })
                }
            }
        ) { batch, generator in
            var rows = batch.inputs.to(context.device)
            if c.variant == .cance { rows = density.augmented(rows, using: &generator) }
            let (nce, adversarial) = density.losses(rows, ratio: ratio, using: &generator)
            // One backward pass: θ descends L_NCE; a ascends L_A (the added term is 0 in value).
            return [LossTerm("nce", nce + (adversarial.detached() - adversarial))]
        }
    }
}

/// N(location, scale²) truncated to [lower, upper]: moments and inverse-CDF sampling (Float64).
public struct TruncatedNormal: Sendable, Equatable {
    public let location: Double
    public let scale: Double
    public let lower: Double
    public let upper: Double

    public init(location: Double, scale: Double, lower: Double, upper: Double) {
        self.location = location
        self.scale = scale
        self.lower = lower
        self.upper = upper
    }

    static func density(_ x: Double) -> Double { Foundation.exp(-x * x / 2) / (2 * Double.pi).squareRoot() }
    static func cdf(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// Φ⁻¹(p) for 0 < p < 1: Acklam's rational approximation, polished by two Halley steps.
    static func quantile(_ p: Double) -> Double {
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
                 -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
                 -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
                 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        func tail(_ q: Double) -> Double {
            let r = (-2 * Foundation.log(q)).squareRoot()
            return (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5])
                / ((((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1)
        }
        var x: Double
        if p < 0.02425 {
            x = tail(p)
        } else if p > 1 - 0.02425 {
            x = -tail(1 - p)
        } else {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        }
        for _ in 0..<2 {
            let e = cdf(x) - p
            let u = e / max(density(x), 1e-300)
            x -= u / (1 + x * u / 2)
        }
        return x
    }

    var standardBounds: (alpha: Double, beta: Double) { ((lower - location) / scale, (upper - location) / scale) }

    /// The probability mass of the untruncated normal inside [lower, upper].
    var mass: Double {
        let (alpha, beta) = standardBounds
        return Self.cdf(beta) - Self.cdf(alpha)
    }

    /// E[X] = location + scale (φ(α) − φ(β)) / Z.
    public var mean: Double {
        let (alpha, beta) = standardBounds
        return location + scale * (Self.density(alpha) - Self.density(beta)) / mass
    }

    /// Var[X] = scale² [1 + (αφ(α) − βφ(β))/Z − ((φ(α) − φ(β))/Z)²].
    public var variance: Double {
        let (alpha, beta) = standardBounds
        let z = mass
        let shift = (Self.density(alpha) - Self.density(beta)) / z
        return scale * scale * (1 + (alpha * Self.density(alpha) - beta * Self.density(beta)) / z - shift * shift)
    }

    /// One draw: Φ⁻¹ of a uniform between Φ(α) and Φ(β); a uniform draw on [lower, upper] when
    /// the interval holds too little mass to invert (or the scale is 0).
    public func sample<G: RandomNumberGenerator>(using g: inout G) -> Double {
        guard upper > lower else { return lower }
        let u = Double.random(in: 0..<1, using: &g)
        guard scale > 0, mass > 1e-300 else { return lower + (upper - lower) * u }
        let p = Self.cdf(standardBounds.alpha) + u * mass
        let x = location + scale * Self.quantile(min(max(p, 1e-300), 1 - 1e-16))
        return min(max(x, lower), upper)
    }
}

extension CANCE: ReconstructingDetector {
    /// The autoencoder's reconstruction (its error and cosine are two of the composite features).
    public static func reconstruction(_ x: Tensor, state: State) -> (input: Tensor, reconstruction: Tensor) {
        (x, state.autoencoder(x))
    }
}
