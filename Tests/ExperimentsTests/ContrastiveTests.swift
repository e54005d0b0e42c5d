import Datasets
import Detectors
import Experiments
import Foundation
import Layers
import Metrics
import Tensors
import TestSupport
import Testing

/// The contrastive family (METHODS.md §1.3–1.4, §2.4): losses by finite differences and
/// oracles, the feature scores against NumPy (`scripts/fixtures/contrastive_scores.py`), one
/// training step against PyTorch (`scripts/fixtures/contrastive_fixtures.py`), and the
/// detectors on the mini MNIST.
@Suite struct ContrastiveTests {
    static let fixtures = packageRoot.appendingPathComponent("Tests/ExperimentsTests/Fixtures/contrastive")

    static func scoresFixture() throws -> [String: Any] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("scores.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// A nested JSON array of numbers as a tensor of `shape`.
    static func tensor(_ value: Any?, _ shape: [Int]) throws -> Tensor {
        func flatten(_ v: Any) -> [Float] {
            if let array = v as? [Any] { return array.flatMap(flatten) }
            return [Float((v as? NSNumber)?.doubleValue ?? .nan)]
        }
        let values = flatten(try #require(value))
        #expect(values.count == shape.reduce(1, *))
        return Tensor(values, shape: shape)
    }

    static func expectClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-4, _ what: String) {
        #expect(a.count == b.count, "\(what): \(a.count) values, expected \(b.count)")
        for (x, y) in zip(a, b) {
            #expect(abs(x - y) <= tolerance * max(1, abs(y)), "\(what): \(a) vs \(b)")
        }
    }

    // MARK: Losses

    @Test func symmetricNegativeCosineGradientsMatchFiniteDifferences() {
        let fixedTargets = randomTensor([6, 5], seed: 4)
        checkGradients([randomTensor([6, 5], seed: 3)], h: 1e-2) {
            symmetricNegativeCosineLoss(predictions: $0[0], targets: fixedTargets)
        }
        // The targets are stop-gradient: nothing flows back to them.
        let targets = randomTensor([4, 3], seed: 5).requiringGrad()
        symmetricNegativeCosineLoss(predictions: randomTensor([4, 3], seed: 6).requiringGrad(), targets: targets).backward()
        #expect(targets.grad == nil || targets.grad!.toArray().allSatisfy { $0 == 0 })
        // Identical directions give −1.
        let p = randomTensor([4, 3], seed: 7)
        let swapped = Tensor.concat([p.slice(2..<4), p.slice(0..<2)]) * 2.5
        #expect(abs(symmetricNegativeCosineLoss(predictions: p, targets: swapped).item() + 1) < 1e-6)
    }

    @Test func shiftHeadGradientsMatchFiniteDifferences() {
        var g = SeededGenerator(seed: 1)
        let head = Linear(5, 4, using: &g)
        let rotations = [0, 1, 2, 3, 0, 1, 2, 3]
        checkGradients([randomTensor([8, 5], seed: 2), head.weight, head.bias!], h: 1e-2) { inputs in
            shiftClassificationLoss(logits: matmul(inputs[0], inputs[1], transposeB: true) + inputs[2], rotations: rotations)
        }
    }

    /// NT-Xent over CSI's batch layout (2 views × 4 rotations × B images, positive of row i is
    /// i ± 4B): with unit projections equal within an (image, rotation) pair and orthogonal
    /// otherwise, every row's loss is −log(e^{1/τ} / (e^{1/τ} + (8B − 2)·e⁰)) — the other rotations
    /// of the same image are negatives and only the row itself leaves the denominator.
    @Test func shiftedInstancesAreNegativesAndOnlySelfIsExcluded() {
        let b = 2, n = 8 * b, tau: Float = 0.5
        var rows = [Float](repeating: 0, count: n * n)
        let augmentation = CSIAugmentation()
        for image in 0..<b {
            for rotation in 0..<4 {
                let instance = rotation * b + image
                for view in 0..<2 {
                    rows[augmentation.row(image: image, view: view, rotation: rotation, batchSize: b) * n + instance] = 1
                }
            }
        }
        let loss = ntXentLoss(Tensor(rows, shape: [n, n]), temperature: tau).item()
        let expected = -log(exp(1 / tau) / (exp(1 / tau) + Float(n - 2)))
        #expect(abs(loss - expected) < 1e-5, "\(loss) vs \(expected)")
    }

    // MARK: Scores against NumPy

    @Test func csiScoreMatchesNumPy() throws {
        let csi = try #require(try Self.scoresFixture()["csi"] as? [String: Any])
        let train = try Self.tensor(csi["trainProjections"], [4, 20, 8])
        let trainLogits = try Self.tensor(csi["trainLogits"], [4, 20])
        let test = try Self.tensor(csi["testProjections"], [4, 6, 8])
        let testLogits = try Self.tensor(csi["testLogits"], [4, 6])
        func perShift(_ t: Tensor) -> [Tensor] {
            (0..<4).map { k in
                let s = t.slice(k..<(k + 1))
                return s.reshaped(Array(s.shape.dropFirst()))
            }
        }
        let bank = ShiftedFeatureBank(shiftCount: 4, count: 20, dimension: 8)
        bank.fit(projections: perShift(train), logits: perShift(trainLogits))
        let expected = try #require(csi["normality"] as? [Double]).map(Float.init)
        Self.expectClose(bank.normality(projections: perShift(test), logits: perShift(testLogits)).toArray(), expected, "CSI score")
        // SimCLR's score: one shift, no logit term.
        let simclr = ShiftedFeatureBank(shiftCount: 1, count: 20, dimension: 8)
        simclr.fit(projections: [perShift(train)[0]], logits: [])
        let expectedSimCLR = try #require(csi["simclrNormality"] as? [Double]).map(Float.init)
        Self.expectClose(simclr.normality(projections: [perShift(test)[0]], logits: []).toArray(), expectedSimCLR, "SimCLR score")
    }

    @Test(arguments: [true, false])
    func angularMahalanobisMatchesNumPy(centering: Bool) throws {
        let nsa = try #require(try Self.scoresFixture()["nsa"] as? [String: Any])
        let train = try Self.tensor(nsa["train"], [30, 5]), test = try Self.tensor(nsa["test"], [7, 5])
        let expected = try #require(nsa[centering ? "centred" : "uncentred"] as? [String: Any])
        let scorer = AngularMahalanobis(count: 30, dimension: 5, centering: centering)
        scorer.fit(train)
        let values = { (key: String) throws -> [Float] in try #require(expected[key] as? [Double]).map(Float.init) }
        Self.expectClose(scorer.kCos(test).toArray(), try values("kcos"), tolerance: 2e-4, "k-Cos")
        Self.expectClose(scorer.cCos(test).toArray(), try values("ccos"), tolerance: 2e-4, "c-Cos")
        Self.expectClose(scorer.trainingRange.toArray(), try values("trainingRange"), tolerance: 2e-4, "training ranges")
        // Min–max normalisation maps the training range onto [0, 1].
        let normalized = scorer.normalizedScore(train, .cCos).toArray()
        #expect(abs(normalized.min()!) < 1e-4 && abs(normalized.max()! - 1) < 1e-4)
    }

    /// Chunked nearest-neighbour similarity equals the one-shot maximum, and leave-one-out
    /// skips exactly the query's own row.
    @Test func featureBankChunksAndLeavesOneOut() {
        let bank = l2Normalize(randomTensor([11, 4], seed: 9))
        let queries = bank.slice(3..<7)
        let full = matmul(queries, bank, transposeB: true)
        #expect(FeatureBank.maxSimilarity(queries, bank: bank, chunkRows: 3).toArray() == full.max(axis: 1).toArray())
        let values = full.toArray()
        var leftOut: [Float] = []
        for row in 0..<4 {
            let others: [Float] = (0..<11).filter { $0 != row + 3 }.map { values[row * 11 + $0] }
            leftOut.append(others.max()!)
        }
        #expect(FeatureBank.maxSimilarity(queries, bank: bank, selfOffset: 3, chunkRows: 2).toArray() == leftOut)
    }

    /// The whitening of a rank-deficient covariance stays finite (eigenvalue floor).
    @Test func whiteningOfASingularCovarianceIsFinite() {
        var rows: [[Float]] = []
        var g = SeededGenerator(seed: 4)
        for _ in 0..<20 {
            let a = Float.random(in: -1...1, using: &g), b = Float.random(in: -1...1, using: &g)
            rows.append([a, b, a + b, 2 * a])  // rank 2 in 4 dimensions
        }
        let scorer = AngularMahalanobis(count: 20, dimension: 4, centering: true)
        scorer.fit(Tensor(rows.flatMap { $0 }, shape: [20, 4]))
        #expect(scorer.whitening.toArray().allSatisfy { $0.isFinite })
        #expect(scorer.kCos(Tensor([0.3, -0.2, 0.1, 0.6], shape: [1, 4])).toArray().allSatisfy { $0.isFinite })
    }

    // MARK: One training step against PyTorch

    /// One training step of SimCLR, CSI and SS(n) — ResNet-8, fixed weights, a fixed batch of
    /// views — gives the loss terms and every parameter gradient of the PyTorch script
    /// `scripts/fixtures/contrastive_fixtures.py` to 1e-4 relative (of the tensor's largest value).
    @Test(arguments: ["simclr", "csi", "ssn"])
    func oneTrainingStepMatchesPyTorch(caseName: String) throws {
        let contents = try Checkpoint.read(from: Self.fixtures.appendingPathComponent("\(caseName).safetensors"))
        let views = try #require(contents.tensors["input"])
        let imageCount = try #require(Int(contents.metadata["imageCount"] ?? ""))
        let encoder = EncoderOptions(architecture: .resnet8)
        var g = SeededGenerator(seed: 0)
        let network: ContrastiveNetwork
        let terms: () -> [LossTerm]
        switch caseName {
        case "ssn":
            var c = NSA.Configuration()
            c.encoder = encoder
            c.projectionWidth = 32
            c.predictorWidth = 16
            network = NSA.makeNetwork(sampleShape: Array(views.shape.dropFirst()), c, using: &g)
            terms = { NSA.lossTerms(network, target: nil, views: views, configuration: c) }
        default:
            var c = caseName == "csi" ? CSI.Configuration() : CSI.Configuration.simclr
            c.encoder = encoder
            network = ContrastiveNetwork.csi(
                sampleShape: Array(views.shape.dropFirst()), encoder: encoder, shiftCount: c.shiftCount, using: &g)
            terms = { CSI.lossTerms(network, views: views, imageCount: imageCount, configuration: c) }
        }
        let parameters = contents.tensors.filter { $0.key.hasPrefix("param.") }
        try Checkpoint.assign(
            Dictionary(uniqueKeysWithValues: parameters.map { (String($0.key.dropFirst(6)), $0.value) }),
            names: parameters.keys.map { String($0.dropFirst(6)) }, to: network.namedTensors(), path: caseName)
        network.train()
        let losses = terms()
        let expectedNames: [String: String] = ["simclr": "nt-xent", "csi": "con-SI", "ssn": "negative-cosine"]
        for term in losses {
            let stored = contents.tensors["loss.\(caseName == "simclr" ? "nt-xent" : term.name)"]
            let expected = try #require(stored, "no reference for loss term \(term.name) (\(expectedNames[caseName]!))").item()
            #expect(abs(term.value.item() - expected) <= 1e-4 * max(1, abs(expected)), "\(caseName) \(term.name): \(term.value.item()) vs \(expected)")
        }
        losses.dropFirst().reduce(losses[0].value) { $0 + $1.value }.backward()
        var compared = 0
        for (name, tensor) in network.namedParameters() {
            let reference = try #require(contents.tensors["grad.\(name)"], "no reference gradient for \(name)").toArray()
            let ours = try #require(tensor.grad, "no gradient for \(name)").toArray()
            let scale = reference.map(abs).max() ?? 0
            let worst = zip(ours, reference).map { abs($0 - $1) - 1e-4 * (abs($1) + scale) }.max() ?? 0
            #expect(worst <= 0, "\(caseName) \(name): gradient off by \(worst) beyond tolerance (scale \(scale))")
            compared += 1
        }
        #expect(compared == contents.tensors.keys.filter { $0.hasPrefix("grad.") }.count)
    }

    // MARK: Detectors on the mini MNIST

    static let budget: [String: [String: String]] = [
        "nsa": [
            "encoder.architecture": "resnet8", "training.epochs": "2", "training.batchSize": "64",
            "training.learningRate": "1e-3", "projectionWidth": "64", "predictorWidth": "32",
        ],
        "simclr": [
            "encoder.architecture": "resnet8", "training.epochs": "2", "training.batchSize": "64",
            "training.optimizer": "adam", "training.learningRate": "1e-3", "training.warmupEpochs": "0",
            "training.warmupMultiplier": "1", "testViews": "2",
        ],
        "csi": [
            "encoder.architecture": "resnet8", "training.epochs": "2", "training.batchSize": "32",
            "training.optimizer": "adam", "training.learningRate": "1e-3", "training.warmupEpochs": "0",
            "training.warmupMultiplier": "1", "testViews": "1",
        ],
    ]

    /// Fitted twice with the same seed (prefetching loader, two threads), a detector gives
    /// identical scores, and its run folder scores the same without the training data.
    @Test(arguments: ["nsa", "simclr", "csi"])
    func detectorIsDeterministicAndScoresFromItsFolder(method: String) throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let configuration = RunConfiguration(
            method: method, methodOptions: Self.budget[method]!, dataset: "mnist",
            experimentProtocol: .oneClass(OneClassProtocol(normalClass: 0)), seed: 1)
        let data = try ExperimentData.load("mnist", root: miniData)
        let entry = try MethodRegistry.entry(named: method)
        let first = try ExperimentRunner(outputRoot: root).run(configuration, data: data, method: entry)
        let second = try ExperimentRunner(outputRoot: root).run(configuration, data: data, method: entry)
        #expect(first.scores == second.scores)
        let test = try DeepDetectorTests.prepared(configuration).test
        let replay = try RunReplay(directory: first.directory, dataRoot: miniData)
        #expect(replay.prepared == nil)
        #expect(try replay.score(test.samples) == first.scores)
    }

    /// At a unit-test budget (ResNet-8, a few epochs on ~200 images) each detector separates
    /// the normal digit from the others better than chance: SS(n) with uncentred k-Cos on zeros;
    /// SimCLR and CSI on sevens (CSI's rotation logit needs a class whose rotations differ —
    /// zeros score below chance, a known limit of rotation-based scores).
    @Test(arguments: [("nsa", 0, 0.7), ("simclr", 7, 0.58), ("csi", 7, 0.58)])
    func detectorLearnsTheNormalDigit(method: String, normal: Int, minimum: Double) throws {
        var options = Self.budget[method]!.merging(["training.epochs": method == "nsa" ? "1" : "5"]) { $1 }
        if method == "nsa" { options["centering"] = "false" }
        let configuration = RunConfiguration(
            method: method, methodOptions: options, dataset: "mnist",
            experimentProtocol: .oneClass(OneClassProtocol(normalClass: normal)), seed: 1)
        let prepared = try DeepDetectorTests.prepared(configuration)
        let detector = try MethodRegistry.entry(named: method).make(options: options)
        try detector.fit(prepared.training, context: TrainingContext(seed: 1))
        let scores = try detector.score(prepared.test.samples, context: InferenceContext())
        let auroc = try Metrics.auroc(scores: scores, labels: prepared.test.isAnomaly)
        #expect(auroc > minimum, "\(method) on digit \(normal): AUROC \(auroc)")
    }

    /// BYOL(n), SC(n−) and the layer ensemble with c-Cos each fit, give finite scores and are
    /// rebuilt from their saved state (the ensemble's five scorers sized from the file).
    @Test(arguments: [
        ["variant": "byol"], ["variant": "simclr", "shiftedNegatives": "true"],
        ["ensemble": "true", "score": "ccos", "normalized": "false"],
    ])
    func nsaVariantsFitAndReload(options: [String: String]) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let prepared = try DeepDetectorTests.prepared(DeepDetectorTests.mnistRun("nsa"))
        let entry = try MethodRegistry.entry(named: "nsa")
        let budget = Self.budget["nsa"]!.merging(["training.epochs": "1"]) { $1 }.merging(options) { $1 }
        let detector = try entry.make(options: budget)
        try detector.fit(prepared.training, context: TrainingContext(seed: 2))
        let scores = try detector.score(prepared.test.samples, context: InferenceContext())
        #expect(scores.allSatisfy { $0.isFinite })
        let model = folder.appendingPathComponent("model.safetensors")
        try detector.saveFittedState(to: model)
        let reloaded = try entry.make(options: budget)
        try reloaded.loadFittedState(from: model)
        #expect(try reloaded.score(prepared.test.samples, context: InferenceContext()) == scores)
    }

