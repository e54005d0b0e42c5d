import Datasets
import Detectors
import Experiments
import Foundation
import Layers
import Metrics
import Tensors
import TestSupport
import Testing

/// CANCE (METHODS.md §2.5): its losses against NumPy / SciPy values, its distributions, the
/// detector on the mini MNIST, and model selection in the training loop.
@Suite struct CANCETests {
    // MARK: Losses and densities against NumPy / SciPy

    /// `np.cov(z, rowvar=False)`, off-diagonal squares summed and divided by k(k − 1).
    @Test func covarianceLossMatchesNumPyAndFiniteDifferences() {
        let z = Tensor([0.5, -1.0, 2.0, 1.5, 0.0, -1.0, -0.5, 2.0, 0.5, 1.0, 1.0, 1.0], shape: [4, 3])
        #expect(abs(CANCE.covarianceLoss(z).item() - 0.23509838) < 1e-6)
        checkGradients([randomTensor([5, 3], seed: 7)], h: 1e-2) { CANCE.covarianceLoss($0[0]) }
    }

    /// A density over f = 2 with μ = (0.2, −0.1), Σ = [[1, .3], [.3, .5]], a = (−1, 0.5) and a
    /// linear classifier g(c) = w·(c − μ)/√diag Σ + b.
    static func density() throws -> CANCE.Density {
        var g = SeededGenerator(seed: 0)
        let density = CANCE.Density(featureCount: 2, classifierWidths: [], initialNoiseScale: 0, using: &g)
        #expect(density.setNoise(mean: [0.2, -0.1], covariance: [1.0, 0.3, 0.3, 0.5]))
        let linear = try #require(density.classifier.layers.first as? Linear)
        withoutGradients {
            density.noiseScale.assign(Tensor([-1.0, 0.5]))
            linear.weight.assign(Tensor([0.7, -0.4], shape: [1, 2]))
            linear.bias!.assign(Tensor([0.1]))
        }
        return density
    }

    static let data = Tensor([0.5, 0.5, -1.0, 0.3], shape: [2, 2])

    /// log q_A against `scipy.stats.multivariate_normal(μ, L A² Lᵀ).logpdf`, and its gradients
    /// with respect to the features and to A by finite differences.
    @Test func noiseDensityMatchesSciPy() throws {
        let density = try Self.density()
        let logQ = density.logNoiseDensity(Self.data, density.noiseStandardDeviations()).toArray()
        #expect(abs(logQ[0] + 2.4521801) < 1e-5 && abs(logQ[1] + 2.9429202) < 1e-5, "\(logQ)")
        checkGradients([Self.data.detached(), Tensor([1.4, 2.1])], h: 1e-2) { inputs in
            density.logNoiseDensity(inputs[0], inputs[1]).sum()
        }
    }

    /// L_NCE with ν = 2 and fixed noise draws against NumPy; the adversary's loss equals it in
    /// value (ĝ_A = g numerically) and sends gradient only to a.
    @Test func nceLossMatchesNumPy() throws {
        let density = try Self.density()
        let epsilon = Tensor([0.3, -1.1, 1.2, 0.4, -0.7, 0.9, 0.05, -0.25], shape: [4, 2])
        let (nce, adversarial) = density.losses(Self.data, noiseDraws: epsilon)
        #expect(abs(nce.item() - 2.8088274) < 1e-5, "\(nce.item())")
        #expect(abs(adversarial.item() - nce.item()) < 1e-5)
        adversarial.backward()
        #expect(density.noiseScale.grad != nil)
        #expect(density.classifier.parameters().allSatisfy { $0.grad == nil })
    }

    // MARK: Distributions

    @Test func logNormalModeAndTruncatedNormalMomentsMatchSciPy() {
        // M = 2, V = 1: M⁴/(M² + V)^{3/2} = exp(m − s²) with s² = ln(1 + V/M²), m = ln M − s²/2.
        #expect(abs(CANCE.logNormalMode(mean: 2, variance: 1) - 1.4310835) < 1e-6)
        #expect(CANCE.logNormalMode(mean: 0, variance: 1) == 0)
        // scipy.stats.truncnorm(a, b, loc, scale).mean() / .var()
        let cases: [(TruncatedNormal, Double, Double)] = [
            (TruncatedNormal(location: 2, scale: 0.5, lower: 0, upper: 1), 0.81468342, 0.027395778),
            (TruncatedNormal(location: 0, scale: 1, lower: -1, upper: 1), 0, 0.29112509),
            (TruncatedNormal(location: 0.05, scale: 0.01, lower: 0, upper: 0.02), 0.017173056, 6.9797566e-6),
        ]
        for (distribution, mean, variance) in cases {
            #expect(abs(distribution.mean - mean) < 1e-7, "\(distribution)")
            #expect(abs(distribution.variance - variance) < 1e-6 * max(variance, 1e-3), "\(distribution)")
        }
    }

