import Datasets
import Experiments
import Foundation
import Testing

/// `--dataset PATH`: the user's own CSV, .npy/.npz, IDX and PNG data, with or without labels;
/// data with no anomalies at all trains one-class, calibrates its thresholds and reports their
/// false-positive rates instead of AUROC.
@Suite struct OwnDataTests {
    static let goad = ExperimentProtocol.tabular(TabularProtocol(rule: .goad(shuffleNormals: false)))

    /// Mini thyroid's rows and labels.
    static func thyroid() throws -> LabeledSamples {
        try DatasetCatalog.loadTable("thyroid", root: miniData).samples
    }

    static func run(_ dataset: String, method: String = "pca", in root: URL, protocol kind: ExperimentProtocol = goad) throws
        -> (RunResult, ExperimentData)
    {
        let data = try ExperimentData.load(dataset, root: miniData)
        let configuration = RunConfiguration(
            method: method, methodOptions: method == "knn" ? ["k": "1"] : [:], dataset: dataset, experimentProtocol: kind, seed: 1)
        let result = try ExperimentRunner(outputRoot: root.appendingPathComponent("runs"))
            .run(configuration, data: data, method: MethodRegistry.entry(named: method))
        return (result, data)
    }

    /// A CSV of normal rows without a label column: trained on half, tested on the other half;
    /// no AUROC anywhere, the thresholds' test FPR instead; the folder scores on its own.
    @Test func aCSVWithoutLabelsTrainsOneClass() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let table = try Self.thyroid()
        let normals = table.samples.selecting(table.labels.indices.filter { table.labels[$0] == 0 })
        let file = root.appendingPathComponent("normals.csv")
        try ServingTests.csv(normals).write(to: file)
        let (result, data) = try Self.run(file.path, in: root)
        #expect(data.sources[SplitSource.table]?.labels.allSatisfy { $0 == 0 } == true)
        #expect(result.summary == nil && result.scores.count == normals.count - normals.count / 2)
        let thresholds = try #require(try RunThresholds.read(fromRunFolder: result.directory))
        let rate = try #require(thresholds.thresholds.first { $0.name == "fpr 0.05" }?.testFalsePositiveRate)
        #expect(rate > 0 && rate < 0.2, "test FPR \(rate) at the 5 % target")
        let metrics = try String(contentsOf: result.directory.appendingPathComponent("metrics.json"), encoding: .utf8)
        #expect(!metrics.contains("auroc") && metrics.contains("testFalsePositiveRate"))
        let report = try String(contentsOf: result.directory.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("no labelled anomalies") && !report.contains("ROC curve"))
        let replay = try RunReplay(directory: result.directory, dataRoot: miniData)
        #expect(try replay.score(normals.selecting(replay.manifest.split.test)) == result.scores)
    }

    /// The same rows as .npy (no labels) or .npz (X and y) train exactly as the CSV does.
    @Test func npyAndNpzTrainAsTheCSV() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let table = try Self.thyroid()
        try ServingTests.csv(table.samples).write(to: root.appendingPathComponent("rows.csv"))
        try ServingTests.npy(table.samples).write(to: root.appendingPathComponent("rows.npy"))
        try ServingTests.csv(table.samples, labels: table.labels).write(to: root.appendingPathComponent("labelled.csv"))
        let labels = Samples(values: table.labels.map(Float.init), shape: [table.count])
        try Self.storedZip([("X.npy", ServingTests.npy(table.samples)), ("y.npy", ServingTests.npy(labels))])
            .write(to: root.appendingPathComponent("labelled.npz"))

        let unlabelled = try ["rows.csv", "rows.npy"].map { try Self.run(root.appendingPathComponent($0).path, in: root).0 }
        #expect(unlabelled[0].summary == nil && unlabelled[0].scores == unlabelled[1].scores)
        let labelled = try ["labelled.csv", "labelled.npz"].map { try Self.run(root.appendingPathComponent($0).path, in: root).0 }
        #expect(labelled[0].scores == labelled[1].scores)
        #expect(abs((labelled[1].summary?.auroc ?? 0) - (labelled[0].summary?.auroc ?? 1)) == 0)
        #expect(labelled[1].isAnomaly.contains(true))
    }

    /// An IDX image file reads as [1, 28, 28] rows scaled to [0, 1], all normal; a matching
    /// labels file next to it supplies 0/1 labels, and other labels are refused.
    @Test func idxImagesWithAndWithoutTheirLabels() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let images = root.appendingPathComponent("own-images-idx3-ubyte.gz")
        try FileManager.default.copyItem(at: miniData.appendingPathComponent("mnist/t10k-images-idx3-ubyte.gz"), to: images)
        let all = try #require(try ExperimentData.load(images.path, root: miniData).sources[SplitSource.table])
        #expect(all.samples.sampleShape == [1, 28, 28] && all.labels.allSatisfy { $0 == 0 })
        #expect(all.samples.values.allSatisfy { $0 >= 0 && $0 <= 1 } && all.samples.values.contains(1))

        let digits = try IDXReader.readLabels(at: miniData.appendingPathComponent("mnist/t10k-labels-idx1-ubyte.gz"))
        let labelsFile = root.appendingPathComponent("own-labels-idx1-ubyte")
        func writeLabels(_ labels: [Int]) throws {
            var bytes: [UInt8] = [0, 0, 8, 1] + withUnsafeBytes(of: UInt32(labels.count).bigEndian, Array.init)
            bytes += labels.map(UInt8.init)
            try Data(bytes).write(to: labelsFile)
        }
        try writeLabels(digits.map { $0 == 0 ? 0 : 1 })
        let labelled = try #require(try ExperimentData.load(images.path, root: miniData).sources[SplitSource.table])
        #expect(labelled.labels == digits.map { $0 == 0 ? 0 : 1 }, "labels of the matching file expected")
        try writeLabels(digits)
        #expect {
            try ExperimentData.load(images.path, root: miniData)
        } throws: { "\($0)".contains("own data is labelled 0 (normal) or 1 (anomaly)") }
    }

    /// A folder of PNGs with no sub-folders is all normal, and trains.
    @Test func aFolderOfNormalImagesTrains() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("normals")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for index in 0..<3 {
            try FileManager.default.copyItem(
                at: ServingTests.pngFolder.appendingPathComponent("normal/img\(index).png"),
                to: folder.appendingPathComponent("img\(index).png"))
        }
        let (result, data) = try Self.run(folder.path, method: "knn", in: root)
        #expect(data.sources[SplitSource.table]?.samples.shape == [3, 1, 5, 5])
        #expect(result.summary == nil && result.scores.count == 2 && data.fileHashes.count == 3)
    }

    /// What cannot work without anomalies, or with other labels, says so in one line.
    @Test func refusalsNameTheProblem() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let table = try Self.thyroid()
        let file = root.appendingPathComponent("rows.csv")
        try ServingTests.csv(table.samples).write(to: file)
        #expect {
            try Self.run(file.path, in: root, protocol: .tabular(TabularProtocol(rule: .drocc)))
        } throws: { "\($0)".contains("no anomalous (1) rows; use --tabular-rule goad") }
        let three = Samples(values: [0, 1, 2], shape: [3])
        try Self.storedZip([("X.npy", ServingTests.npy(table.samples.selecting([0, 1, 2]))), ("y.npy", ServingTests.npy(three))])
            .write(to: root.appendingPathComponent("bad.npz"))
        #expect {
            try ExperimentData.load(root.appendingPathComponent("bad.npz").path, root: miniData)
        } throws: { "\($0)".contains("label 2 is 2") }
        try Self.storedZip([("features.npy", ServingTests.npy(three))]).write(to: root.appendingPathComponent("nox.npz"))
        #expect {
            try ExperimentData.load(root.appendingPathComponent("nox.npz").path, root: miniData)
        } throws: { "\($0)".contains("needs an array named X") }

        guard let bench = try runTool(["bench", "--methods", "pca", "--datasets", file.path, "--data-dir", miniData.path], in: root) else {
            Issue.record("the anomaly executable was not built next to the tests")
            return
        }
        #expect(bench.status != 0 && bench.stderr.contains("has no anomalies, and bench compares AUROC"), "\(bench.stderr)")
        // Refused before training: no run was written.
        #expect((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("runs").path))?.isEmpty ?? true)
        let train = try #require(try runTool(["train", "--method", "pca", "--dataset", file.path, "--data-dir", miniData.path], in: root))
        #expect(train.status == 0 && train.stdout.contains("no anomalies in the test set, so no AUROC"), "\(train.stderr)")
    }

    /// A labelled CSV (any file name) scores exactly as the catalogue's copy of the table.
    @Test func aLabelledCSVRunsExactlyLikeTheCatalogueTable() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let path = root.appendingPathComponent("my data.csv.gz")
        try FileManager.default.copyItem(at: miniData.appendingPathComponent("tabular/thyroid.csv.gz"), to: path)
        let own = try ExperimentData.load(path.path, root: miniData)
        #expect(own.name == "my-data" && Array(own.fileHashes.keys) == ["my data.csv.gz"])
        let runner = ExperimentRunner(outputRoot: root.appendingPathComponent("runs"))
        let entry = try MethodRegistry.entry(named: "iforest")
        let mine = try runner.run(
            RunConfiguration(method: "iforest", dataset: path.path, experimentProtocol: Self.goad), data: own, method: entry)
        let catalogue = try runner.run(
            RunConfiguration(method: "iforest", dataset: "thyroid", experimentProtocol: Self.goad),
            data: ExperimentData.load("thyroid", root: miniData), method: entry)
        #expect(mine.scores == catalogue.scores)
        #expect(mine.directory.lastPathComponent.hasSuffix("-iforest-my-data-s0"))
    }

    /// A folder with normal/ and abnormal/ PNGs becomes image rows (shape kept, no
    /// standardisation) split by the tabular protocol.
    @Test func aPNGFolderIsSplitLikeATable() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DatasetsTests/Fixtures/readers/folder_normal_abnormal")
        let data = try ExperimentData.load(folder.path, root: miniData)
        let table = try #require(data.sources[SplitSource.table])
        #expect(table.samples.shape == [5, 1, 5, 5] && table.labels == [0, 0, 0, 1, 1])
        let configuration = RunConfiguration(
            method: "knn", methodOptions: ["k": "1"], dataset: folder.path, experimentProtocol: Self.goad)
        let prepared = try ExperimentRunner(outputRoot: FileManager.default.temporaryDirectory).prepare(configuration, data: data)
        #expect(prepared.standardizer == nil && prepared.training.unlabeled.sampleShape == [1, 5, 5])
        #expect(prepared.test.isAnomaly.filter { $0 }.count == 2)
    }

    @Test func aMissingOrUnreadablePathIsNamed() throws {
        for (path, message) in [("/no/such/data.csv", "no such file or folder"), (#filePath, "not a data set this tool reads")] {
            do {
                _ = try ExperimentData.load(path, root: miniData)
                Issue.record("\(path) accepted")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
    }

    /// A zip archive of stored (uncompressed) entries, as `numpy.savez` writes.
    static func storedZip(_ entries: [(name: String, content: Data)]) -> Data {
        func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
        var archive = Data()
        var central = Data()
        for (name, content) in entries {
            let crc = crc32(content)
            let offset = UInt32(archive.count)
            let common: [UInt8] = le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(crc)
                + le(UInt32(content.count)) + le(UInt32(content.count)) + le(UInt16(name.utf8.count)) + le(UInt16(0))
            archive.append(contentsOf: le(UInt32(0x0403_4b50)) + common)
            archive.append(Data(name.utf8))
            archive.append(content)
            central.append(contentsOf: le(UInt32(0x0201_4b50)) + le(UInt16(20)) + common + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0))
                + le(UInt32(0)) + le(offset))
            central.append(Data(name.utf8))
        }
        let centralOffset = UInt32(archive.count)
        archive.append(central)
        archive.append(contentsOf: le(UInt32(0x0605_4b50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(entries.count))
            + le(UInt16(entries.count)) + le(UInt32(central.count)) + le(centralOffset) + le(UInt16(0)))
        return archive
    }

    static func crc32(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        return ~crc
    }
}
