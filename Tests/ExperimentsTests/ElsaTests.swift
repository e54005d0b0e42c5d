import Datasets
import Detectors
import Experiments
import Foundation
import Layers
import Metrics
import Tensors
import TestSupport
import Testing

/// Elsa / Elsa+ (METHODS.md §2.1): the energy's constant and range (§8 oracles), the loss by
/// hand and by finite differences, spherical k-means, and the detectors on the mini MNIST under
/// the semi-supervised protocol.
@Suite struct ElsaTests {
    /// ResNet-8 at a unit-test budget: a few epochs on ~200 images.
    static let budget = [
        "encoder.architecture": "resnet8", "pretraining.epochs": "3", "pretraining.batchSize": "32",
        "pretraining.optimizer": "adam", "pretraining.learningRate": "1e-3", "pretraining.warmupEpochs": "0",
        "pretraining.warmupMultiplier": "1", "finetuning.epochs": "3", "finetuning.batchSize": "32",
        "prototypeCount": "10", "testViews": "2",
    ]

    /// Normal 0, known anomaly 1, γl = γp = 0.1 (Deep SAD counting).
    static func run(_ method: String, _ options: [String: String] = [:], seed: UInt64 = 1) -> RunConfiguration {
        RunConfiguration(
            method: method, methodOptions: budget.merging(options) { $1 }, dataset: "mnist",
            experimentProtocol: .semiSupervised(
                SemiSupervisedProtocol(
                    normalClasses: [0], knownAnomalyClasses: [1], labeledNormalRatio: 0.1, labeledAnomalyRatio: 0.1,
                    pollutionRatio: 0.1, counting: .deepSAD)),
            seed: seed)
    }

    // MARK: Energy

    /// K = 50, τ = 0.5: C = ln 50 + 2 = 5.9120 and S_τ ∈ [1.912, 5.912], reached when every
    /// prototype equals ẑ or −ẑ.
    @Test func energyConstantAndRange() {
        let k = 50, tau: Float = 0.5
        let z = l2Normalize(randomTensor([1, 16], seed: 1), axis: 1)
        let same = Tensor.concat(Array(repeating: z, count: k))
        let top = Elsa.energy(z, prototypes: same, temperature: tau).item()
        let bottom = Elsa.energy(z, prototypes: same * -1, temperature: tau).item()
        #expect(abs(top - 5.9120) < 1e-4, "\(top)")
        #expect(abs(bottom - 1.9120) < 1e-4, "\(bottom)")
        let prototypes = l2Normalize(randomTensor([k, 16], seed: 2), axis: 1)
        let s = Elsa.energy(l2Normalize(randomTensor([64, 16], seed: 3), axis: 1), prototypes: prototypes, temperature: tau)
        #expect(s.toArray().allSatisfy { $0 > 1.912 && $0 < 5.912 })
        // Without τ (the code's test score) the range is ln K ± 1.
        let plain = Elsa.energy(z, prototypes: same, temperature: nil).item()
        #expect(abs(plain - (log(50) + 1)) < 1e-4)
    }

    /// K must satisfy ln K > 1/τ, else 1/S is singular (§2.1.5): K = 7 is refused at τ = 0.5,
    /// K = 8 accepted.
    @Test func prototypeCountBelowTheSingularBoundIsRefused() throws {
        var c = Elsa.Configuration()
        c.prototypeCount = 7
        #expect(throws: DetectorError.self) { try c.validate() }
        do {
            try c.validate()
        } catch let error as DetectorError {
            #expect(error.description.contains("prototypeCount=7"))
        }
        c.prototypeCount = 8
        try c.validate()
    }

    /// Fine-tuning holds Adam's 1e-4 (§2.1.6: no schedule); pre-training keeps CSI's warm-up and
    /// cosine decay.
    @Test func finetuningRateIsConstant() {
        let c = Elsa.Configuration()
        #expect([0, 1.5, 25, 49.9].map { c.finetuning.schedule.learningRate(at: $0) } == [Float](repeating: 1e-4, count: 4))
        #expect(c.pretraining.schedule.learningRate(at: 500) < c.pretraining.schedule.learningRate(at: 10))
    }

