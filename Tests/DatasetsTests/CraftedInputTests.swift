import Datasets
import Foundation
import Testing

/// Files crafted to lie about their sizes (scripts/fixtures/crafted_inputs.py): each once made
/// a reader trap on overflow or reserve memory from an untrusted header. Each must now give one
/// `DatasetError` that names the file and what was wrong — quickly, and without allocating what
/// the header asks for.
@Suite("Crafted inputs: overflow-safe, size-bounded readers")
struct CraftedInputTests {
    static let folder = RepositoryFiles.packageRoot.appendingPathComponent(
        "Tests/DatasetsTests/Fixtures/crafted", isDirectory: true)

    static func file(_ name: String) -> URL { folder.appendingPathComponent(name) }

    /// Runs `body`, which must throw a `DatasetError` whose message names `name` and contains
    /// every fragment.
    func expectRefusal(_ name: String, _ fragments: [String], _ body: (URL) throws -> Void) {
        let url = Self.file(name)
        do {
            try body(url)
            Issue.record("\(name) was accepted")
        } catch let error as DatasetError {
            let message = error.description
            #expect(message.contains(name.components(separatedBy: "/").last!), "\(message)")
            for fragment in fragments { #expect(message.contains(fragment), "\(message) lacks '\(fragment)'") }
        } catch {
            Issue.record("\(name): not a DatasetError: \(error)")
        }
    }

    @Test func idxDimensionsWhoseProductOverflows() {
        expectRefusal("idx_overflow-images-idx3-ubyte", ["overflow a 64-bit size"]) { _ = try IDXReader.readImages(at: $0) }
        expectRefusal("idx_two_dims-images-idx3-ubyte", ["magic number"]) { _ = try IDXReader.readImages(at: $0) }
    }

    @Test func npyShapesThatOverflowOrExceedTheFile() {
        expectRefusal("npy_overflow.npy", ["overflow a 64-bit size"]) { _ = try NumpyReader.readArray(at: $0) }
        // 2^60 doubles: the element count fits, the byte count does not.
        expectRefusal("npy_huge.npy", ["overflow a 64-bit size"]) { _ = try NumpyReader.readArray(at: $0) }
    }

    @Test func zipEntriesThatDeclareMoreThanDeflateCanMake() {
        // 119 bytes declaring 4 GB: refused before anything is reserved.
        expectRefusal("npz_4gb.npz", ["more than deflate can make"]) { _ = try NumpyReader.readArchive(at: $0) }
        expectRefusal("npz_zip64_huge.npz", ["out of range"]) { _ = try NumpyReader.readArchive(at: $0) }
        expectRefusal("npz_zip64_end.npz", ["zip64"]) { _ = try NumpyReader.readArchive(at: $0) }
    }

    @Test func pngHeaderAskingForFortyGigabytes() {
        expectRefusal("png_40gb.png", ["PNG image data", "more than deflate can make"]) {
            _ = try PNGDecoder.decode(fileAt: $0)
        }
    }

    @Test func csvWideHeaderOverManyLinesReservesOnlyWhatTheTextHolds() {
        // 200,001 columns over 100,000 blank lines once reserved 20 billion values (80 GB); now
        // it reads as an empty table of 200,000 features without reserving them all.
        do {
            let table = try CSVReader.readLabeledTable(at: Self.file("csv_wide.csv.gz"), labelColumn: .named("label"))
            #expect(table.count == 0)
            #expect(table.featureNames.count == 200_000)
        } catch {
            Issue.record("csv_wide.csv.gz: \(error)")
        }
    }

    @Test func csvLabelsOutsideTheClassesAndNonFiniteCells() {
        expectRefusal("csv_label_range.csv", [":3:", "column 3", "label 7 is outside 0..<2"]) {
            _ = try CSVReader.readLabeledTable(at: $0, labelColumn: .named("label"), classNames: ["normal", "anomaly"])
        }
        expectRefusal("csv_nan.csv", [":2:", "column 2", "not a finite number"]) {
            _ = try CSVReader.readLabeledTable(at: $0, labelColumn: .named("label"))
        }
    }

    @Test func gzipStopsAtTheLimit() throws {
        // 4 MB of zeros in 4 KB: refused at a 1 MB limit, read in full below the default one.
        let bytes = try [UInt8](Data(contentsOf: Self.file("gzip_bomb.gz")))
        expectRefusal("gzip_bomb.gz", ["too large", "more than 1 MB", "ANOMALYKIT_MAX_DECOMPRESSED_MB"]) {
            _ = try GzipDecoder.decompress(bytes, path: $0.path, limit: 1 << 20)
        }
        #expect(try GzipDecoder.decompress(bytes, path: "bomb").count == 4 << 20)
        var streamed = 0
        expectRefusal("gzip_bomb.gz", ["too large"]) { url in
            try GzipDecoder.decompressFile(at: url, limit: 1 << 20) { streamed += $0.count }
        }
        #expect(streamed <= 1 << 20)
        // A trailer claiming 4 GB for five bytes reserves nothing of the sort and reads fine.
        let lying = try [UInt8](Data(contentsOf: Self.file("gzip_lying_isize.gz")))
        expectRefusal("gzip_lying_isize.gz", ["corrupt"]) { _ = try GzipDecoder.decompress(lying, path: $0.path) }
    }

    @Test func matlabDimensionsAndShortElements() {
        expectRefusal("svhn_dims.mat", ["dimensions of variable X", "negative"]) { _ = try SVHNReader.read(at: $0) }
        expectRefusal("svhn_short.mat", ["ends early"]) { _ = try SVHNReader.read(at: $0) }
    }

    @Test func tarSizesBeyondReason() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for (name, fragment) in [("tar_huge_size.tar.gz", "out-of-range size"), ("tar_long_name.tar.gz", "long name of 1073741824 bytes")] {
            let bytes = try GzipDecoder.decompress([UInt8](Data(contentsOf: Self.file(name))), path: name)
            let message = errorMessage { try ReaderEntryPoints.extractTar(bytes, into: folder.url) }
            #expect(message?.contains(fragment) == true, "\(name): \(message ?? "accepted")")
        }
    }

    @Test func labelsOutsideTheClassRange() {
        expectRefusal("cifar_label_range.bin", ["label 200", "only 10 classes"]) {
            _ = try CIFARReader.read(at: $0, classNames: (0..<10).map(String.init))
        }
        expectRefusal("idx_label_range/train-labels-idx1-ubyte", ["is 42", "only 10 classes"]) { url in
            _ = try IDXReader.readLabeledImages(
                images: Self.file("idx_label_range/train-images-idx3-ubyte"), labels: url,
                classNames: (0..<10).map(String.init))
        }
    }

    @Test func aBlankClassNamesFileIsTreatedAsMissing() throws {
        let root = try TemporaryFolder()
        defer { root.remove() }
        let target = root.url.appendingPathComponent("cifar-10", isDirectory: true)
        try FileManager.default.copyItem(at: Self.file("cifar_blank_names"), to: target)
        let (train, test) = try DatasetCatalog.loadImages("cifar-10", root: root.url)
        #expect(try train.classNames == DatasetCatalog.description(of: "cifar-10").classNames)
        #expect(train.labels == [1, 2, 3, 4, 5])
        #expect(test.labels == [3])
    }
}
