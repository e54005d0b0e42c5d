import Datasets
import Detectors
import Experiments
import Foundation
import Testing

/// Thresholds chosen without labelled anomalies, and `anomaly predict`.
@Suite struct ThresholdTests {
    /// Thresholds are NumPy's percentiles of the calibration scores (the Metrics estimator);
    /// their test rates count scores at or above them.
    @Test func thresholdsArePercentilesOfTheCalibrationScores() throws {
        let thresholds = try RunThresholds(calibrationScores: [5, 1, 3, 2, 4], source: "validation")
            .evaluated(scores: [0, 3.5, 6, 4.7], isAnomaly: [false, false, true, true])
        #expect(thresholds.calibrationScores == [1, 2, 3, 4, 5])
        // np.percentile([1, 2, 3, 4, 5], 90) = 4.6
        let fpr10 = try #require(thresholds.thresholds.first { $0.name == "fpr 0.1" })
        #expect(abs(fpr10.threshold - 4.6) < 1e-12 && fpr10.testFalsePositiveRate == 0 && fpr10.testRecall == 1)
        // np.percentile([1, 2, 3, 4, 5], 75) = 4.0
        #expect(try thresholds.threshold(flagging: 0.25) == 4)
        #expect(throws: (any Error).self) { try RunThresholds(calibrationScores: [], source: "training") }
    }

    /// A one-class run with a validation split calibrates on it; metrics.json and the report
    /// show what each threshold achieved on the test set.
    @Test func runsCalibrateOnTheirValidationSplit() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let configuration = RunConfiguration(
            method: "knn", dataset: "mnist",
            experimentProtocol: .oneClass(OneClassProtocol(normalClasses: [1], validationFraction: 0.3)), seed: 2)
        let result = try ExperimentRunner(outputRoot: root)
            .run(configuration, data: ExperimentData.load("mnist", root: miniData), method: MethodRegistry.entry(named: "knn"))
        let thresholds = try #require(try RunThresholds.read(fromRunFolder: result.directory))
        #expect(thresholds.source == "validation")
        let fpr = try #require(thresholds.thresholds.first { $0.name == "fpr 0.05" })
        #expect(try #require(fpr.testFalsePositiveRate) < 0.15)
        let metrics = try String(contentsOf: result.directory.appendingPathComponent("metrics.json"), encoding: .utf8)
        #expect(metrics.contains("testFalsePositiveRate") && !metrics.contains("calibrationScores"))
        let report = try String(contentsOf: result.directory.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("threshold, fpr 0.05 of the validation data"))
        // The gallery of most / least anomalous test images: 8 + 8 inline 28×28 BMPs.
        #expect(report.contains("Most anomalous test images") && report.contains("Least anomalous test images"))
        let uris = report.components(separatedBy: "data:image/bmp;base64,").dropFirst()
        #expect(uris.count == 16)
        let bitmap = try #require(uris.first.flatMap { Data(base64Encoded: String($0.prefix { $0 != "\"" })) })
        #expect(bitmap.count == 54 + 28 * 84 && bitmap.prefix(2) == Data("BM".utf8))
    }

    @Test func predictLabelsAtTheTargetRateAndRejectsBadTargets() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        guard let trained = try runTool(["train", "--method", "pca", "--dataset", "thyroid", "--data-dir", miniData.path], in: dir)
        else {
            Issue.record("the anomaly executable was not built next to the tests")
            return
        }
        #expect(trained.status == 0, "\(trained.stderr)")
        let run = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("runs").path).first)
        let input = miniData.appendingPathComponent("tabular/thyroid.csv.gz").path
        let predicted = try #require(
            try runTool(["predict", "--run", "runs/\(run)", "--input", input, "--fpr", "0.05", "--data-dir", miniData.path], in: dir))
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let rows = predicted.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
        #expect(!rows.isEmpty && rows.allSatisfy { $0.count == 4 && ($0[2] == "0" || $0[2] == "1") })
        #expect(predicted.stderr.contains("fpr 0.05 of the run's training data"), "\(predicted.stderr)")
        for bad in [["--fpr", "1.5"], ["--fpr", "0.1", "--threshold", "2"]] {
            let r = try #require(try runTool(["predict", "--run", "runs/\(run)", "--input", input] + bad, in: dir))
            #expect(r.status != 0 && r.stderr.split(separator: "\n").count <= 3, "\(r.stderr)")
        }
    }
}

/// Every registered method's run folder scores without the training data: classical detectors
/// save their fitted state (trees, support vectors, kernel and feature banks, mixture, PCA
/// basis) at full precision like the deep ones, so the replay loads it instead of refitting.
@Suite struct SelfContainedRunTests {
    static let budgets: [String: [String: String]] = [
        "autoencoder": ["training.epochs": "2"],
        "deepsvdd": ["pretraining.epochs": "1", "training.epochs": "1"],
        "deepsad": ["pretraining.epochs": "1", "training.epochs": "1"],
        "vae": ["training.epochs": "2"], "dagmm": ["training.epochs": "2"], "drocc": ["training.epochs": "2"],
        "cance": ["autoencoder.epochs": "1", "decoder.epochs": "1", "nce.epochs": "1"],
    ]

