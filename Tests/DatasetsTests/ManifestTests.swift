import Foundation
import Testing

import Datasets

@Suite("Split manifest: JSON, atomic write, checked read")
struct ManifestTests {
    let date = Date(timeIntervalSince1970: 1_714_564_800)  // 2024-05-01T12:00:00Z
    let tool = ToolInfo(name: "anomaly", version: "0.1.0")
    let files = [
        "cifar-10-batches-bin/data_batch_1.bin": String(repeating: "ab", count: 32),
        "cifar-10-batches-bin/test_batch.bin": String(repeating: "0F", count: 32),
    ]
    let setting = ExperimentProtocol.semiSupervised(
        .elsa(normalClass: 0, knownAnomalyClass: 1, labeledRatio: 0.05, pollutionRatio: 0.1))

    func manifest(seed: UInt64) throws -> SplitManifest {
        try SplitManifest.make(
            dataset: "cifar10", files: files, experimentProtocol: setting, seed: seed,
            trainLabels: SyntheticLabels.cifar10Train, testLabels: SyntheticLabels.cifar10Test,
            tool: tool, createdAt: date)
    }

    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("manifest-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("Write then read gives the same manifest; no temporary file is left behind")
    func roundTrip() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("split.json")
        let original = try manifest(seed: 5)
        try original.write(to: url)
        try original.write(to: url)  // replacing an existing file works too
        #expect(try SplitManifest.read(from: url) == original)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["split.json"])
    }

    @Test("The GEMM kernels are recorded under tool; a manifest without them (older) reads as nil")
    func gemmKernels() throws {
        var recorded = try manifest(seed: 5)
        recorded.tool.gemm = "OpenBLAS (libopenblas.so.0, Haswell kernels)"
        let text = String(decoding: try recorded.jsonData(), as: UTF8.self)
        #expect(text.contains("\"gemm\" : \"OpenBLAS (libopenblas.so.0, Haswell kernels)\""))
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("manifest.json")
        try recorded.write(to: url)
        #expect(try SplitManifest.read(from: url).tool.gemm == "OpenBLAS (libopenblas.so.0, Haswell kernels)")
        try manifest(seed: 5).write(to: url)
        #expect(!(try String(contentsOf: url, encoding: .utf8)).contains("gemm"))
        #expect(try SplitManifest.read(from: url).tool.gemm == nil)
    }

    @Test("JSON: sorted keys, pretty printed, ISO 8601 date, lowercase hashes, protocol by kind")
    func jsonLayout() throws {
        let text = String(decoding: try manifest(seed: 5).jsonData(), as: UTF8.self)
        #expect(text.contains("\"createdAt\" : \"2024-05-01T12:00:00Z\""))
        #expect(text.contains("\"kind\" : \"semiSupervised\""))
        #expect(text.contains(String(repeating: "0f", count: 32)))
        #expect(text.contains("\n  \"dataset\" : \"cifar10\""))
        let topKeys = [
            "createdAt", "dataset", "files", "formatVersion", "protocol", "seed", "split", "summary", "tool",
        ]
        let positions = topKeys.map { text.range(of: "\n  \"\($0)\" :")!.lowerBound }
        #expect(positions == positions.sorted())
        #expect(text.contains("\"labeledNormal\" : 290"))  // the summary block
    }

    @Test("Same seed, identical bytes; different seed, different indices")
    func determinism() throws {
        #expect(try manifest(seed: 9).jsonData() == manifest(seed: 9).jsonData())
        let a = try manifest(seed: 9)
        let b = try manifest(seed: 10)
        #expect(a.split.labeledNormal != b.split.labeledNormal)
        #expect(a.split.pollution != b.split.pollution)
        #expect(a.split.roleCounts == b.split.roleCounts)
    }

