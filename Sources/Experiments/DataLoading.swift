import Datasets
import Foundation

extension ExperimentData {
    /// Loads catalogue data set `name` from `root` (plus the test splits of `anomalySources` for
    /// cross-data-set protocols) and hashes the files it read for the manifest.
    ///
    /// `name` may also be a path to the user's own data (when it names no catalogue data set;
    /// see `loadOwn`). It becomes a table source split by the tabular protocols.
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

    /// The user's own data at `path` (nil when nothing exists there), labels 0 (normal) and 1
    /// (anomaly); data without labels is all normal (one-class training with no anomalies):
    /// - a `.csv[.gz]` table with a header; a `label` column is optional;
    /// - an `.npy` array `[N, …]` (all normal), or an `.npz` archive with `X` `[N, …]` and an
    ///   optional `y` `[N]` (ADBench's layout);
    /// - an IDX image file `*-idx3-ubyte[.gz]`, with labels from the matching `*-idx1-ubyte[.gz]`
    ///   file next to it when there is one (`train-images-…` ↔ `train-labels-…`);
    /// - a folder of PNG images: `normal/` and `abnormal/` sub-folders, or the images directly in
    ///   the folder (all normal).
    /// Image rows (IDX, PNG, arrays of rank > 2) keep their shape and are not standardised;
    /// IDX and PNG pixels are scaled to [0, 1] as the catalogue's images are.
    static func loadOwn(path: String) throws -> ExperimentData? {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let name = url.lastPathComponent.lowercased()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            if path.contains("/") || [".csv", ".csv.gz", ".npy", ".npz"].contains(where: name.hasSuffix) || name.contains("idx3-ubyte") {
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
        } else if name.hasSuffix(".csv") || name.hasSuffix(".csv.gz") {
            // Labels 0 (normal) and 1 (anomaly) only: anything else is refused at the reader, with its line.
            samples = try CSVReader.readLabeledTable(
                at: url, labelColumn: .ifPresent("label"), classNames: ["normal", "anomaly"]
            ).samples
        } else if name.hasSuffix(".npy") {
            samples = try ownSamples(NumpyReader.readArray(at: url), labels: nil, path: url.path)
        } else if name.hasSuffix(".npz") {
            let arrays = try NumpyReader.readArchive(at: url)
            guard let features = arrays["X"] ?? arrays["x"] else {
                throw ExperimentError.invalidArgument(
                    "\(path): an .npz data set needs an array named X (and optionally y); it holds \(arrays.keys.sorted().joined(separator: ", "))")
            }
            samples = try ownSamples(features, labels: arrays["y"] ?? arrays["Y"], path: url.path)
        } else if name.contains("idx3-ubyte") {
            let images = try IDXReader.readImages(at: url)
            var labelsName = url.lastPathComponent.replacingOccurrences(of: "idx3", with: "idx1").replacingOccurrences(of: "images", with: "labels")
            if labelsName.hasSuffix(".gz") { labelsName.removeLast(3) }
            let labelsFile = [labelsName, labelsName + ".gz"].map { url.deletingLastPathComponent().appendingPathComponent($0) }
                .first { FileManager.default.fileExists(atPath: $0.path) }
            var labels = [Int](repeating: 0, count: images.count)
            if let labelsFile {
                labels = try IDXReader.readLabels(at: labelsFile)
                guard labels.count == images.count else {
                    throw ExperimentError.invalidArgument("\(labelsFile.path): \(labels.count) labels for the \(images.count) images of \(url.lastPathComponent)")
                }
                try checkOwnLabels(labels, path: labelsFile.path)
                hashes[labelsFile.lastPathComponent] = try FileHash.sha256(of: labelsFile)
            }
            samples = LabeledSamples(samples: images.normalizedSamples(), labels: labels, classNames: ["normal", "anomaly"])
        } else {
            throw ExperimentError.invalidArgument(
                "\(path): not a data set this tool reads; give a .csv[.gz] table (optional 0/1 'label' column), an .npy/.npz array, an IDX image file, or a folder of PNG images (normal/ and abnormal/ sub-folders, or all normal)")
        }
        if !isDirectory.boolValue { hashes[url.lastPathComponent] = try FileHash.sha256(of: url) }
        guard samples.count > 0 else { throw ExperimentError.invalidArgument("\(path): holds no samples") }
        return ExperimentData(name: ownDataName(url), sources: [SplitSource.table: samples], fileHashes: hashes)
    }

    /// An array `[N, …]` (a 1-d array is N one-feature rows) with its optional labels `[N]`.
    private static func ownSamples(_ array: NumpyArray, labels: NumpyArray?, path: String) throws -> LabeledSamples {
        guard let count = array.shape.first else { throw ExperimentError.invalidArgument("\(path): a 0-d array holds no samples") }
        let shape = array.shape.count == 1 ? [count, 1] : array.shape
        var values = [Int](repeating: 0, count: count)
        if let labels {
            guard labels.shape == [count], let integers = labels.integerValues() else {
                throw ExperimentError.invalidArgument(
                    "\(path): y must hold one integer label per row of X (\(count)); it has shape \(labels.shape)")
            }
            try checkOwnLabels(integers, path: path)
            values = integers
        }
        let features = array.floatValues()
        if let bad = features.firstIndex(where: { !$0.isFinite }) {
            throw ExperimentError.invalidArgument("\(path): value \(bad) is not a finite number (NaN or infinity)")
        }
        return LabeledSamples(samples: Samples(values: features, shape: shape), labels: values, classNames: ["normal", "anomaly"])
    }

    private static func checkOwnLabels(_ labels: [Int], path: String) throws {
        if let bad = labels.firstIndex(where: { $0 != 0 && $0 != 1 }) {
            throw ExperimentError.invalidArgument("\(path): label \(bad) is \(labels[bad]); own data is labelled 0 (normal) or 1 (anomaly)")
        }
    }

    /// A run-folder-friendly name for own data: the file or folder name without extensions,
    /// letters, digits, '-' and '_' only.
    static func ownDataName(_ url: URL) -> String {
        var name = url.lastPathComponent
        for suffix in [".gz", ".csv", ".npy", ".npz"] where name.hasSuffix(suffix) { name = String(name.dropLast(suffix.count)) }
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
