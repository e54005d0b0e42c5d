import Datasets
import Foundation
import Testing

@Suite("Shipped data through the catalogue")
struct ReadersCatalogTests {
    static func classCounts(_ labels: [Int], classes: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: classes)
        for label in labels { counts[label] += 1 }
        return counts
    }

    @Test func miniMNIST() throws {
        guard case .images(let train, let test) = try DatasetCatalog.load("mnist", root: RepositoryFiles.mini) else {
            Issue.record("mnist is not an image data set")
            return
        }
        #expect(train.samples.shape == [2000, 1, 28, 28])
        #expect(test.samples.shape == [1000, 1, 28, 28])
        #expect(Self.classCounts(train.labels, classes: 10) == [191, 220, 198, 191, 214, 180, 200, 224, 172, 210])
        #expect(Self.classCounts(test.labels, classes: 10) == [85, 126, 116, 107, 110, 87, 87, 99, 89, 94])
        let mean = train.samples.values.reduce(0, +) / Float(train.samples.values.count)
        #expect(abs(mean - 0.1307) < 0.01)
        #expect(train.samples.values.min() == 0 && train.samples.values.max() == 1)
        #expect(train.classNames == (0...9).map(String.init))
    }

    @Test func miniCIFAR10() throws {
        let (train, test) = try DatasetCatalog.loadImages("cifar-10", root: RepositoryFiles.mini)
        #expect(train.images.shape == [1000, 3, 32, 32])
        #expect(test.count == 500)
        #expect(Array(test.labels.prefix(10)) == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1])
        #expect(Self.classCounts(train.labels, classes: 10) == [102, 112, 99, 92, 99, 85, 107, 102, 99, 103])
        #expect(train.classNames.first == "airplane" && train.classNames.count == 10)
        let floats = train.labeledSamples()
        #expect(floats.samples.values[5] == Float(train.images.pixels[5]) / 255)
    }

    @Test func thyroidTable() throws {
        guard case .table(let table) = try DatasetCatalog.load("thyroid", root: RepositoryFiles.mini) else {
            Issue.record("thyroid is not a table")
            return
        }
        #expect(table.samples.samples.shape == [3772, 6])
        #expect(table.featureNames == ["x0", "x1", "x2", "x3", "x4", "x5"])
        #expect(table.samples.labels.reduce(0, +) == 93)
        #expect(table.samples.classNames == ["normal", "anomaly"])
    }

    @Test func fashionDemoIsFoundInThePackage() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // An empty data root: the shipped copy is used.
        let (train, test) = try DatasetCatalog.loadImages("fashion-mnist-demo", root: folder.url)
        #expect(train.count == 2000 && test.count == 1000)
        #expect(Self.classCounts(train.labels, classes: 10) == [194, 216, 202, 195, 186, 200, 194, 215, 198, 200])
        #expect(train.classNames[9] == "Ankle boot")
    }

    @Test func unknownAndMissingDataSets() throws {
        let message = errorMessage { _ = try DatasetCatalog.load("mnits", root: RepositoryFiles.mini) }
        #expect(
            message
                == "unknown data set 'mnits'; known data sets: mnist, fashion-mnist, fashion-mnist-demo, cifar-10, cifar-100, svhn, thyroid, arrhythmia, abalone, kddcup99"
        )
        let missing = errorMessage { _ = try DatasetCatalog.load("svhn", root: RepositoryFiles.mini) }
        #expect(missing?.contains("anomaly datasets fetch svhn") == true)
        #expect(missing?.contains(RepositoryFiles.mini.appendingPathComponent("svhn").path) == true)
    }

    @Test func dataRootResolution() {
        #expect(DataRoot.resolve(explicit: "/data/x", environment: ["ANOMALYKIT_DATA": "/env"]).path == "/data/x")
        #expect(DataRoot.resolve(explicit: nil, environment: ["ANOMALYKIT_DATA": "/env", "HOME": "/h"]).path == "/env")
        #expect(
            DataRoot.resolve(explicit: "", environment: ["ANOMALYKIT_DATA": "", "XDG_CACHE_HOME": "/c"]).path
                == "/c/anomalykit")
        #expect(DataRoot.resolve(explicit: nil, environment: ["HOME": "/home/u"]).path == "/home/u/.cache/anomalykit")
        #expect(DataRoot.resolve(explicit: "~/d", environment: ["HOME": "/home/u"]).path == "/home/u/d")
    }

    @Test func imageBytesNormalisation() {
        let bytes = ImageBytes(pixels: [0, 51, 255, 128], shape: [1, 1, 2, 2])
        #expect(bytes.normalizedSamples().values == [0, 0.2, 1, Float(128) / 255])
        #expect(bytes.normalizedSamples().shape == [1, 1, 2, 2])
        let two = ImageBytes.concatenating([bytes, bytes.selecting([0])])
        #expect(two.count == 2 && two.pixels == bytes.pixels + bytes.pixels)
    }
}