    @Test(
        "Every protocol kind survives encoding",
        arguments: [
            ExperimentProtocol.oneClass(OneClassProtocol(normalClass: 2)),
            .oneVsRest(OneVsRestProtocol(anomalyClass: 4)),
            .contaminatedOneClass(ContaminatedOneClassProtocol(normalClass: 1, pollutionRatio: 0.05, rule: .nsa)),
            .semiSupervised(.hscl(normalClasses: [3], pollutionRatio: 0.1)),
            .crossDataset(.mnistC()),
            .tabular(TabularProtocol(rule: .goad(shuffleNormals: false))),
            .tabular(TabularProtocol(rule: .adbench(testFraction: 0.25))),
            .tabular(TabularProtocol(rule: .drocc)),
        ])
    func protocolCoding(_ value: ExperimentProtocol) throws {
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(ExperimentProtocol.self, from: data) == value)
    }

    @Test("The full UInt64 seed range round-trips")
    func largeSeed() throws {
        let value = try SplitManifest(
            dataset: "thyroid", files: [:], experimentProtocol: .tabular(TabularProtocol(rule: .drocc)),
            seed: .max, split: TabularProtocol(rule: .drocc).makeSplit(labels: SyntheticLabels.thyroid, seed: .max),
            tool: tool, createdAt: date)
        #expect(try SplitManifest.decode(value.jsonData()) == value)
    }

    @Test("Corrupt, tampered, missing files give errors naming the file")
    func corruptFiles() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("split.json")
        let data = try manifest(seed: 1).jsonData()

        try data.prefix(data.count / 2).write(to: url)
        let truncated = #expect(throws: SplitManifestError.self) { try SplitManifest.read(from: url) }
        guard case .corrupt(let path, _) = truncated else {
            Issue.record("expected corrupt, got \(String(describing: truncated))")
            return
        }
        #expect(path == url.path)

        // Overlapping roles are caught on reading.
        var text = String(decoding: data, as: UTF8.self)
        let first = try manifest(seed: 1).split.labeledNormal[0]
        text = text.replacingOccurrences(
            of: "\"labeledAnomalies\" : [\n      ", with: "\"labeledAnomalies\" : [\n      \(first),\n      ")
        try Data(text.utf8).write(to: url)
        let tampered = #expect(throws: SplitManifestError.self) { try SplitManifest.read(from: url) }
        #expect(tampered?.description.contains("share samples") == true)

        let missing = folder.appendingPathComponent("absent.json")
        let unreadable = #expect(throws: SplitManifestError.self) { try SplitManifest.read(from: missing) }
        guard case .unreadable(let missingPath, _) = unreadable else {
            Issue.record("expected unreadable, got \(String(describing: unreadable))")
            return
        }
        #expect(missingPath == missing.path)
    }

    @Test("A manifest from a newer format version is refused")
    func newerVersion() throws {
        let text = String(decoding: try manifest(seed: 1).jsonData(), as: UTF8.self)
            .replacingOccurrences(of: "\"formatVersion\" : 1", with: "\"formatVersion\" : 2")
        let error = #expect(throws: SplitManifestError.self) {
            try SplitManifest.decode(Data(text.utf8), path: "m.json")
        }
        #expect(error?.description.contains("m.json") == true)
        #expect(error?.description.contains("format version 2") == true)
    }

    @Test("Writing into a missing folder fails with the path")
    func writeFailure() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("no-such-folder-\(UUID().uuidString)/split.json")
        #expect(throws: SplitManifestError.self) { try manifest(seed: 1).write(to: url) }
    }

    @Test("Hashes are checked and compared")
    func hashes() throws {
        #expect(throws: SplitManifestError.invalidHash(file: "a.bin", value: "xyz")) {
            try SplitManifest(
                dataset: "d", files: ["a.bin": "xyz"], experimentProtocol: setting, seed: 0,
                split: Split(unlabeled: [], test: [], testIsAnomaly: []), tool: tool, createdAt: date)
        }
        let value = try manifest(seed: 0)
        var current = files
        #expect(value.mismatchedFiles(currentHashes: current).isEmpty)
        current["cifar-10-batches-bin/test_batch.bin"] = String(repeating: "1", count: 64)
        #expect(value.mismatchedFiles(currentHashes: current) == ["cifar-10-batches-bin/test_batch.bin"])
    }
}
