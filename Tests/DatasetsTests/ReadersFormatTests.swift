import Datasets
import Foundation
import Testing

@Suite("gzip through zlib")
struct ReadersGzipTests {
    @Test func concatenatedMembersAndZeroPaddingDecode() throws {
        let expected = RepositoryFiles.expectedSection("gzip")
        for name in ["multi_member.gz", "zero_padded.gz"] {
            let url = RepositoryFiles.fixture(name)
            let decoded = try GzipDecoder.decompress(TestBytes.read(url), path: url.path)
            let hex = decoded.map { String(format: "%02x", $0) }.joined()
            #expect(hex == expected[name] as? String, "\(name)")
            var streamed = [UInt8]()
            try GzipDecoder.decompressFile(at: url) { streamed.append(contentsOf: $0) }
            #expect(streamed == decoded)
        }
    }

    @Test func wrongCRCIsReportedWithTheFileName() throws {
        let url = RepositoryFiles.fixture("bad_crc.gz")
        let message = errorMessage { _ = try GzipDecoder.decompress(TestBytes.read(url), path: url.path) }
        #expect(message?.contains(url.path) == true)
        #expect(message?.contains("CRC-32") == true)
    }

    @Test func truncatedGzipThrowsNamingTheFile() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let original = try TestBytes.read(
            RepositoryFiles.mini.appendingPathComponent("mnist/train-images-idx3-ubyte.gz"))
        for keep in [10, original.count / 2, original.count - 4] {
            let cut = try folder.write("train-images-idx3-ubyte.gz", Array(original.prefix(keep)))
            let message = errorMessage { _ = try IDXReader.readImages(at: cut) }
            #expect(message?.contains(cut.path) == true)
            #expect(message?.contains("truncated") == true, "\(message ?? "no error")")
        }
    }
}

@Suite("IDX and CIFAR readers")
struct ReadersIDXAndCIFARTests {
    @Test func corruptMagicNumberIsRejected() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let url = try folder.write("labels-idx1-ubyte", [0, 0, 8, 3, 0, 0, 0, 2, 1, 2])
        let message = errorMessage { _ = try IDXReader.readLabels(at: url) }
        #expect(message == "\(url.path): corrupt: magic number 0x00000803, expected 0x00000801 (IDX labels)")
    }

    @Test func shortPayloadSaysWhatTheHeaderPromised() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let header: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2]
        let url = try folder.write("images-idx3-ubyte", header + [1, 2, 3, 4, 5])
        let message = errorMessage { _ = try IDXReader.readImages(at: url) }
        #expect(message == "\(url.path): truncated: header says 3×2×2 = 12 bytes of pixels, file has 5")
    }

    @Test func imageAndLabelCountsMustAgree() throws {
        let mnist = RepositoryFiles.mini.appendingPathComponent("mnist")
        let message = errorMessage {
            _ = try IDXReader.readLabeledImages(
                images: mnist.appendingPathComponent("train-images-idx3-ubyte.gz"),
                labels: mnist.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        }
        #expect(message?.contains("2000 images but 1000 labels") == true)
        #expect(message?.contains("t10k-labels-idx1-ubyte.gz") == true)
    }

    @Test func rawAndGzipFilesReadTheSame() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let gz = RepositoryFiles.mini.appendingPathComponent("mnist/t10k-labels-idx1-ubyte.gz")
        let raw = try folder.write("t10k-labels-idx1-ubyte", TestBytes.readDecompressingGzip(gz))
        #expect(try IDXReader.readLabels(at: raw) == IDXReader.readLabels(at: gz))
    }

    @Test func cifarRecordsSplitLabelsAndPlanes() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var record10 = [UInt8](repeating: 0, count: 3073 * 2)
        record10[0] = 7
        record10[1] = 11  // first red pixel of image 0
        record10[1 + 1024] = 22  // first green pixel
        record10[3073] = 2
        record10[3073 + 3072] = 33  // last blue pixel of image 1
        let ten = try CIFARReader.read(at: folder.write("ten.bin", record10))
        #expect(ten.labels == [7, 2])
        #expect(ten.images.shape == [2, 3, 32, 32])
        #expect(ten.images.pixels[0] == 11 && ten.images.pixels[1024] == 22 && ten.images.pixels[6143] == 33)

        var record100 = [UInt8](repeating: 0, count: 3074)
        record100[0] = 4  // coarse
        record100[1] = 57  // fine
        record100[2] = 99
        let url100 = try folder.write("hundred.bin", record100)
        #expect(try CIFARReader.read(at: url100, layout: .cifar100Fine).labels == [57])
        #expect(try CIFARReader.read(at: url100, layout: .cifar100Coarse).labels == [4])
        #expect(try CIFARReader.read(at: url100, layout: .cifar100Coarse).images.pixels[0] == 99)
    }

    @Test func cifarSizeNotAMultipleOfTheRecordIsRejected() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let url = try folder.write("data_batch_1.bin", [UInt8](repeating: 1, count: 3073 * 2 + 5))
        let message = errorMessage { _ = try CIFARReader.read(at: url) }
        #expect(message?.hasPrefix(url.path) == true)
        #expect(message?.contains("6151 bytes is not a multiple of the 3073-byte CIFAR-10 record") == true)
    }
}