    /// The loss of §2.1.5 computed by hand in Double: mean of 1/(C − S) over anomalies and 1/S
    /// over the rest.
    @Test func energyLossMatchesHandComputation() {
        let (n, k, d) = (5, 10, 4)
        let tau: Float = 0.5
        let z = l2Normalize(randomTensor([n, d], seed: 4), axis: 1)
        let p = l2Normalize(randomTensor([k, d], seed: 5), axis: 1)
        let labels = [0, 1, -1, 0, -1]
        let loss = Elsa.energyLoss(z, prototypes: p, semiLabels: labels, temperature: tau).item()
        let zv = z.toArray().map(Double.init), pv = p.toArray().map(Double.init)
        let bound = log(Double(k)) + 2
        var expected = 0.0
        for i in 0..<n {
            let s = log((0..<k).map { j in exp((0..<d).map { zv[i * d + $0] * pv[j * d + $0] }.reduce(0, +) / 0.5) }.reduce(0, +))
            expected += labels[i] == -1 ? 1 / (bound - s) : 1 / s
        }
        expected /= Double(n)
        #expect(abs(Double(loss) - expected) < 1e-5 * expected, "\(loss) vs \(expected)")
    }

    @Test func energyLossGradientsMatchFiniteDifferences() {
        let labels = [0, -1, 1, -1, 0, 0]
        checkGradients([randomTensor([6, 5], seed: 6), randomTensor([9, 5], seed: 7)], h: 1e-2) { inputs in
            Elsa.energyLoss(
                l2Normalize(inputs[0], axis: 1), prototypes: l2Normalize(inputs[1], axis: 1), semiLabels: labels,
                temperature: 0.5)
        }
    }

    /// The two test scores of Elsa+ on one batch: the code's LSE (no τ) of the view-averaged
    /// projections of each rotation, summed over rotations; the paper's S_τ of every view,
    /// averaged over the views and summed over rotations.
    @Test func codeAndPaperScoresFollowTheirDefinitions() throws {
        var c = Elsa.Configuration.plus
        c.encoder.architecture = .resnet8
        c.encoder.widthMultiplier = 0.25
        c.projectionSize = 8
        c.prototypeCount = 10
        c.testViews = 3
        var g = SeededGenerator(seed: 1)
        let state = try Elsa.makeState(sampleShape: [1, 16, 16], configuration: c, using: &g)
        state.prototypes.assign(l2Normalize(randomTensor([10, 8], seed: 2), axis: 1))
        state.eval()
        let x = Tensor.uniform([4, 1, 16, 16], low: 0, high: 1, using: &g)
        var tempered = [Double](repeating: 0, count: 4)
        var sums = [[Float]](repeating: [Float](repeating: 0, count: 4 * 8), count: 4)
        ShiftedFeatureBank.forEachTestView(x, network: state.network, shiftCount: 4, viewCount: 3, flips: true) { k, _, _, z in
            let s = Elsa.energy(l2Normalize(z, axis: 1), prototypes: state.prototypes, temperature: 0.5).toArray()
            for i in 0..<4 { tempered[i] += Double(s[i]) / 3 }
            for (i, v) in z.toArray().enumerated() { sums[k][i] += v }
        }
        var plain = [Double](repeating: 0, count: 4)
        for k in 0..<4 {
            let s = Elsa.energy(l2Normalize(Tensor(sums[k], shape: [4, 8]), axis: 1), prototypes: state.prototypes, temperature: nil)
            for i in 0..<4 { plain[i] += Double(s.toArray()[i]) }
        }
        c.score = .code
        ContrastiveTests.expectClose(Elsa.scoreBatch(x, state: state, configuration: c).toArray(), plain.map { Float(-$0) }, "code score")
        c.score = .paper
        ContrastiveTests.expectClose(Elsa.scoreBatch(x, state: state, configuration: c).toArray(), tempered.map { Float(-$0) }, "paper score")
    }

    // MARK: Spherical k-means

