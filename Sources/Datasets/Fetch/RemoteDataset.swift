import Foundation

/// One file of a data set on a web server.
public struct RemoteFile: Sendable, Hashable {
    /// Path relative to the data set's base URL; also the local file name.
    public var fileName: String
    /// SHA-256 of the file as downloaded (lower-case hex), when known.
    public var sha256: String?
    /// SHA-256 of the gunzipped content, for `.gz` files whose compressed bytes vary between
    /// mirrors but whose content is pinned.
    public var uncompressedSHA256: String?
    /// Size in bytes of the download, when known.
    public var byteCount: Int64?

    public init(fileName: String, sha256: String? = nil, uncompressedSHA256: String? = nil, byteCount: Int64? = nil) {
        precondition(
            sha256 != nil || uncompressedSHA256 != nil, "RemoteFile \(fileName): give at least one SHA-256 to verify")
        self.fileName = fileName
        self.sha256 = sha256
        self.uncompressedSHA256 = uncompressedSHA256
        self.byteCount = byteCount
    }
}

/// A data set's download: its files on a server, and how to unpack them into the folder the
/// catalogue reads (`root/<name>/`).
public struct RemoteDataset: Sendable, Hashable {
    /// Regular files to extract from a downloaded `.tar.gz`.
    public struct TarExtraction: Sendable, Hashable {
        /// The archive, one of `files`.
        public var archiveName: String
        /// Only members under this path are extracted, written flat (without the prefix).
        public var memberPrefix: String
        /// Files that must exist after extraction; extraction is skipped when they all do.
        public var expectedFiles: [String]

        public init(archiveName: String, memberPrefix: String, expectedFiles: [String]) {
            self.archiveName = archiveName
            self.memberPrefix = memberPrefix
            self.expectedFiles = expectedFiles
        }
    }

    /// Catalogue name, and the folder under the data root.
    public var name: String
    /// The folder URL the file names are relative to (ends with `/`).
    public var baseURL: URL
    public var files: [RemoteFile]
    public var extraction: TarExtraction?

    public init(name: String, baseURL: URL, files: [RemoteFile], extraction: TarExtraction? = nil) {
        self.name = name
        self.baseURL = baseURL
        self.files = files
        self.extraction = extraction
    }
}

extension RemoteDataset {
    /// The official downloads.
    ///
    /// About the hashes: the hosts publish no SHA-256 values (torchvision pins MD5s). The
    /// `sha256` values below are those pinned, identically, by several independent public
    /// projects (torchvision ports, TensorFlow Datasets users, download scripts); they were not
    /// computed here, because these hosts cannot be reached from where this was written.
    /// For MNIST and Fashion-MNIST the SHA-256 of the *uncompressed* files is checked as
    /// well: those values were computed here on exact copies (see Data/README.md and the
    /// shared data README), so a download is verified by two independent pins.
    public static let official: [RemoteDataset] = [
        RemoteDataset(
            name: "mnist",
            // LeCun's own site is often unavailable; this is the mirror torchvision uses.
            baseURL: URL(string: "https://ossci-datasets.s3.amazonaws.com/mnist/")!,
            files: [
                RemoteFile(
                    fileName: "train-images-idx3-ubyte.gz",
                    sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                    uncompressedSHA256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                    byteCount: 9_912_422),
                RemoteFile(
                    fileName: "train-labels-idx1-ubyte.gz",
                    sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                    uncompressedSHA256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                    byteCount: 28_881),
                RemoteFile(
                    fileName: "t10k-images-idx3-ubyte.gz",
                    sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                    uncompressedSHA256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                    byteCount: 1_648_877),
                RemoteFile(
                    fileName: "t10k-labels-idx1-ubyte.gz",
                    sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                    uncompressedSHA256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                    byteCount: 4_542),
            ]),
        RemoteDataset(
            name: "fashion-mnist",
            baseURL: URL(string: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")!,
            files: [
                RemoteFile(
                    fileName: "train-images-idx3-ubyte.gz",
                    sha256: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                    uncompressedSHA256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                    byteCount: 26_421_880),
                RemoteFile(
                    fileName: "train-labels-idx1-ubyte.gz",
                    sha256: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                    uncompressedSHA256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                    byteCount: 29_515),
                RemoteFile(
                    fileName: "t10k-images-idx3-ubyte.gz",
                    sha256: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                    uncompressedSHA256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                    byteCount: 4_422_102),
                RemoteFile(
                    fileName: "t10k-labels-idx1-ubyte.gz",
                    sha256: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                    uncompressedSHA256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                    byteCount: 5_148),
            ]),
        RemoteDataset(
            name: "cifar-10",
            baseURL: URL(string: "https://www.cs.toronto.edu/~kriz/")!,
            files: [
                // MD5 c32a1d4ab5d03f1284b67883e8d87530 on the CIFAR page.
                RemoteFile(
                    fileName: "cifar-10-binary.tar.gz",
                    sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
                    byteCount: 170_052_171)
            ],
            extraction: TarExtraction(
                archiveName: "cifar-10-binary.tar.gz", memberPrefix: "cifar-10-batches-bin/",
                expectedFiles: (1...5).map { "data_batch_\($0).bin" } + ["test_batch.bin", "batches.meta.txt"])),
        RemoteDataset(
            name: "cifar-100",
            baseURL: URL(string: "https://www.cs.toronto.edu/~kriz/")!,
            files: [
                // MD5 03b5dce01913d631647c71ecec9e9cb8 on the CIFAR page.
                RemoteFile(
                    fileName: "cifar-100-binary.tar.gz",
                    sha256: "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec")
            ],
            extraction: TarExtraction(
                archiveName: "cifar-100-binary.tar.gz", memberPrefix: "cifar-100-binary/",
                expectedFiles: ["train.bin", "test.bin", "coarse_label_names.txt", "fine_label_names.txt"])),
        RemoteDataset(
            name: "svhn",
            baseURL: URL(string: "http://ufldl.stanford.edu/housenumbers/")!,
            files: [
                // MD5s (torchvision): e26dedcc434d2e4c54c9b2d4a06d8373, eb5a983be6a315427106f1b164d9cef3.
                RemoteFile(
                    fileName: "train_32x32.mat",
                    sha256: "435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8",
                    byteCount: 182_040_794),
                RemoteFile(
                    fileName: "test_32x32.mat",
                    sha256: "cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b",
                    byteCount: 64_275_384),
            ]),
    ]
}
