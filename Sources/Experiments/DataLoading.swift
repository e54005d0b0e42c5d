import Datasets
import Foundation

extension ExperimentData {
    /// Loads catalogue data set `name` from `root` (plus the test splits of `anomalySources` for
    /// cross-data-set protocols) and hashes the files it read for the manifest.
    public static func load(_ name: String, root: URL, anomalySources: [String] = []) throws -> ExperimentData {
        var sources: [String: LabeledSamples] = [:]
        var hashes: [String: String] = [:]
        var notes: [String] = []
        switch try DatasetCatalog.load(name, root: root) {
        case .images(let train, let test):
            sources[SplitSource.train] = train
            sources[SplitSource.test] = test
        case .table(let table):
            sources[SplitSource.table] = table.samples
        }
        try hashFiles(of: name, root: root, into: &hashes, notes: &notes)
        for other in anomalySources {
            guard case .images(_, let test) = try DatasetCatalog.load(other, root: root) else {
                throw ExperimentError.invalidArgument("cross-dataset anomaly source '\(other)' must be an image data set")
            }
            sources[other] = test
            try hashFiles(of: other, root: root, into: &hashes, notes: &notes)
        }
        return ExperimentData(name: name, sources: sources, fileHashes: hashes, notes: notes)
    }

    /// SHA-256 of the data files of `name` (the whole data-set folder; for tables, its CSV), by
    /// path relative to the data root (`mnist/train-images-idx3-ubyte.gz`), so that moving the
    /// data root does not invalidate a run's manifest.
    static func hashFiles(of name: String, root: URL, into hashes: inout [String: String], notes: inout [String]) throws {
        let description = try DatasetCatalog.description(of: name)
        let folder = try DatasetCatalog.locate(name, root: root)
        if folder.lastPathComponent == "cifar-10-jpeg" {
            notes.append("CIFAR-10 (JPEG q75): pixels decoded from JPEG copies, approximate; published CIFAR-10 numbers are not matched exactly.")
        }
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { url in
                var isDirectory: ObjCBool = false
                FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
                guard !isDirectory.boolValue, !url.lastPathComponent.hasPrefix(".") else { return false }
                return description.kind == .images || url.lastPathComponent.hasPrefix(name + ".")
            }
            .sorted { $0.path < $1.path }
        let rootPath = root.standardizedFileURL.path
        for file in files {
            let path = file.standardizedFileURL.path
            let relative = path.hasPrefix(rootPath + "/") ? String(path.dropFirst(rootPath.count + 1)) : path
            hashes[relative] = try FileHash.sha256(of: file)
        }
    }
}

/// SHA-256 of a file, streamed.
public enum FileHash {
    public static func sha256(of url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(chunk)
        }
        return hasher.hexDigest()
    }
}
