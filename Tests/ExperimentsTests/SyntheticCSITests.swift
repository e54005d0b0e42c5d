import Datasets
import Detectors
import Experiments
import Foundation
import Layers
import Metrics
import Tensors
import TestSupport
import Testing

/// CSI with synthetic inliers (Yu & Chiu, METHODS.md §2.3): the adversarial-autoencoder losses
/// and the differentiable augmentation by finite differences, spectral normalisation against a
/// direct singular-value computation, the shared-nearest-neighbour score against NumPy
/// (`scripts/fixtures/synthetic_csi_scores.py`), and the detector on the mini MNIST
/// (determinism, resume, reload, learning, refusals).
@Suite struct SyntheticCSITests {
    static let budget: [String: String] = [
        "encoder.architecture": "resnet8", "encoder.widthMultiplier": "0.25", "training.epochs": "2",
        "training.batchSize": "32", "training.optimizer": "adam", "training.learningRate": "1e-3",
        "training.warmupEpochs": "0", "training.warmupMultiplier": "1", "testViews": "1", "generatorWidth": "16",
        "latentSize": "16", "latentDiscriminatorWidth": "32", "adversarialInterval": "2",
    ]

    // MARK: Losses and pieces

    @Test func ganLossesMatchTheirDefinitionAndFiniteDifferences() {
        let real = randomTensor([4, 1], seed: 1, low: -2, high: 2)
        let fake = randomTensor([4, 1], seed: 2, low: -2, high: 2)
        let other = randomTensor([4, 1], seed: 3, low: -2, high: 2)
        // −log σ(r) − log(1 − σ(f)) − log(1 − σ(o)), batch means; the generator's −log σ(f) − log σ(o).
        func mean(_ t: Tensor, _ f: (Double) -> Double) -> Double { t.toArray().map { f(Double($0)) }.reduce(0, +) / 4 }
        let sigmoid = { (v: Double) in 1 / (1 + exp(-v)) }
        let expectedD = mean(real) { -log(sigmoid($0)) } + mean(fake) { -log(1 - sigmoid($0)) } + mean(other) { -log(1 - sigmoid($0)) }
        let expectedG = mean(fake) { -log(sigmoid($0)) } + mean(other) { -log(sigmoid($0)) }
        #expect(abs(Double(SyntheticCSI.discriminatorLoss(real: real, fakes: [fake, other]).item()) - expectedD) < 1e-5)
        #expect(abs(Double(SyntheticCSI.generatorLoss(fakes: [fake, other]).item()) - expectedG) < 1e-5)
        checkGradients([real, fake, other]) { SyntheticCSI.discriminatorLoss(real: $0[0], fakes: [$0[1], $0[2]]) }
        checkGradients([fake, other]) { SyntheticCSI.generatorLoss(fakes: [$0[0], $0[1]]) }
    }

    @Test func reconstructionLossesMatchFiniteDifferences() {
        let x = randomTensor([2, 1, 3, 3], seed: 4)
        let xHat = randomTensor([2, 1, 3, 3], seed: 5)
        let p1 = randomTensor([2, 4], seed: 6), p2 = randomTensor([2, 4], seed: 7)
        // L_REC = λ·mean (x − x̂)² − mean cos(p1, p2) at a known point: x̂ = x, p2 = p1 → −1.
        #expect(abs(SyntheticCSI.reconstructionLoss(x, x, projections: p1, p1, weight: 100).item() + 1) < 1e-5)
        checkGradients([x, xHat, p1, p2], h: 1e-3) {
            SyntheticCSI.reconstructionLoss($0[0], $0[1], projections: $0[2], $0[3], weight: 100)
        }
        let h = randomTensor([3, 4], seed: 8), back = randomTensor([3, 4], seed: 9)
        checkGradients([back, h]) { SyntheticCSI.latentReconstructionLoss($0[0], $0[1]) }
    }