    /// Draws stay inside the bounds and their mean and variance match the closed forms.
    @Test func truncatedNormalSamplesMatchTheMoments() {
        var g = SeededGenerator(seed: 4)
        for distribution in [
            TruncatedNormal(location: 2, scale: 0.5, lower: 0, upper: 1),
            TruncatedNormal(location: 0.05, scale: 0.01, lower: 0, upper: 0.02),
        ] {
            let draws = (0..<40_000).map { _ in distribution.sample(using: &g) }
            #expect(draws.allSatisfy { $0 >= distribution.lower && $0 <= distribution.upper })
            let mean = draws.reduce(0, +) / Double(draws.count)
            let variance = draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws.count - 1)
            #expect(abs(mean - distribution.mean) < 4 * (distribution.variance / Double(draws.count)).squareRoot())
            #expect(abs(variance / distribution.variance - 1) < 0.05)
        }
    }

    /// Batched moments equal NumPy's mean and unbiased covariance whatever the batch sizes.
    @Test func batchedMomentsEqualTheDirectCovariance() {
        let rows = randomTensor([11, 3], seed: 9, low: -2, high: 3)
        var whole = BatchedMoments(dimension: 3)
        whole.add(rows)
        var parts = BatchedMoments(dimension: 3)
        for range in [0..<4, 4..<5, 5..<11] { parts.add(rows.slice(axis: 0, range)) }
        let values = rows.toArray().map(Double.init)
        let mean = (0..<3).map { j in (0..<11).reduce(0.0) { $0 + values[$1 * 3 + j] } / 11 }
        for i in 0..<3 {
            #expect(abs(parts.mean[i] - mean[i]) < 1e-6)
            for j in 0..<3 {
                let direct = (0..<11).reduce(0.0) { $0 + (values[$1 * 3 + i] - mean[i]) * (values[$1 * 3 + j] - mean[j]) } / 10
                #expect(abs(parts.covariance[i * 3 + j] - direct) < 1e-5)
                #expect(abs(whole.covariance[i * 3 + j] - direct) < 1e-5)
            }
        }
    }

    /// The augmentation touches only the last two columns, of about half of the rows, and puts
    /// values in [0, r_mode] there.
    @Test func augmentationReplacesReconstructionFeaturesOfHalfTheRows() throws {
        var g = SeededGenerator(seed: 0)
        let density = CANCE.Density(featureCount: 4, classifierWidths: [8], initialNoiseScale: -5, using: &g)
        #expect(density.setNoise(mean: [0, 0, 0.05, 0.2], covariance: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 4e-4, 0, 0, 0, 0, 0.01]))
        density.reconstructionModes.assign(Tensor([0.03, 0.1]))
        let data = Tensor((0..<4000).map { Float($0 % 4 == 2 ? 0.5 : ($0 % 4 == 3 ? 0.9 : 1)) }, shape: [1000, 4])
        let augmented = density.augmented(data, using: &g).toArray()
        var changed = 0
        for row in 0..<1000 {
            #expect(augmented[row * 4] == 1 && augmented[row * 4 + 1] == 1)
            if augmented[row * 4 + 2] != 0.5 {
                changed += 1
                #expect((0...0.03).contains(augmented[row * 4 + 2]) && (0...0.1).contains(augmented[row * 4 + 3]))
            } else {
                #expect(augmented[row * 4 + 3] == 0.9)
            }
        }
        #expect((430...570).contains(changed), "\(changed)")
    }

    // MARK: The detector

    static let budget = [
        "autoencoder.epochs": "6", "autoencoder.batchSize": "32", "decoder.epochs": "2", "decoder.batchSize": "32",
        "nce.epochs": "15", "nce.batchSize": "64",
    ]

    /// CANCE learns the mini MNIST's zeros, and its run folder scores without the data.
    @Test func canceLearnsMNISTZeroAndItsFolderScores() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let configuration = RunConfiguration(
            method: "cance", methodOptions: Self.budget, dataset: "mnist",
            experimentProtocol: .oneClass(OneClassProtocol(normalClass: 0)), seed: 1)
        let test = try DeepDetectorTests.prepared(configuration).test
        let result = try ExperimentRunner(outputRoot: root)
            .run(configuration, data: ExperimentData.load("mnist", root: miniData), method: MethodRegistry.entry(named: "cance"))
        #expect((result.summary?.auroc ?? .nan) > 0.95, "AUROC \((result.summary?.auroc ?? .nan))")
        let replay = try RunReplay(directory: result.directory, dataRoot: miniData)
        #expect(try replay.score(test.samples) == result.scores)
        let metrics = try String(contentsOf: result.directory.appendingPathComponent("metrics.json"), encoding: .utf8)
        #expect(metrics.contains("\"nce\"") && metrics.contains("\"validation\""))
    }

    /// An ablation that takes the autoencoder of a fitted CANCE (same seed and data) scores
    /// exactly like one that trains its own: the split and the autoencoder do not depend on
    /// the variant.
    @Test func ablationOnAReusedAutoencoderScoresLikeTrainingItsOwn() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let prepared = try DeepDetectorTests.prepared(DeepDetectorTests.mnistRun("cance"))
        let entry = try MethodRegistry.entry(named: "cance")
        func fitted(_ options: [String: String]) throws -> AnyDetector {
            let detector = try entry.make(options: Self.budget.merging(options) { $1 })
            try detector.fit(prepared.training, context: TrainingContext(seed: 3))
            return detector
        }
        let own = try fitted(["variant": "error"])
        let full = try fitted(["variant": "cance"])
        let model = folder.appendingPathComponent("model.safetensors")
        try full.saveFittedState(to: model)
        let reused = try fitted(["variant": "error", "autoencoderModel": folder.path])
        let context = InferenceContext()
        #expect(try reused.score(prepared.test.samples, context: context) == own.score(prepared.test.samples, context: context))
        // A model written before an option existed (its recorded configuration lacks the key)
        // still lends its autoencoder: the configuration is read over the defaults.
        let contents = try Checkpoint.read(from: model)
        var metadata = contents.metadata
        var recorded = try #require(
            try JSONSerialization.jsonObject(with: Data(metadata["configuration"]!.utf8)) as? [String: Any])
        recorded["extractor"] = nil
        metadata["configuration"] = String(decoding: try JSONSerialization.data(withJSONObject: recorded), as: UTF8.self)
        try Checkpoint.save(contents.names.map { ($0, contents.tensors[$0]!) }, to: model, metadata: metadata)
        let older = try fitted(["variant": "error", "autoencoderModel": model.path])
        #expect(try older.score(prepared.test.samples, context: context) == own.score(prepared.test.samples, context: context))
        #expect(throws: DetectorError.self) { _ = try fitted(["autoencoderModel": folder.appendingPathComponent("none").path]) }
    }

    /// Interrupted after the first epoch of any of its three phases and resumed by a fresh
    /// detector, CANCE ends with exactly the scores of an uninterrupted fit (model selection
    /// included).
    @Test(arguments: ["autoencoder", "decoder", "nce"])
    func resumedFitScoresLikeAnUninterruptedOne(phase: String) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let prepared = try DeepDetectorTests.prepared(DeepDetectorTests.mnistRun("cance"))
        let options = [
            "autoencoder.epochs": "3", "autoencoder.batchSize": "64", "decoder.epochs": "2", "decoder.batchSize": "64",
            "nce.epochs": "3", "nce.batchSize": "64",
        ]
        let entry = try MethodRegistry.entry(named: "cance")
        let reference = try entry.make(options: options)
        try reference.fit(prepared.training, context: TrainingContext(seed: 5))
        let interrupted = try entry.make(options: options)
        #expect(throws: DetectorError.interrupted(phase: phase, completedEpochs: 1)) {
            try interrupted.fit(
                prepared.training,
                context: TrainingContext(seed: 5, checkpointDirectory: folder, stopRequested: { p, e in p == phase && e == 1 }))
        }
        let resumed = try entry.make(options: options)
        try resumed.fit(prepared.training, context: TrainingContext(seed: 5, checkpointDirectory: folder))
        let context = InferenceContext()
        #expect(try resumed.score(prepared.test.samples, context: context) == reference.score(prepared.test.samples, context: context))
    }

    /// The PCA extractor reconstructs data lying in a k-dimensional affine subspace exactly, so
    /// the Error variant scores such points ≈ 0 and a point off the subspace high.
    @Test func pcaExtractorReconstructsItsSubspace() throws {
        var g = SeededGenerator(seed: 2)
        let basis: [[Float]] = [[1, 0, 2, -1, 0.5], [0, 1, -1, 0.5, 2]]
        var rows: [[Float]] = []
        for _ in 0..<60 {
            let (u, v) = (Float.random(in: -2...2, using: &g), Float.random(in: -2...2, using: &g))
            rows.append((0..<5).map { 0.3 + u * basis[0][$0] + v * basis[1][$0] })
        }
        var configuration = CANCE.Configuration()
        configuration.extractor = .pca
        configuration.variant = .error
        configuration.latentSize = 2
        var detector = CANCE(configuration)
        try detector.fit(TrainingData(unlabeled: Samples(rows: rows)), context: TrainingContext())
        let inPlane = try detector.score(Samples(rows: Array(rows[0..<10])), context: InferenceContext())
        #expect(inPlane.allSatisfy { $0 < 1e-6 }, "\(inPlane)")
        let offPlane = try detector.score(Samples(rows: [[0.3, 0.3, 1.3, 0.3, 0.3]]), context: InferenceContext())
        #expect(offPlane[0] > 0.05, "\(offPlane)")
    }

    @Test func badOptionsAreRefusedNamingTheOption() throws {
        let entry = try MethodRegistry.entry(named: "cance")
        for (key, value) in [("variant", "pca"), ("validationFraction", "0.95"), ("noiseRatio", "0"), ("nce.epochs", "0")] {
            do {
                let detector = try entry.make(options: [key: value])
                try detector.fit(
                    TrainingData(unlabeled: Samples(values: [Float](repeating: 0.5, count: 40), shape: [10, 4])),
                    context: TrainingContext())
                Issue.record("\(key)=\(value) accepted")
            } catch {
                #expect("\(error)".contains(key.split(separator: ".").last.map(String.init) ?? key), "\(error)")
            }
        }
    }
}

