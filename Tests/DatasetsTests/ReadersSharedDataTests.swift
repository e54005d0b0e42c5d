import Datasets
import Foundation
import Testing

/// Checks against the full offline data copy. Opt-in, because CI may not have it and the
/// large files are slow in debug builds: set ANOMALYKIT_SHARED_DATA to its folder
/// (for example /work/shared/data) to run them.
@Suite(
    "Full shared data (opt-in)",
    .enabled(if: ProcessInfo.processInfo.environment["ANOMALYKIT_SHARED_DATA"] != nil))
struct ReadersSharedDataTests {
    static var root: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["ANOMALYKIT_SHARED_DATA"] ?? "/nonexistent")
    }

    static func counts(_ labels: [Int], classes: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: classes)
        for label in labels { counts[label] += 1 }
        return counts
    }

    @Test func mnistMatchesTheOfficialCountsAndStatistics() throws {
        let (train, test) = try DatasetCatalog.loadImages("mnist", root: Self.root)
        #expect(Self.counts(train.labels, classes: 10) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
        #expect(Self.counts(test.labels, classes: 10) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        let samples = train.images.normalizedSamples()
        let mean = samples.values.reduce(0, +) / Float(samples.values.count)
        #expect(abs(mean - 0.1307) < 0.0005)
    }

    @Test func fashionMNIST() throws {
        let (train, test) = try DatasetCatalog.loadImages("fashion-mnist", root: Self.root)
        #expect(Self.counts(train.labels, classes: 10) == [Int](repeating: 6000, count: 10))
        #expect(Self.counts(test.labels, classes: 10) == [Int](repeating: 1000, count: 10))
    }

    @Test func cifar10JPEGCopyIsFoundUnderItsFolderName() throws {
        let (train, test) = try DatasetCatalog.loadImages("cifar-10", root: Self.root)
        #expect(train.count % 10_000 == 0 && train.count >= 20_000)
        #expect(test.count == 10_000)
        #expect(Self.counts(test.labels, classes: 10) == [Int](repeating: 1000, count: 10))
    }

    @Test func tables() throws {
        let expected: [(String, [Int], Int)] = [
            ("thyroid", [3772, 6], 93), ("arrhythmia", [452, 274], 66), ("abalone", [1920, 8], 29),
            ("kddcup99", [494_021, 118], 97_278),
        ]
        for (name, shape, anomalies) in expected {
            let table = try DatasetCatalog.loadTable(name, root: Self.root)
            #expect(table.samples.samples.shape == shape, "\(name)")
            #expect(table.samples.labels.reduce(0, +) == anomalies, "\(name)")
        }
    }
}