@Suite("CSV reader")
struct ReadersCSVTests {
    @Test func readsFeaturesLabelsAndNames() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let url = try folder.write("t.csv", text: "a,label,b\r\n1.5,0,-2\n\n3e2, 1 ,4\n")
        let table = try CSVReader.readLabeledTable(at: url)
        #expect(table.featureNames == ["a", "b"])
        #expect(table.labelColumnName == "label")
        #expect(table.samples.samples.shape == [2, 2])
        #expect(table.samples.samples.values == [1.5, -2, 300, 4])
        #expect(table.samples.labels == [0, 1])

        let byPosition = try CSVReader.readLabeledTable(at: url, labelColumn: .last)
        #expect(byPosition.featureNames == ["a", "label"])
        #expect(byPosition.samples.labels == [-2, 4])
    }

    @Test func labelDefaultsToTheLastColumn() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let table = try CSVReader.readLabeledTable(at: folder.write("t.csv", text: "x,y,class\n1,2,3\n"))
        #expect(table.labelColumnName == "class" && table.samples.labels == [3])
    }

    @Test func badFieldsNameFileLineAndColumn() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cases: [(String, String)] = [
            ("x,y,label\n1,2,0\n3,4\n", ":3: column 2: ragged row: 2 fields, but the header has 3 columns"),
            ("x,y,label\n1,2,0,9\n", ":2: column 4: ragged row: 4 fields, but the header has 3 columns"),
            ("x,y,label\n1,abc,0\n", ":2: column 2: 'abc' in column 'y' is not a number"),
            ("x,y,label\n1,,0\n", ":2: column 2: missing value in column 'y'"),
            ("x,y,label\n1,2,0\nnan,4,1\n", ":3: column 1: 'nan' in column 'x' is not a finite number (NaN, infinity or beyond Float32's range)"),
            ("x,y,label\n1,-inf,0\n", ":2: column 2: '-inf' in column 'y' is not a finite number (NaN, infinity or beyond Float32's range)"),
            ("x,y,label\n1,1e300,0\n", ":2: column 2: '1e300' in column 'y' is not a finite number (NaN, infinity or beyond Float32's range)"),
            ("x,y,label\n1,2,0.5\n", ":2: column 3: label 0.5 in column 'label' is not an integer"),
        ]
        for (index, (text, suffix)) in cases.enumerated() {
            let url = try folder.write("bad\(index).csv", text: text)
            let message = errorMessage { _ = try CSVReader.readLabeledTable(at: url) }
            #expect(message == url.path + suffix)
        }
        let url = try folder.write("named.csv", text: "x,y\n1,2\n")
        let message = errorMessage { _ = try CSVReader.readLabeledTable(at: url, labelColumn: .named("target")) }
        #expect(message == "\(url.path): corrupt: no label column named 'target'; the header has x, y")
    }
}