    /// L_LREC through tiny networks, E(G(h)) − h, and L_REC's pixel term through G(E(x)):
    /// gradients reach the inputs through the transposed convolutions, the crop to 7×7 and the
    /// −1 padding.
    @Test func lossesThroughTinyNetworksMatchFiniteDifferences() {
        var g = SeededGenerator(seed: 3)
        let generator = ImageGenerator(sampleShape: [1, 7, 7], latentSize: 3, width: 8, using: &g)
        let encoder = ImageEncoder(sampleShape: [1, 7, 7], latentSize: 3, width: 8, using: &g)
        generator.eval()
        encoder.eval()
        #expect(generator(randomTensor([2, 3], seed: 1)).shape == [2, 1, 7, 7])
        let h = randomTensor([2, 3], seed: 10)
        checkGradients([h], h: 1e-2, atol: 2e-3, rtol: 3e-2) { SyntheticCSI.latentReconstructionLoss(encoder(generator($0[0])), $0[0]) }
        let x = randomTensor([2, 1, 7, 7], seed: 11)
        let p = randomTensor([2, 4], seed: 12)
        checkGradients([x], h: 1e-2, atol: 2e-3, rtol: 3e-2) {
            SyntheticCSI.reconstructionLoss($0[0], generator(encoder($0[0])), projections: p, p, weight: 1)
        }
    }

    /// The differentiable views: rotations and flips equal the host kernels; the crop-and-colour
    /// map passes gradients that match finite differences (same random draws every call).
    @Test func differentiableViewsMatchTheHostKernelsAndFiniteDifferences() {
        let x = randomTensor([2, 3, 5, 5], seed: 13, low: 0.4, high: 0.6)
        for k in 0..<4 {
            #expect(DifferentiableViews.rotated(x, k: k).toArray() == ImageOps.rot90(x, k: k).toArray())
        }
        #expect(DifferentiableViews.flipped(x).toArray() == ImageOps.flipHorizontally(x, where: [true, true]).toArray())
        let views = DifferentiableViews(cropScale: 0.3)
        var g = SeededGenerator(seed: 1)
        let csiViews = views.csiViews(x, using: &g)
        #expect(csiViews.shape == [16, 3, 5, 5])
        #expect(csiViews.toArray().allSatisfy { (0...1).contains($0) })
        checkGradients([x], h: 1e-2, atol: 1e-3, rtol: 2e-2) {
            var g = SeededGenerator(seed: 2)
            return (views.csiViews($0[0], using: &g) * randomTensor([16, 3, 5, 5], seed: 14)).sum()
        }
        // Merged views keep CSIAugmentation's order: block (v, k) holds a's images, then b's.
        let a = Tensor((0..<8).map(Float.init), shape: [8, 1, 1, 1]), b = Tensor((100..<104).map(Float.init), shape: [4, 1, 1, 1])
        #expect(SyntheticCSI.mergedViews(a, b, blocks: 4).toArray() == [0, 1, 100, 2, 3, 101, 4, 5, 102, 6, 7, 103])
    }

    /// Power iteration converges to the largest singular value (a Float64 computation of the
    /// top eigenvalue of WᵀW), the normalised weight then has spectral norm 1, evaluation mode
    /// leaves u, v alone, and the layer's gradient matches finite differences.
    @Test func spectralNormalisationFindsTheLargestSingularValue() {
        var g = SeededGenerator(seed: 21)
        let layer = SpectralNormConv2d(3, 5, kernelSize: 2, using: &g)
        let w = layer.weight.toArray().map(Double.init)
        let (rows, columns) = (5, 12)
        // σ_max² = largest eigenvalue of WᵀW by many Float64 power iterations.
        var v = [Double](repeating: 1, count: columns)
        var sigma = 0.0
        for _ in 0..<2000 {
            let wv = (0..<rows).map { r in (0..<columns).reduce(0.0) { $0 + w[r * columns + $1] * v[$1] } }
            var next = (0..<columns).map { c in (0..<rows).reduce(0.0) { $0 + w[$1 * columns + c] * wv[$1] } }
            let norm = next.map { $0 * $0 }.reduce(0, +).squareRoot()
            next = next.map { $0 / norm }
            sigma = norm.squareRoot()
            v = next
        }
        let x = randomTensor([1, 3, 4, 4], seed: 22)
        layer.train()
        for _ in 0..<200 { _ = withoutGradients { layer(x) } }
        let estimate = SpectralNormalization.sigma(layer.weight, u: layer.u, v: layer.v)
        #expect(abs(Double(estimate) - sigma) < 1e-4 * sigma, "σ \(estimate) vs \(sigma)")
        layer.eval()
        let u = layer.u.toArray()
        let normalized = withoutGradients { layer.normalizedWeight() }
        #expect(layer.u.toArray() == u)
        #expect(abs(SpectralNormalization.sigma(normalized, u: layer.u, v: layer.v) - 1) < 1e-4)
        checkGradients([layer.weight], h: 1e-3, atol: 1e-3, rtol: 2e-2) { _ in (layer(x) * randomTensor([1, 5, 3, 3], seed: 23)).sum() }
    }

