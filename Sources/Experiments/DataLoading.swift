import Datasets
import Foundation

extension ExperimentData {
    /// Loads catalogue data set `name` from `root` (plus the test splits of `anomalySources` for
    /// cross-data-set protocols) and hashes the files it read for the manifest.
    ///
    /// `name` may also be a path to the user's own data (when it names no catalogue data set):
    /// a `.csv[.gz]` table with a 0/1 `label` column, or a folder of PNG images in `normal/` and
    /// `abnormal/` sub-folders. Either becomes a table source split by the tabular protocols
    /// (image rows keep their `[C, H, W]` shape and are not standardised).
    public static func load(_ name: String, root: URL, anomalySources: [String] = []) throws -> ExperimentData {
        if (try? DatasetCatalog.description(of: name)) == nil, let own = try loadOwn(path: name) { return own }
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

    /// The user's own data at `path` (nil when nothing exists there).
    static func loadOwn(path: String) throws -> ExperimentData? {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            if path.contains("/") || path.hasSuffix(".csv") || path.hasSuffix(".csv.gz") {
                throw ExperimentError.invalidArgument("\(path): no such file or folder")
            }
            return nil
        }
        var hashes: [String: String] = [:]
        let samples: LabeledSamples
        if isDirectory.boolValue {
            samples = try ImageFolderReader.read(root: url, layout: .normalAbnormal).labeledSamples()
            let enumerator = FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil)
            while let file = enumerator?.nextObject() as? URL {
                guard file.pathExtension.lowercased() == "png" else { continue }
                hashes[String(file.standardizedFileURL.path.dropFirst(url.path.count + 1))] = try FileHash.sha256(of: file)
            }
        } else if url.lastPathComponent.hasSuffix(".csv") || url.lastPathComponent.hasSuffix(".csv.gz") {
            // Labels 0 (normal) and 1 (anomaly) only: anything else is refused at the reader, with its line.
            samples = try CSVReader.readLabeledTable(
                at: url, labelColumn: .named("label"), classNames: ["normal", "anomaly"]
            ).samples
            hashes[url.lastPathComponent] = try FileHash.sha256(of: url)
        } else {
            throw ExperimentError.invalidArgument(
                "\(path): not a data set this tool reads; give a .csv[.gz] table with a 0/1 'label' column, or a folder with normal/ and abnormal/ PNG sub-folders")
        }
        guard samples.count > 0 else { throw ExperimentError.invalidArgument("\(path): holds no samples") }
        return ExperimentData(name: ownDataName(url), sources: [SplitSource.table: samples], fileHashes: hashes)
    }

    /// A run-folder-friendly name for own data: the file or folder name without extensions,
    /// letters, digits, '-' and '_' only.
    static func ownDataName(_ url: URL) -> String {
        var name = url.lastPathComponent
        for suffix in [".gz", ".csv"] where name.hasSuffix(suffix) { name = String(name.dropLast(suffix.count)) }
        let cleaned = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
        return cleaned.isEmpty ? "data" : cleaned
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
                _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
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
