import Datasets
import Detectors
import Experiments
import Foundation
import Metrics
import Testing

/// The package root, from this file's location.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let miniData = packageRoot.appendingPathComponent("Data/mini")

func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("anomalykit-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite struct RunnerTests {
    let thyroidGOAD = RunConfiguration(
        method: "knn", dataset: "thyroid", experimentProtocol: .tabular(TabularProtocol(rule: .goad(shuffleNormals: false))), seed: 3)

    @Test func runWritesEveryFileAndMatchesTheReference() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = try ExperimentData.load("thyroid", root: miniData)
        let result = try ExperimentRunner(outputRoot: root).run(thyroidGOAD, data: data, method: MethodRegistry.entry(named: "knn"))
        for file in ["manifest.json", "config.json", "scores.csv", "metrics.json", "report.html"] {
            #expect(FileManager.default.fileExists(atPath: result.directory.appendingPathComponent(file).path), "missing \(file)")
        }
        // The classical-detector fixture: PyOD KNN(k=5) on this split reaches 0.9868.
        #expect(abs((result.summary?.auroc ?? .nan) - 0.9868) < 0.001)
        let manifest = try SplitManifest.read(from: result.directory.appendingPathComponent("manifest.json"))
        #expect(manifest.split.unlabeled.count == 1839)
        #expect(manifest.split.test.count == 1840 + 93)
        #expect(manifest.files.values.allSatisfy { $0.count == 64 })
        // No temporary folder is left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty)
        let html = try String(contentsOf: result.directory.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("<svg") && html.contains("ROC curve") && html.contains(String(format: "%.4f", (result.summary?.auroc ?? .nan))))
    }

    @Test func sameSeedSameScoresDifferentSeedDifferentScores() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = try ExperimentData.load("thyroid", root: miniData)
        var configuration = thyroidGOAD
        configuration.method = "iforest"
        let runner = ExperimentRunner(outputRoot: root)
        let entry = try MethodRegistry.entry(named: "iforest")
        let a = try runner.run(configuration, data: data, method: entry)
        let b = try runner.run(configuration, data: data, method: entry)
        configuration.seed = 4
        let c = try runner.run(configuration, data: data, method: entry)
        #expect(a.scores == b.scores)
        #expect(a.scores != c.scores)
        #expect(a.id != b.id)
    }

    @Test func replayRebuildsTheSameDetector() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = try ExperimentData.load("thyroid", root: miniData)
        var configuration = thyroidGOAD
        configuration.method = "iforest"
        let result = try ExperimentRunner(outputRoot: root).run(configuration, data: data, method: MethodRegistry.entry(named: "iforest"))
        let replay = try RunReplay(directory: result.directory, dataRoot: miniData)
        let table = try DatasetCatalog.loadTable("thyroid", root: miniData)
        let test = table.samples.samples.selecting(replay.manifest.split.test)
        #expect(try replay.score(test) == result.scores)
        #expect(throws: ExperimentError.self) { try replay.score(Samples(values: [1, 2], shape: [1, 2])) }
    }

    @Test func failedRunLeavesNothingBehind() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = try ExperimentData.load("thyroid", root: miniData)
        var configuration = thyroidGOAD
        configuration.methodOptions = ["k": "100000"]  // more neighbours than training samples
        #expect(throws: (any Error).self) {
            try ExperimentRunner(outputRoot: root).run(configuration, data: data, method: MethodRegistry.entry(named: "knn"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty)
    }

    @Test func methodOptionsAreParsedAndChecked() throws {
        let entry = try MethodRegistry.entry(named: "knn")
        #expect(entry.options.map(\.name).contains("k"))
        #expect(try entry.make(options: ["k": "3"]).configurationJSON.contains("\"k\":3"))
        #expect(throws: ExperimentError.unknownOption(method: "knn", option: "kk", known: ["aggregation", "k", "metric"])) {
            try entry.make(options: ["kk": "3"])
        }
        #expect(throws: ExperimentError.self) { try entry.make(options: ["k": "three"]) }
        #expect(throws: ExperimentError.self) { try MethodRegistry.entry(named: "no-such-method") }
    }

    @Test func benchTableAggregatesSeeds() {
        let rows = [0.9, 0.8].enumerated().map { i, auc in
            BenchTable.Row(method: "knn", dataset: "thyroid", protocolKind: "tabular", seed: UInt64(i), auroc: auc,
                           averagePrecision: 0.5, f1: 0.5, fitSeconds: 1, runID: "r\(i)")
        }
        let md = BenchTable(rows: rows).markdown()
        // mean 85.0, sample standard deviation 7.1 (in points)
        #expect(md.contains("| knn | thyroid | tabular | 2 | 85.0 ± 7.1 |"))
        #expect(BenchTable(rows: rows).csv().split(separator: "\n").count == 3)
        // One normal class keeps this layout (with AP and F1); two give a column per class.
        var labelled = rows.map { r -> BenchTable.Row in var r = r; r.normalClass = "3"; return r }
        #expect(BenchTable(rows: labelled).markdown().contains("| knn | thyroid | tabular | 2 | 85.0 ± 7.1 |"))
        labelled[1].normalClass = "4"
        #expect(BenchTable(rows: labelled).markdown().hasPrefix("| method | data set | 3 | 4 | mean |"))
    }
}

@Suite struct DeepRunTests {
    /// The autoencoder learns the demo's normal class (AUROC well above chance on real images),
    /// saves its network in the run folder, and the replayed run loads that checkpoint and gives
    /// the same scores.
    @Test func autoencoderLearnsAndItsCheckpointLoadsBack() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let data = try ExperimentData.load("fashion-mnist-demo", root: root)
        let configuration = RunConfiguration(
            method: "autoencoder", methodOptions: ["training.epochs": "30", "training.batchSize": "32"], dataset: "fashion-mnist-demo",
            experimentProtocol: .oneClass(OneClassProtocol(normalClass: 1)), seed: 0)
        let runner = ExperimentRunner(outputRoot: root)
        let test = try runner.prepare(configuration, data: data).test
        let result = try runner.run(configuration, data: data, method: MethodRegistry.entry(named: "autoencoder"))
        #expect((result.summary?.auroc ?? .nan) > 0.85, "AUROC \((result.summary?.auroc ?? .nan))")
        let checkpoint = result.directory.appendingPathComponent(RunDirectory.checkpointName)
        #expect(FileManager.default.fileExists(atPath: checkpoint.path))
        let replay = try RunReplay(directory: result.directory, dataRoot: root)
        #expect(try replay.score(test.samples) == result.scores)
        // A corrupt checkpoint is refused, never loaded.
        let bytes = try Data(contentsOf: checkpoint)
        try bytes.prefix(bytes.count / 2).write(to: checkpoint)
        #expect(throws: (any Error).self) { try RunReplay(directory: result.directory, dataRoot: root) }
    }
}