    // MARK: Score

    /// Eq. 11 against NumPy: one nearest training image shared by the rotations (not CSI's
    /// per-rotation nearest neighbour), the same in chunks of the bank.
    @Test func scoreSharesTheNearestNeighbourAcrossRotations() throws {
        let url = packageRoot.appendingPathComponent("Tests/ExperimentsTests/Fixtures/synthetic_csi/scores.json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        func floats(_ key: String) throws -> [Float] { try #require(json[key] as? [Double]).map(Float.init) }
        func ints(_ key: String) throws -> [Int] { try #require(json[key] as? [Int]) }
        let axes = Tensor(try floats("axes"), shape: try ints("axes_shape"))
        let testShape = try ints("test_shape")
        let test = Tensor(try floats("test"), shape: testShape)
        let projections = (0..<testShape[0]).map { test.slice($0..<($0 + 1)).reshaped([testShape[1], testShape[2]]) }
        let shared = try floats("shared"), perShift = try floats("per_shift")
        for chunk in [4096, 2] {
            let scores = ShiftedFeatureBank.sharedNeighbourNormality(projections: projections, axes: axes, chunkRows: chunk).toArray()
            ContrastiveTests.expectClose(scores, shared, tolerance: 1e-5, "shared nearest neighbour (chunks of \(chunk))")
            #expect(zip(scores, perShift).contains { abs($0 - $1) > 1e-3 })
        }
    }

    // MARK: The detector on mini MNIST

    /// Fitted twice with the same seed through the runner, the detector gives identical scores,
    /// and its run folder scores the same without the training data.
    @Test func detectorIsDeterministicAndScoresFromItsFolder() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let configuration = RunConfiguration(
            method: "csi-synthetic", methodOptions: Self.budget.merging(["training.epochs": "1"]) { $1 }, dataset: "mnist",
            experimentProtocol: .oneClass(OneClassProtocol(normalClass: 7)), seed: 1)
        let data = try ExperimentData.load("mnist", root: miniData)
        let entry = try MethodRegistry.entry(named: "csi-synthetic")
        let first = try ExperimentRunner(outputRoot: root).run(configuration, data: data, method: entry)
        let second = try ExperimentRunner(outputRoot: root).run(configuration, data: data, method: entry)
        #expect(first.scores == second.scores)
        #expect(first.scores.allSatisfy { $0.isFinite })
        let test = try DeepDetectorTests.prepared(configuration).test
        let replay = try RunReplay(directory: first.directory, dataRoot: miniData)
        #expect(try replay.score(test.samples) == first.scores)
        // The report shows what G makes: 8 samples G(h), and 4 normal + 4 anomalous test images
        // each next to G(E(x)), after the 8 + 8 test images of the score gallery; the run folder
        // draws the same images again (seeded, G and E loaded from it), as does the second run's.
        let report = try String(contentsOf: first.directory.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("Images the model made") && report.contains("Synthetic inliers G(h)"))
        #expect(report.components(separatedBy: "<figure class=\"made\">").count - 1 == 8 + 16)
        #expect(report.components(separatedBy: "data:image/bmp;base64,").count - 1 == 16 + 8 + 16)
        let shown = test.samples.selecting(Array(0..<3))
        let made = try replay.detector.reportImages(of: shown, count: 5, context: InferenceContext(seed: 1))
        let again = try RunReplay(directory: second.directory, dataRoot: miniData).detector
            .reportImages(of: shown, count: 5, context: InferenceContext(seed: 1))
        #expect(made.map(\.images) == again.map(\.images))
        #expect(made.map(\.images.shape) == [[5, 1, 28, 28], [6, 1, 28, 28]])
        #expect(made.allSatisfy { $0.images.values.allSatisfy { $0 >= 0 && $0 <= 1 } && $0.captions.count == $0.images.count })
        // The test images themselves sit at the even places, unchanged.
        #expect(made[1].images.selecting([0, 2, 4]) == shown)
        let other = try replay.detector.reportImages(of: shown, count: 5, context: InferenceContext(seed: 2))
        #expect(other[0].images != made[0].images && other[1].images == made[1].images)
        // CSI re-scores this run's F (`encoderModel`): with Eq. 11 it gives the run's own scores,
        // with CSI's score others (the diagnostic that separates training from scoring).
        let training = try DeepDetectorTests.prepared(configuration).training
        let csiOptions = Self.budget.filter { $0.key.hasPrefix("encoder.") || $0.key == "testViews" }
            .merging(["encoderModel": first.directory.path]) { $1 }
        let csi = try MethodRegistry.entry(named: "csi")
        let eq11 = try csi.make(options: csiOptions.merging(["score": "sharedNeighbour"]) { $1 })
        try eq11.fit(training, context: TrainingContext(seed: 1))
        #expect(try eq11.score(test.samples, context: InferenceContext()) == first.scores)
        let csiScore = try csi.make(options: csiOptions)
        try csiScore.fit(training, context: TrainingContext(seed: 1))
        let rescored = try csiScore.score(test.samples, context: InferenceContext())
        #expect(rescored != first.scores && rescored.allSatisfy { $0.isFinite })
    }

    /// Interrupted after its first epoch and resumed (F's LARS/Adam state and the four GAN Adam
    /// states from the checkpoint), the detector ends with the scores of an uninterrupted fit.
    @Test func resumedFitScoresLikeAnUninterruptedOne() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let prepared = try DeepDetectorTests.prepared(DeepDetectorTests.mnistRun("csi-synthetic", protocol: .oneClass(OneClassProtocol(normalClass: 7))))
        let entry = try MethodRegistry.entry(named: "csi-synthetic")
        let reference = try entry.make(options: Self.budget)
        try reference.fit(prepared.training, context: TrainingContext(seed: 5))
        let interrupted = try entry.make(options: Self.budget)
        #expect(throws: DetectorError.interrupted(phase: "pretraining", completedEpochs: 1)) {
            try interrupted.fit(
                prepared.training, context: TrainingContext(seed: 5, checkpointDirectory: folder, stopRequested: { _, e in e == 1 }))
        }
        let checkpoint = try Checkpoint.read(from: folder.appendingPathComponent("pretraining.safetensors"))
        for name in ["generator", "encoder", "discriminator", "latentDiscriminator"] {
            #expect(checkpoint.tensors.keys.contains { $0.hasPrefix("optimizers.\(name).") }, "no Adam state of \(name)")
        }
        let resumed = try entry.make(options: Self.budget)
        try resumed.fit(prepared.training, context: TrainingContext(seed: 5, checkpointDirectory: folder))
        let context = InferenceContext()
        #expect(try resumed.score(prepared.test.samples, context: context) == reference.score(prepared.test.samples, context: context))
    }

    /// `holdFrozenStatistics` keeps F's frozen passes (steps c and e) out of its BatchNorm running
    /// statistics and changes nothing else: training normalises by batch statistics, so every
    /// weight of F, G, E, D and D′ follows the same path either way. One epoch of 224 sevens in
    /// batches of 32 with N = 2: 7 plain CSI steps and 4 adversarial batches, each with one L_JOINT
    /// step of F (11 updates held) and, not held, also one pass in step c and two in step e (23).
    @Test func heldFrozenStatisticsChangeOnlyTheRunningStatisticsOfF() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let prepared = try DeepDetectorTests.prepared(DeepDetectorTests.mnistRun("csi-synthetic", protocol: .oneClass(OneClassProtocol(normalClass: 7))))
        #expect(prepared.training.unlabeled.count == 224)
        var states: [[String: Tensor]] = []
        for hold in ["false", "true"] {
            let detector = try MethodRegistry.entry(named: "csi-synthetic").make(
                options: Self.budget.merging(["training.epochs": "1", "holdFrozenStatistics": hold]) { $1 })
            try detector.fit(prepared.training, context: TrainingContext(seed: 2))
            let url = folder.appendingPathComponent("\(hold).safetensors")
            try detector.saveFittedState(to: url)
            states.append(try Checkpoint.read(from: url).tensors)
        }
        let (updated, held) = (states[0], states[1])
        #expect(updated["network.encoder.stemNorm.numBatchesTracked"]?.toArray() == [23])
        #expect(held["network.encoder.stemNorm.numBatchesTracked"]?.toArray() == [11])
        #expect(Set(updated.keys) == Set(held.keys))
        var differing: [String] = []
        for (name, tensor) in updated where tensor.toArray() != held[name]?.toArray() { differing.append(name) }
        let statistics = ["runningMean", "runningVar", "numBatchesTracked"]
        #expect(differing.contains("network.encoder.stemNorm.runningMean"))
        // Only F's statistics, and the bank of training features F computes with them.
        let unexpected = differing.filter { name in
            !(name.hasPrefix("network.") && statistics.contains { name.hasSuffix($0) }) && !name.hasPrefix("bank.")
        }
        #expect(unexpected.isEmpty, "\(unexpected)")
    }

    /// At a unit-test budget (ResNet-8 × 0.25, G/E/D width 16, 4 epochs on 224 sevens) the
    /// detector separates sevens from the other digits: measured AUROC 0.663 (seed 1); the
    /// bound leaves a margin.
    @Test func detectorLearnsTheNormalDigit() throws {
        let options = Self.budget.merging(["training.epochs": "4"]) { $1 }
        let configuration = DeepDetectorTests.mnistRun(
            "csi-synthetic", options: options, protocol: .oneClass(OneClassProtocol(normalClass: 7)))
        let prepared = try DeepDetectorTests.prepared(configuration)
        let detector = try MethodRegistry.entry(named: "csi-synthetic").make(options: options)
        try detector.fit(prepared.training, context: TrainingContext(seed: 1))
        let scores = try detector.score(prepared.test.samples, context: InferenceContext())
        let auroc = try Metrics.auroc(scores: scores, labels: prepared.test.isAnomaly)
        #expect(auroc > Self.minimumAUROC, "AUROC \(auroc)")
    }

    static let minimumAUROC = 0.6

    /// Tables, non-square images and out-of-range options are refused with DetectorError.
    @Test func badInputsAreRefusedByName() throws {
        let entry = try MethodRegistry.entry(named: "csi-synthetic")
        let table = TrainingData(unlabeled: Samples(rows: [[1, 2], [3, 4], [5, 6]]))
        #expect(throws: DetectorError.self) { try entry.make(options: Self.budget).fit(table, context: TrainingContext()) }
        let wide = TrainingData(unlabeled: Samples(values: [Float](repeating: 0.5, count: 4 * 16 * 24), shape: [4, 1, 16, 24]))
        #expect(throws: DetectorError.self) { try entry.make(options: Self.budget).fit(wide, context: TrainingContext()) }
        #expect(throws: DetectorError.invalidOption(option: "adversarialInterval", value: "0", requirement: "must be in 1...1000000")) {
            var configuration = SyntheticCSI.Configuration()
            configuration.adversarialInterval = 0
            try configuration.validate()
        }
        #expect(throws: (any Error).self) { _ = try entry.make(options: ["generatorWidth": "2"]) }
        #expect(throws: DetectorError.self) {
            try SyntheticCSI().score(Samples(values: [0], shape: [1, 1]), context: InferenceContext())
        }
    }
}