@Suite("NPY and NPZ readers")
struct ReadersNumpyTests {
    static func check(_ array: NumpyArray, against info: [String: Any], _ name: String) {
        #expect(array.shape == ints(info["shape"]), "\(name)")
        #expect(array.typeDescriptor == info["dtype"] as? String, "\(name)")
        let values = info["values"] as! [Any]
        switch array.values {
        case .float32(let got): #expect(got == values.map { Float($0 as! String)! }, "\(name)")
        case .float64(let got): #expect(got == values.map { Double($0 as! String)! }, "\(name)")
        case .uint8(let got): #expect(got == uint8s(values), "\(name)")
        case .int32(let got): #expect(got.map(Int.init) == ints(values), "\(name)")
        case .int64(let got): #expect(got.map(Int.init) == ints(values), "\(name)")
        case .bool(let got): #expect(got == values.map { ($0 as! NSNumber).boolValue }, "\(name)")
        }
    }

    @Test func everyDtypeAndHeaderVersionRoundTrips() throws {
        let expected = RepositoryFiles.expectedSection("npy")
        #expect(expected.count == 8)
        for (name, info) in expected {
            Self.check(
                try NumpyReader.readArray(at: RepositoryFiles.fixture(name)), against: info as! [String: Any], name)
        }
    }

    @Test func storedAndDeflatedArchivesRoundTrip() throws {
        for (name, arrays) in RepositoryFiles.expectedSection("npz") {
            let archive = try NumpyReader.readArchive(at: RepositoryFiles.fixture(name))
            let expectedArrays = arrays as! [String: Any]
            #expect(Set(archive.keys) == Set(expectedArrays.keys), "\(name)")
            for (key, info) in expectedArrays {
                Self.check(archive[key]!, against: info as! [String: Any], "\(name)/\(key)")
            }
        }
        let table = try NumpyReader.readLabeledTable(archiveAt: RepositoryFiles.fixture("deflated.npz"))
        #expect(table.samples.samples.shape == [6, 3])
        #expect(table.samples.labels == [0, 1, 0, 0, 1, 0])
        #expect(table.featureNames == ["x0", "x1", "x2"])
    }

    @Test func fortranOrderAndBrokenHeadersAreRejected() throws {
        let fortran = RepositoryFiles.fixture("fortran_order.npy")
        let fortranMessage = errorMessage { _ = try NumpyReader.readArray(at: fortran) }
        #expect(fortranMessage?.hasPrefix("\(fortran.path): unsupported: fortran_order=True") == true)

        let bad = RepositoryFiles.fixture("bad_header.npy")
        let badMessage = errorMessage { _ = try NumpyReader.readArray(at: bad) }
        #expect(badMessage?.hasPrefix("\(bad.path): corrupt: bad .npy header") == true, "\(badMessage ?? "")")
    }

    @Test func truncatedDataAndCorruptArchivesAreRejected() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let whole = try TestBytes.read(RepositoryFiles.fixture("float64_v2.npy"))
        let cut = try folder.write("cut.npy", Array(whole.dropLast(8)))
        #expect(
            errorMessage { _ = try NumpyReader.readArray(at: cut) }
                == "\(cut.path): truncated: header says shape [3, 2, 2] of <f8 = 96 bytes of data, file has 88")

        var archive = try TestBytes.read(RepositoryFiles.fixture("deflated.npz"))
        archive[60] ^= 0xFF  // inside the first entry's deflated data
        let damaged = try folder.write("damaged.npz", archive)
        let message = errorMessage { _ = try NumpyReader.readArchive(at: damaged) }
        #expect(message?.hasPrefix(damaged.path) == true, "\(message ?? "")")
    }
}
