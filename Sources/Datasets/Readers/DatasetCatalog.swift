import Foundation

/// One data set the catalogue knows: what it is, where its files are looked for, how it reads.
public struct DatasetDescription: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// Images with a train and a test split.
        case images
        /// One table; splitting is left to the experiment protocol.
        case table
    }

    /// The name used on the command line and as the folder name under the data root.
    public let name: String
    public let kind: Kind
    /// One paragraph: source, size, layout, caveats.
    public let summary: String
    /// Folders under the data root searched in this order (the first that holds the files wins).
    public let folderNames: [String]
    /// Class names by label (for tables: `normal`, `anomaly`).
    public let classNames: [String]
    /// Whether `DatasetFetcher` can download it.
    public let isFetchable: Bool

    let format: Format

    enum Format: Sendable, Hashable {
        case idx
        case cifar10
        case cifar100Coarse
        case svhnMat
        case csv(fileName: String)
    }
}

/// A loaded data set: images with train and test splits, or one table.
public enum LoadedDataset: Sendable {
    case images(train: LabeledSamples, test: LabeledSamples)
    case table(LabeledTable)
}

/// The known data sets, by name, and their loaders.
///
/// Files are looked for under a data root (see `DataRoot.resolve`) in a folder per data set,
/// mirroring the shared offline copy: `root/mnist/train-images-idx3-ubyte.gz`,
/// `root/cifar-10/data_batch_1.bin.gz`, `root/tabular/thyroid.csv.gz`, … Every file may be
/// gzip-compressed (`name.gz`) or not (`name`).
public enum DatasetCatalog {
    static let mnistClasses = (0...9).map(String.init)
    static let fashionClasses = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]
    static let cifar10Classes = [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ]
    /// CIFAR-100's 20 superclasses, in label order.
    static let cifar100CoarseClasses = [
        "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
        "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
        "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
        "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
        "vehicles_1", "vehicles_2",
    ]
    static let tableClasses = ["normal", "anomaly"]

    /// Every data set the catalogue knows.
    public static let datasets: [DatasetDescription] = [
        DatasetDescription(
            name: "mnist", kind: .images,
            summary:
                "MNIST handwritten digits (LeCun, Cortes, Burges): 60,000 train and 10,000 test 28×28 grey images, 10 classes; IDX files train-/t10k-images-idx3-ubyte and -labels-idx1-ubyte.",
            folderNames: ["mnist"], classNames: mnistClasses, isFetchable: true, format: .idx),
        DatasetDescription(
            name: "fashion-mnist", kind: .images,
            summary:
                "Fashion-MNIST (Zalando Research, MIT licence): 60,000 train and 10,000 test 28×28 grey images of 10 garment classes; IDX files as MNIST.",
            folderNames: ["fashion-mnist"], classNames: fashionClasses, isFetchable: true, format: .idx),
        DatasetDescription(
            name: "fashion-mnist-demo", kind: .images,
            summary:
                "The first 2,000 train and first 1,000 test images of Fashion-MNIST, shipped with the package in Data/fashion-mnist-demo (MIT licence, Copyright 2017 Zalando SE); used when the data root has no fashion-mnist-demo folder.",
            folderNames: ["fashion-mnist-demo"], classNames: fashionClasses, isFetchable: false, format: .idx),
        DatasetDescription(
            name: "cifar-10", kind: .images,
            summary:
                "CIFAR-10 (Krizhevsky 2009): 32×32 RGB images, 10 classes, binary record files data_batch_1…5 (50,000 train) and test_batch (10,000); loads whichever data_batch_k files are present. The fetched official files are exact. The shared offline copy (folder cifar-10-jpeg) is \"CIFAR-10 (JPEG q75)\": pixels decoded from JPEG copies, approximate (RMSE ≈ 8 grey levels), test records grouped by class; report results on it under that name. The mini subset shipped in Data/mini is exact.",
            folderNames: ["cifar-10", "cifar-10-batches-bin", "cifar-10-jpeg"], classNames: cifar10Classes,
            isFetchable: true, format: .cifar10),
        DatasetDescription(
            name: "cifar-100", kind: .images,
            summary:
                "CIFAR-100 (Krizhevsky 2009): 50,000 train and 10,000 test 32×32 RGB images; binary files train.bin and test.bin. Labels are the 20 coarse superclasses, as in one-class anomaly detection benchmarks (CIFARReader reads the 100 fine labels too).",
            folderNames: ["cifar-100", "cifar-100-binary"], classNames: cifar100CoarseClasses, isFetchable: true,
            format: .cifar100Coarse),
        DatasetDescription(
            name: "svhn", kind: .images,
            summary:
                "SVHN cropped digits (Netzer et al. 2011): 73,257 train and 26,032 test 32×32 RGB images in MATLAB v5 files train_32x32.mat and test_32x32.mat; labels 0–9 (the files' label 10 is digit 0).",
            folderNames: ["svhn"], classNames: mnistClasses, isFetchable: true, format: .svhnMat),
        DatasetDescription(
            name: "thyroid", kind: .table,
            summary:
                "ODDS Thyroid (UCI ann-thyroid, hyperfunction = anomaly) as shipped by ADBench: 3,772 rows, 6 features scaled to [0, 1], 93 anomalies (2.5%); tabular/thyroid.csv.gz, label 1 = anomaly.",
            folderNames: ["tabular", "thyroid"], classNames: tableClasses, isFetchable: false,
            format: .csv(fileName: "thyroid.csv")),
        DatasetDescription(
            name: "arrhythmia", kind: .table,
            summary:
                "ODDS Arrhythmia (UCI; classes 3, 4, 5, 7, 8, 9, 14, 15 = anomaly): 452 rows, 274 features, 66 anomalies (14.6%); tabular/arrhythmia.csv.gz.",
            folderNames: ["tabular", "arrhythmia"], classNames: tableClasses, isFetchable: false,
            format: .csv(fileName: "arrhythmia.csv")),
        DatasetDescription(
            name: "abalone", kind: .table,
            summary:
                "UCI Abalone with DROCC's labelling (rings 8–10 normal, rings 3 and 21 anomaly; sex encoded M=0, F=1, I=2): 1,920 rows, 8 features, 29 anomalies (1.5%); tabular/abalone.csv.gz.",
            folderNames: ["tabular", "abalone"], classNames: tableClasses, isFetchable: false,
            format: .csv(fileName: "abalone.csv")),
        DatasetDescription(
            name: "kddcup99", kind: .table,
            summary:
                "KDD Cup 1999 10% training file with symbolic columns one-hot encoded: 494,021 rows, 118 features; label 1 = `normal.` traffic (the ~20% minority treated as the anomaly class by DAGMM and GOAD); tabular/kddcup99.csv.gz.",
            folderNames: ["tabular", "kddcup99"], classNames: tableClasses, isFetchable: false,
            format: .csv(fileName: "kddcup99.csv")),
    ]

    /// The names of the known data sets, in catalogue order.
    public static var knownNames: [String] { datasets.map(\.name) }

    /// The description of data set `name`; throws `DatasetError.unknownDataset` listing the
    /// known names when there is none.
    public static func description(of name: String) throws -> DatasetDescription {
        guard let found = datasets.first(where: { $0.name == name }) else {
            throw DatasetError.unknownDataset(name: name, knownNames: knownNames)
        }
        return found
    }

    /// The package's own `Data/` folder (the mini subsets and the Fashion-MNIST demo), found
    /// from this source file's location; nil when the sources are not on this machine.
    public static var shippedDataDirectory: URL? {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()  // Readers
            .deletingLastPathComponent()  // Datasets
            .deletingLastPathComponent()  // Sources
            .deletingLastPathComponent()  // package root
            .appendingPathComponent("Data", isDirectory: true)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// Loads data set `name` from under `root`: images as Float values `pixel / 255` in
    /// `[N, C, H, W]`, tables as `[N, d]` with their feature names.
    public static func load(_ name: String, root: URL) throws -> LoadedDataset {
        let dataset = try description(of: name)
        switch dataset.kind {
        case .images:
            let (train, test) = try loadImages(name, root: root)
            return .images(train: train.labeledSamples(), test: test.labeledSamples())
        case .table:
            return .table(try loadTable(name, root: root))
        }
    }

    /// Loads an image data set as 8-bit pixels (a quarter of the memory of `load`).
    public static func loadImages(_ name: String, root: URL) throws -> (
        train: LabeledImageBytes, test: LabeledImageBytes
    ) {
        let dataset = try description(of: name)
        guard dataset.kind == .images else {
            throw DatasetError.mismatch(paths: [root.path], problem: "'\(name)' is a table, not an image data set")
        }
        let folder = try locate(name, root: root)
        switch dataset.format {
        case .idx:
            func pair(_ prefix: String) throws -> LabeledImageBytes {
                try IDXReader.readLabeledImages(
                    images: existingFile(folder, "\(prefix)-images-idx3-ubyte"),
                    labels: existingFile(folder, "\(prefix)-labels-idx1-ubyte"), classNames: dataset.classNames)
            }
            return (try pair("train"), try pair("t10k"))
        case .cifar10:
            let classNames = try namesFile(folder, "batches.meta.txt") ?? dataset.classNames
            let batches = (1...5).compactMap { findFile(folder, "data_batch_\($0).bin") }
            guard !batches.isEmpty else {
                throw DatasetError.fileNotFound(path: folder.appendingPathComponent("data_batch_1.bin.gz").path)
            }
            let train = try CIFARReader.read(files: batches, layout: .cifar10, classNames: classNames)
            let test = try CIFARReader.read(
                at: existingFile(folder, "test_batch.bin"), layout: .cifar10, classNames: classNames)
            return (train, test)
        case .cifar100Coarse:
            let classNames = try namesFile(folder, "coarse_label_names.txt") ?? dataset.classNames
            let train = try CIFARReader.read(
                at: existingFile(folder, "train.bin"), layout: .cifar100Coarse, classNames: classNames)
            let test = try CIFARReader.read(
                at: existingFile(folder, "test.bin"), layout: .cifar100Coarse, classNames: classNames)
            return (train, test)
        case .svhnMat:
            let train = try SVHNReader.read(at: existingFile(folder, "train_32x32.mat"))
            let test = try SVHNReader.read(at: existingFile(folder, "test_32x32.mat"))
            return (train, test)
        case .csv:
            preconditionFailure("unreachable: tables are not images")
        }
    }

    /// Loads a tabular data set (features `[N, d]`, label 1 = anomaly).
    public static func loadTable(_ name: String, root: URL) throws -> LabeledTable {
        let dataset = try description(of: name)
        guard case .csv(let fileName) = dataset.format else {
            throw DatasetError.mismatch(paths: [root.path], problem: "'\(name)' is an image data set, not a table")
        }
        let folder = try locate(name, root: root)
        return try CSVReader.readLabeledTable(
            at: existingFile(folder, fileName), labelColumn: .named("label"), classNames: dataset.classNames)
    }

    /// The folder that holds data set `name`: the first of its folder names under `root` that
    /// contains its first file, then (for `fashion-mnist-demo`) the package's shipped copy.
    public static func locate(_ name: String, root: URL) throws -> URL {
        let dataset = try description(of: name)
        var candidates = dataset.folderNames.map { root.appendingPathComponent($0, isDirectory: true) }
        if name == "fashion-mnist-demo", let shipped = shippedDataDirectory {
            candidates.append(shipped.appendingPathComponent(name, isDirectory: true))
        }
        let marker: String
        switch dataset.format {
        case .idx: marker = "train-images-idx3-ubyte"
        case .cifar10: marker = "test_batch.bin"
        case .cifar100Coarse: marker = "train.bin"
        case .svhnMat: marker = "train_32x32.mat"
        case .csv(let fileName): marker = fileName
        }
        if let found = candidates.first(where: { findFile($0, marker) != nil }) { return found }
        let hint =
            dataset.isFetchable
            ? "Download it with `anomaly datasets fetch \(name)`, or point --data-dir / \(DataRoot.environmentVariable) at a folder that holds \(dataset.folderNames[0])/\(marker)[.gz]."
            : "Copy \(marker).gz into \(root.appendingPathComponent(dataset.folderNames[0]).path), or point --data-dir / \(DataRoot.environmentVariable) at a folder that holds \(dataset.folderNames[0])/\(marker)[.gz]."
        throw DatasetError.datasetNotFound(name: name, searched: candidates.map(\.path), hint: hint)
    }

    /// `folder/name.gz` or `folder/name`, whichever exists (compressed first).
    static func findFile(_ folder: URL, _ name: String) -> URL? {
        for candidate in [name + ".gz", name] {
            let url = folder.appendingPathComponent(candidate)
            if FileManager.default.fileExists(atPath: url.path) { return url }
        }
        return nil
    }

    static func existingFile(_ folder: URL, _ name: String) throws -> URL {
        guard let url = findFile(folder, name) else {
            throw DatasetError.fileNotFound(path: folder.appendingPathComponent(name + "[.gz]").path)
        }
        return url
    }

    private static func namesFile(_ folder: URL, _ name: String) throws -> [String]? {
        let url = folder.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        // A blank names file says nothing: the catalogue's names apply, as for a missing one.
        let names = try CIFARReader.readClassNames(at: url)
        return names.isEmpty ? nil : names
    }
}
