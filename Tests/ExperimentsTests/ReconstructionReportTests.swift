import Datasets
import Detectors
import Experiments
import Foundation
import Layers
import Tensors
import TestSupport
import Testing

/// The autoencoder family shows in its report what its score measures: test images next to
/// their reconstructions (and the VAE's own samples).
@Suite struct ReconstructionReportTests {
    /// Values in [0, 1] are shown as they are; others are stretched by their joint range.
    @Test func unitRangeKeepsUnitValuesAndStretchesOthers() {
        #expect(ReportImages.unitRange([0, 0.25, 1]) == [0, 0.25, 1])
        #expect(ReportImages.unitRange([-1, 0, 3]) == [0, 0.25, 1])
        #expect(ReportImages.unitRange([2, 2]) == [0.5, 0.5])
        #expect(ReportImages.unitRange([0.5, .nan, 2.5]) == [0, 0, 1])
    }

    /// Each test image is followed by the autoencoder's reconstruction of exactly that image, the
    /// pair in the network's input scale (here standardised per channel) stretched together.
    @Test func autoencoderPairsEachTestImageWithItsReconstruction() throws {
        let prepared = try DeepDetectorTests.prepared(DeepDetectorTests.mnistRun("autoencoder"))
        var configuration = AutoencoderDetector.Configuration()
        configuration.preprocessing = .channelStandardization
        configuration.training = TrainingOptions(epochs: 2, batchSize: 32, learningRate: 1e-3)
        var detector = AutoencoderDetector(configuration)
        try detector.fit(prepared.training, context: TrainingContext(seed: 0))
        let shown = prepared.test.samples.selecting([0, 1, 900])
        let sets = try detector.reportImages(of: shown, count: 8, context: InferenceContext(seed: 0))
        #expect(sets.count == 1 && sets[0].images.shape == [6, 1, 28, 28])
        #expect(sets[0].captions == ["test #0", "reconstruction of #0", "test #1", "reconstruction of #1", "test #2", "reconstruction of #2"])
        let state = try #require(detector.state)
        let width = 28 * 28
        for i in 0..<3 {
            let x = state.scaling(Tensor(Array(shown.values[(i * width)..<((i + 1) * width)]), shape: [1, 1, 28, 28]))
            let expected = ReportImages.unitRange(x.toArray() + withoutGradients { state.autoencoder(x) }.toArray())
            let pair = Array(sets[0].images.values[(2 * i * width)..<((2 * i + 2) * width)])
            #expect(zip(pair, expected).allSatisfy { abs($0 - $1) <= 1e-6 }, "pair \(i)")
            #expect(pair.contains(0) && pair.contains(1))  // standardised values are not in [0, 1]: stretched
        }
        // Fewer images asked than given; tables have none to show.
        #expect(try detector.reportImages(of: shown, count: 2, context: InferenceContext())[0].images.count == 4)
        let table = try ExperimentRunner(outputRoot: FileManager.default.temporaryDirectory).prepare(
            RunConfiguration(method: "autoencoder", dataset: "thyroid", experimentProtocol: .tabular(TabularProtocol(rule: .drocc)), seed: 0),
            data: ExperimentData.load("thyroid", root: miniData))
        var tabular = AutoencoderDetector(configuration)
        try tabular.fit(table.training, context: TrainingContext(seed: 0))
        #expect(try tabular.reportImages(of: table.test.samples, count: 8, context: InferenceContext()).isEmpty)
    }

    /// The VAE shows its seeded samples and its reconstructions; loaded back from its file it
    /// shows the same images, another seed draws other samples and the same reconstructions.
    @Test func vaeShowsSamplesAndReconstructionsThatLoadBack() throws {
        let prepared = try DeepDetectorTests.prepared(DeepDetectorTests.mnistRun("vae"))
        var configuration = VAE.Configuration()
        configuration.training = TrainingOptions(epochs: 2, batchSize: 32, learningRate: 1e-3)
        var detector = VAE(configuration)
        try detector.fit(prepared.training, context: TrainingContext(seed: 0))
        let shown = prepared.test.samples.selecting([0, 900])
        let sets = try detector.reportImages(of: shown, count: 4, context: InferenceContext(seed: 3))
        #expect(sets.map(\.images.shape) == [[4, 1, 28, 28], [4, 1, 28, 28]])
        #expect(sets.allSatisfy { $0.images.values.allSatisfy { $0 >= 0 && $0 <= 1 } && $0.captions.count == $0.images.count })
        #expect(sets[1].images.selecting([0, 2]) == shown)  // Bernoulli VAE: inputs in [0, 1], shown unchanged
        let file = try temporaryFolder().appendingPathComponent("vae.safetensors")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        try detector.saveFittedState(to: file)
        var restored = VAE(configuration)
        try restored.loadFittedState(from: file)
        let again = try restored.reportImages(of: shown, count: 4, context: InferenceContext(seed: 3))
        #expect(again.map(\.images) == sets.map(\.images))
        let other = try restored.reportImages(of: shown, count: 4, context: InferenceContext(seed: 4))
        #expect(other[0].images != sets[0].images && other[1].images == sets[1].images)
    }

    /// Through the runner: the run's report.html carries the reconstructions of CANCE and the
    /// autoencoder (4 normal + 4 anomalous test images, each with its reconstruction).
    @Test(arguments: ["autoencoder", "cance"])
    func runReportsShowReconstructions(method: String) throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let options = method == "cance" ? ["autoencoder.epochs": "2", "decoder.epochs": "1", "nce.epochs": "2"] : ["training.epochs": "2"]
        let configuration = RunConfiguration(
            method: method, methodOptions: options, dataset: "mnist",
            experimentProtocol: .oneClass(OneClassProtocol(normalClass: 0)), seed: 0)
        let result = try ExperimentRunner(outputRoot: root).run(
            configuration, data: ExperimentData.load("mnist", root: miniData), method: MethodRegistry.entry(named: method))
        let report = try String(contentsOf: result.directory.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("Test images and their reconstructions"))
        #expect(report.components(separatedBy: "<figure class=\"made\">").count - 1 == 16)
    }
}