    /// Three tight groups around orthogonal directions: each centroid lands on one direction,
    /// unit norm, the same for the same seed.
    @Test func sphericalKMeansFindsSeparatedDirections() {
        let d = 6
        var g = SeededGenerator(seed: 3)
        var values: [Float] = []
        for i in 0..<90 {
            for j in 0..<d { values.append((j == i % 3 ? 1 : 0) + 0.05 * g.nextNormal()) }
        }
        let points = Tensor(values, shape: [90, d])
        var a = SeededGenerator(seed: 9), b = SeededGenerator(seed: 9)
        let centroids = SphericalKMeans.fit(points, clusterCount: 3, using: &a)
        #expect(centroids.toArray() == SphericalKMeans.fit(points, clusterCount: 3, using: &b).toArray())
        let c = centroids.toArray()
        var found = Set<Int>()
        for row in 0..<3 {
            let v = Array(c[(row * d)..<((row + 1) * d)])
            #expect(abs(v.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
            let axis = v.indices.max { v[$0] < v[$1] }!
            #expect(v[axis] > 0.99, "centroid \(v)")
            found.insert(axis)
        }
        #expect(found == [0, 1, 2])
    }

    // MARK: Detectors

    /// Fine-tuning pushes the known anomaly class out: on the test set Elsa+ ranks ones (the
    /// labelled anomaly class) far above zeros; the run folder scores the same without the data,
    /// and the same seed gives the same scores.
    @Test func elsaPlusPushesTheKnownAnomalyClassAndReloads() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = try ExperimentData.load("mnist", root: miniData)
        let configuration = Self.run("elsa+")
        let result = try ExperimentRunner(outputRoot: root).run(
            configuration, data: data, method: MethodRegistry.entry(named: "elsa+"))
        let prepared = try DeepDetectorTests.prepared(configuration)
        let labels = try #require(data.sources["test"]).labels
        let classes = prepared.test.sourceIndices.map { labels[$0] }
        let (ones, zeros) = (classes.indices.filter { classes[$0] == 1 }, classes.indices.filter { classes[$0] == 0 })
        let known = try auroc(
            normalScores: zeros.map { result.scores[$0] }, anomalyScores: ones.map { result.scores[$0] },
            orientation: .higherIsAnomalous)
        #expect(known > 0.85, "AUROC zeros vs ones (0.95 measured) \(known)")
        let replay = try RunReplay(directory: result.directory, dataRoot: miniData)
        #expect(try replay.score(prepared.test.samples) == result.scores)
        let again = try ExperimentRunner(outputRoot: root).run(
            configuration, data: data, method: MethodRegistry.entry(named: "elsa+"))
        #expect(again.scores == result.scores)
        // Early stopping recorded its score each epoch, and the epoch it kept (the first with the
        // lowest validation loss) in metrics.json and the report.
        let metrics = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: result.directory.appendingPathComponent("metrics.json")))
                as? [String: Any])
        let validation = try #require(metrics["training"] as? [[String: Any]])
            .filter { $0["phase"] as? String == "finetuning" }
            .compactMap { ($0["losses"] as? [String: Double])?["validation"] }
        #expect(validation.count == Int(Self.budget["finetuning.epochs"]!))
        let lowest = try #require(validation.indices.min { validation[$0] < validation[$1] })
        let kept = try #require((metrics["selectedEpochs"] as? [[String: Any]])?.first)
        #expect(kept["phase"] as? String == "finetuning" && kept["epoch"] as? Int == lowest + 1)
        let report = try String(contentsOf: result.directory.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("kept epoch \(lowest + 1) of \(validation.count)"))
    }

    /// `validationFraction=0` turns early stopping off: no validation score, no kept epoch.
    @Test func noValidationFractionMeansNoEarlyStopping() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try ExperimentRunner(outputRoot: root).run(
            Self.run("elsa", ["validationFraction": "0", "pretraining.epochs": "1", "finetuning.epochs": "2"]),
            data: ExperimentData.load("mnist", root: miniData), method: MethodRegistry.entry(named: "elsa"))
        let metrics = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: result.directory.appendingPathComponent("metrics.json")))
                as? [String: Any])
        let finetuning = try #require(metrics["training"] as? [[String: Any]]).filter { $0["phase"] as? String == "finetuning" }
        #expect(finetuning.count == 2)
        #expect(finetuning.allSatisfy { ($0["losses"] as? [String: Double])?["validation"] == nil })
        #expect(metrics["selectedEpochs"] == nil)
    }

    /// `pretrained=<csi run>`: Elsa starts from that network, adopts its encoder options (the
    /// options given here say ResNet-18; the run is ResNet-8) and its folder reloads. Elsa+ from
    /// a SimCLR run is refused: it has no rotation head.
    @Test func finetunesANamedPretrainingRun() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = try ExperimentData.load("mnist", root: miniData)
        let csiOptions = [
            "encoder.architecture": "resnet8", "training.epochs": "1", "training.batchSize": "32",
            "training.optimizer": "adam", "training.learningRate": "1e-3", "training.warmupEpochs": "0",
            "training.warmupMultiplier": "1", "testViews": "1",
        ]
        func pretrain(_ method: String) throws -> URL {
            let run = RunConfiguration(
                method: method, methodOptions: csiOptions, dataset: "mnist",
                experimentProtocol: .oneClass(OneClassProtocol(normalClass: 0)), seed: 1)
            return try ExperimentRunner(outputRoot: root).run(run, data: data, method: MethodRegistry.entry(named: method))
                .directory
        }
        let csi = try pretrain("csi")
        var options = Self.budget
        options["encoder.architecture"] = "resnet18"
        options["pretrained"] = csi.path
        options["finetuning.epochs"] = "1"
        let configuration = RunConfiguration(
            method: "elsa", methodOptions: options, dataset: "mnist", experimentProtocol: Self.run("elsa").experimentProtocol,
            seed: 1)
        let result = try ExperimentRunner(outputRoot: root).run(configuration, data: data, method: MethodRegistry.entry(named: "elsa"))
        let replay = try RunReplay(directory: result.directory, dataRoot: miniData)
        #expect(try replay.score(DeepDetectorTests.prepared(configuration).test.samples) == result.scores)
        // The report names the encoder the run trained, not the one the options asked for.
        let report = try String(contentsOf: result.directory.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("resnet8") && !report.contains("resnet18"))
        // config.json keeps the options asked for (a resume must match them) and adds the encoder trained.
        let record = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: result.directory.appendingPathComponent("config.json")))
                as? [String: Any])
        let asked = try #require(record["detectorConfiguration"] as? String)
        let fitted = try #require(record["fittedDetectorConfiguration"] as? String)
        #expect(asked.contains("resnet18") && !asked.contains("resnet8\""))
        #expect(fitted.contains("resnet8\"") && !fitted.contains("resnet18"))
        // A run that trained what it was asked for records nothing more.
        let csiRecord = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: csi.appendingPathComponent("config.json"))) as? [String: Any])
        #expect(csiRecord["detectorConfiguration"] != nil && csiRecord["fittedDetectorConfiguration"] == nil)

        let simclr = try pretrain("simclr")
        var plus = Elsa(.plus)
        plus.configuration.pretrained = simclr.path
        let prepared = try DeepDetectorTests.prepared(configuration)
        do {
            try plus.fit(prepared.training, context: TrainingContext(seed: 0))
            Issue.record("Elsa+ accepted a SimCLR network")
        } catch let error as DetectorError {
            #expect(error.description.contains("rotation head"), "\(error)")
        }
    }

    /// Interrupted after a pre-training epoch, and again after fine-tuning epoch 2 (its
    /// prototypes refreshed after epoch 1, the best epoch so far kept in the checkpoint), and
    /// resumed each time, Elsa ends with the scores of an uninterrupted fit.
    @Test func resumedFitScoresLikeAnUninterruptedOne() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let options = Self.budget.merging(["pretraining.epochs": "2", "finetuning.epochs": "3", "prototypeRefresh": "1"]) { $1 }
        let prepared = try DeepDetectorTests.prepared(Self.run("elsa", options))
        let entry = try MethodRegistry.entry(named: "elsa")
        let reference = try entry.make(options: options)
        try reference.fit(prepared.training, context: TrainingContext(seed: 5))
        for (phase, epoch) in [("pretraining", 1), ("finetuning", 2)] {
            #expect(throws: DetectorError.interrupted(phase: phase, completedEpochs: epoch)) {
                try entry.make(options: options).fit(
                    prepared.training,
                    context: TrainingContext(seed: 5, checkpointDirectory: folder, stopRequested: { p, e in p == phase && e == epoch }))
            }
        }
        let resumed = try entry.make(options: options)
        try resumed.fit(prepared.training, context: TrainingContext(seed: 5, checkpointDirectory: folder))
        let context = InferenceContext()
        #expect(try resumed.score(prepared.test.samples, context: context) == reference.score(prepared.test.samples, context: context))
    }
}