/// Model selection in the training loop: the weights of the epoch with the lowest validation
/// loss, also after an interruption and resume.
@Suite struct ModelSelectionTests {
    final class Script: @unchecked Sendable {
        var epoch: Int
        var weights: [[Float]] = []
        init(startingAt epoch: Int) { self.epoch = epoch }
    }

    static let losses: [Double] = [3, 1, 2, 4, 5]

    static func run(_ model: TrainingLoopTests.Toy, script: Script, context: TrainingContext) throws {
        var loop = TrainingLoopTests.loop(model)
        try loop.run(
            context: context,
            selection: ModelSelection {
                script.weights.append(model.linear.weight.toArray())
                script.epoch += 1
                return losses[script.epoch - 1]
            }
        ) { batch, _ in [LossTerm("fit", (model(batch.inputs) - 1).squared().mean())] }
    }

    @Test func theLowestValidationLossIsKeptAcrossAResume() throws {
        let reference = TrainingLoopTests.Toy(seed: 0), script = Script(startingAt: 0)
        let history = TrainingHistory()
        try Self.run(reference, script: script, context: TrainingContext(history: history))
        #expect(reference.linear.weight.toArray() == script.weights[1])
        #expect(history.epochs.map { $0.losses["validation"] } == Self.losses)
        #expect(history.selections == [.init(phase: "toy", epoch: 2, validationLoss: 1)])

        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = TrainingLoopTests.Toy(seed: 0)
        #expect(throws: DetectorError.interrupted(phase: "toy", completedEpochs: 3)) {
            try Self.run(
                first, script: Script(startingAt: 0),
                context: TrainingContext(checkpointDirectory: folder, stopRequested: { _, e in e == 3 }))
        }
        let second = TrainingLoopTests.Toy(seed: 7), resumed = TrainingHistory()
        try Self.run(
            second, script: Script(startingAt: 3), context: TrainingContext(checkpointDirectory: folder, history: resumed))
        #expect(second.linear.weight.toArray() == script.weights[1])
        #expect(resumed.selections == history.selections)
        // A process that finds the phase finished still reports the epoch its weights are from.
        let third = TrainingLoopTests.Toy(seed: 9), finished = TrainingHistory()
        try Self.run(
            third, script: Script(startingAt: 5), context: TrainingContext(checkpointDirectory: folder, history: finished))
        #expect(third.linear.weight.toArray() == script.weights[1])
        #expect(finished.selections == history.selections)
    }
}