    /// Image-only methods (the contrastive family) replay their folders in ContrastiveTests.
    static let imageOnly: Set<String> = ["simclr", "csi", "nsa", "elsa", "elsa+", "hscl", "csi-synthetic"]

    @Test(arguments: MethodRegistry.all.map(\.name).filter { !imageOnly.contains($0) })
    func runFolderScoresWithTheDataGone(method: String) throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let dataRoot = root.appendingPathComponent("data/tabular")
        try FileManager.default.createDirectory(at: dataRoot, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: miniData.appendingPathComponent("tabular/thyroid.csv.gz"), to: dataRoot.appendingPathComponent("thyroid.csv.gz"))
        let configuration = RunConfiguration(
            method: method, methodOptions: Self.budgets[method] ?? [:], dataset: "thyroid",
            experimentProtocol: .tabular(TabularProtocol(rule: .goad(shuffleNormals: false))), seed: 1)
        let data = try ExperimentData.load("thyroid", root: root.appendingPathComponent("data"))
        let runner = ExperimentRunner(outputRoot: root.appendingPathComponent("runs"))
        let test = try runner.prepare(configuration, data: data).test
        let result = try runner.run(configuration, data: data, method: MethodRegistry.entry(named: method))
        try FileManager.default.removeItem(at: root.appendingPathComponent("data"))
        let replay = try RunReplay(directory: result.directory, dataRoot: root.appendingPathComponent("data"))
        #expect(replay.prepared == nil, "\(method) refitted instead of loading its model")
        let raw = try DatasetCatalog.loadTable("thyroid", root: miniData).samples.samples.selecting(replay.manifest.split.test)
        #expect(try replay.score(raw) == result.scores)
        #expect(test.samples.count == raw.count)
    }

    /// A run folder that lost its model, or whose manifest was emptied, is refused with a line
    /// naming the file — never refitted from the data that is still there.
    @Test func aRunFolderWithoutItsModelOrManifestIsRefused() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let configuration = RunConfiguration(
            method: "pca", dataset: "thyroid",
            experimentProtocol: .tabular(TabularProtocol(rule: .goad(shuffleNormals: false))), seed: 1)
        let data = try ExperimentData.load("thyroid", root: miniData)
        let result = try ExperimentRunner(outputRoot: root.appendingPathComponent("runs"))
            .run(configuration, data: data, method: MethodRegistry.entry(named: "pca"))
        func refusal(_ damage: (URL) throws -> Void) throws -> String {
            let copy = root.appendingPathComponent("damaged-\(UUID().uuidString)")
            try FileManager.default.copyItem(at: result.directory, to: copy)
            try damage(copy)
            do {
                _ = try RunReplay(directory: copy, dataRoot: miniData)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        let noModel = try refusal { try FileManager.default.removeItem(at: $0.appendingPathComponent("model.safetensors")) }
        #expect(noModel.contains("model.safetensors: missing") && noModel.contains("not retrained"), "\(noModel)")
        let emptied = try refusal { try Data().write(to: $0.appendingPathComponent("manifest.json")) }
        #expect(emptied.contains("manifest.json") && emptied.contains("empty"), "\(emptied)")
    }
}

@Suite struct ManifestPathTests {
    /// File hashes are keyed by path relative to the data root: the same data under another
    /// root gives the same manifest entries.
    @Test func movingTheDataRootKeepsTheManifestValid() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let moved = root.appendingPathComponent("elsewhere/data")
        try FileManager.default.createDirectory(at: moved.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: miniData, to: moved)
        let original = try ExperimentData.load("thyroid", root: miniData).fileHashes
        let copy = try ExperimentData.load("thyroid", root: moved).fileHashes
        #expect(original == copy)
        #expect(Array(original.keys) == ["tabular/thyroid.csv.gz"])
    }
}


@Suite struct RunFolderNamingTests {
    /// Runs started in the same second with the same method, data set and seed get their own
    /// folders; an existing partial folder is never reused or deleted.
    @Test func sameSecondRunsGetTheirOwnFolders() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let date = Date()
        let base = try RunDirectory.newIdentifier(in: root, method: "knn", dataset: "thyroid", seed: 0, date: date)
        try FileManager.default.createDirectory(at: root.appendingPathComponent(".\(base).partial"), withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: root.appendingPathComponent(".\(base).partial/marker"))
        let folders = try (0..<3).map { _ in try RunDirectory.createPartial(in: root, method: "knn", dataset: "thyroid", seed: 0) }
        #expect(Set(folders.map(\.id)).count == 3 && !folders.map(\.id).contains(base))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent(".\(base).partial/marker").path))
    }
}