    /// Another scoring of the same trained network: `encoderModel` takes a fitted NSA's network
    /// and fits only the scorers; with the same scoring options it gives exactly that model's
    /// scores, with others (the ensemble with c-Cos) its own.
    @Test func encoderModelReusesTheTrainedNetwork() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let prepared = try DeepDetectorTests.prepared(DeepDetectorTests.mnistRun("nsa"))
        let entry = try MethodRegistry.entry(named: "nsa")
        let budget = Self.budget["nsa"]!.merging(["training.epochs": "1"]) { $1 }
        let trained = try entry.make(options: budget)
        try trained.fit(prepared.training, context: TrainingContext(seed: 2))
        try trained.saveFittedState(to: folder.appendingPathComponent("model.safetensors"))
        let context = InferenceContext()
        let same = try entry.make(options: budget.merging(["encoderModel": folder.path]) { $1 })
        try same.fit(prepared.training, context: TrainingContext(seed: 9))
        #expect(try same.score(prepared.test.samples, context: context) == trained.score(prepared.test.samples, context: context))
        let ensemble = try entry.make(options: budget.merging(["encoderModel": folder.path, "ensemble": "true", "score": "ccos"]) { $1 })
        try ensemble.fit(prepared.training, context: TrainingContext(seed: 2))
        #expect(try ensemble.score(prepared.test.samples, context: context) != trained.score(prepared.test.samples, context: context))
        let other = try entry.make(options: budget.merging(["encoderModel": folder.path, "projectionWidth": "48"]) { $1 })
        #expect(throws: DetectorError.self) { try other.fit(prepared.training, context: TrainingContext(seed: 2)) }
    }

    /// Interrupted after its first epoch and resumed, CSI ends with the scores of an
    /// uninterrupted fit.
    @Test func resumedCSIScoresLikeAnUninterruptedOne() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let prepared = try DeepDetectorTests.prepared(DeepDetectorTests.mnistRun("csi"))
        let entry = try MethodRegistry.entry(named: "csi")
        let reference = try entry.make(options: Self.budget["csi"]!)
        try reference.fit(prepared.training, context: TrainingContext(seed: 5))
        let interrupted = try entry.make(options: Self.budget["csi"]!)
        #expect(throws: DetectorError.interrupted(phase: "pretraining", completedEpochs: 1)) {
            try interrupted.fit(
                prepared.training, context: TrainingContext(seed: 5, checkpointDirectory: folder, stopRequested: { _, e in e == 1 }))
        }
        let resumed = try entry.make(options: Self.budget["csi"]!)
        try resumed.fit(prepared.training, context: TrainingContext(seed: 5, checkpointDirectory: folder))
        let context = InferenceContext()
        #expect(try resumed.score(prepared.test.samples, context: context) == reference.score(prepared.test.samples, context: context))
    }

    /// Tables are refused with one clear message; options are range-checked by name.
    @Test func badInputsAreRefusedByName() throws {
        let table = TrainingData(unlabeled: Samples(rows: [[1, 2], [3, 4], [5, 6]]))
        for method in ["nsa", "csi"] {
            let detector = try MethodRegistry.entry(named: method).make(options: [:])
            #expect(throws: DetectorError.self) { try detector.fit(table, context: TrainingContext()) }
        }
        #expect(throws: (any Error).self) { _ = try MethodRegistry.entry(named: "nsa").make(options: ["variant": "moco"]) }
        // CSI rotates its images: non-square ones are refused by message, not trapped.
        let wide = TrainingData(unlabeled: Samples(values: [Float](repeating: 0.5, count: 4 * 16 * 24), shape: [4, 1, 16, 24]))
        #expect(throws: DetectorError.self) { try MethodRegistry.entry(named: "csi").make(options: [:]).fit(wide, context: TrainingContext()) }
        #expect(throws: (any Error).self) { _ = try MethodRegistry.entry(named: "nsa").make(options: ["shiftedNegatives": "true"]) }
        #expect(throws: DetectorError.invalidOption(option: "shiftedNegatives", value: "true", requirement: "applies to variant=simclr only")) {
            var configuration = NSA.Configuration()
            configuration.shiftedNegatives = true
            try configuration.validate()
        }
    }

    /// `encoderModel=<simclr run>` re-scores that run's network: with the run's own scoring
    /// options it reproduces the run's scores; `score=cosine` normalises the averaged test
    /// projections, so each score is −w^sim · (a cosine) and lies within ±w^sim.
    @Test func csiEncoderModelRescoresAndCosineScoreIsBounded() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let options = Self.budget["simclr"]!.merging(["training.epochs": "1"]) { $1 }
        let configuration = RunConfiguration(
            method: "simclr", methodOptions: options, dataset: "mnist",
            experimentProtocol: .oneClass(OneClassProtocol(normalClass: 7)), seed: 1)
        let data = try ExperimentData.load("mnist", root: miniData)
        let result = try ExperimentRunner(outputRoot: root).run(configuration, data: data, method: MethodRegistry.entry(named: "simclr"))
        let prepared = try DeepDetectorTests.prepared(configuration)
        let entry = try MethodRegistry.entry(named: "simclr")
        let rescored = try entry.make(options: options.merging(["encoderModel": result.directory.path]) { $1 })
        try rescored.fit(prepared.training, context: TrainingContext(seed: 1))
        #expect(try rescored.score(prepared.test.samples, context: InferenceContext()) == result.scores)
        let json = try entry.make(options: options.merging(["encoderModel": result.directory.path, "score": "cosine"]) { $1 })
            .configurationJSON
        var cosine = CSI(try JSONDecoder().decode(CSI.Configuration.self, from: Data(json.utf8)))
        try cosine.fit(prepared.training, context: TrainingContext(seed: 1))
        let weight = try #require(cosine.state).bank.similarityWeights.item()
        let scores = try cosine.score(prepared.test.samples, context: InferenceContext())
        #expect(scores.allSatisfy { abs($0) <= weight * 1.0001 })
        #expect(scores != result.scores)
    }
}
