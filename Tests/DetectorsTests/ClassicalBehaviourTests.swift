import Datasets
import Detectors
import Foundation
import Testing

// The contract every classical detector keeps: validation errors, seeds, training-data handling,
// configuration coding. Plus the linear algebra under PCA and the Gaussian mixture.

/// One fit-and-score run of each classical detector, type-erased so tests can loop over them.
struct AnyClassicalDetector: Sendable, CustomStringConvertible {
    let description: String
    let run: @Sendable (TrainingData, Samples, UInt64) throws -> [Float]
    let scoreUnfitted: @Sendable (Samples) throws -> [Float]

    init<Detector: AnomalyDetector & Sendable>(_ name: String, _ make: @escaping @Sendable () -> Detector) {
        description = name
        run = { data, samples, seed in
            var detector = make()
            try detector.fit(data, context: TrainingContext(seed: seed))
            return try detector.score(samples, context: InferenceContext(seed: seed))
        }
        scoreUnfitted = { samples in try make().score(samples, context: InferenceContext()) }
    }

    static let all: [AnyClassicalDetector] = [
        AnyClassicalDetector("IsolationForest") { IsolationForest(.init(treeCount: 20)) },
        AnyClassicalDetector("OneClassSVM") { OneClassSVM() },
        AnyClassicalDetector("KernelDensity") { KernelDensity(.init(bandwidth: 0.5)) },
        AnyClassicalDetector("KernelDensity (cross-validated)") {
            KernelDensity(.init(bandwidthGrid: [0.25, 0.5, 1], folds: 3))
        },
        AnyClassicalDetector("KNearestNeighbors") { KNearestNeighbors() },
        AnyClassicalDetector("PCAReconstruction") { PCAReconstruction() },
        AnyClassicalDetector("GaussianMixture") { GaussianMixture(.init(components: 2)) },
    ]
}

@Suite("Classical detectors keep the detector contract")
struct ClassicalBehaviourTests {
    static let blob = ClassicalReference.shared.blob

    @Test(arguments: AnyClassicalDetector.all)
    func emptyTrainingDataIsRejected(_ detector: AnyClassicalDetector) {
        let empty = Samples(values: [], shape: [0, 2])
        #expect {
            _ = try detector.run(TrainingData(unlabeled: empty), Self.blob.test, 0)
        } throws: { error in
            if case .emptyTrainingData = error as? DetectorError { return true }
            return false
        }
    }

    @Test(arguments: AnyClassicalDetector.all)
    func scoringBeforeFittingIsRejected(_ detector: AnyClassicalDetector) {
        #expect {
            _ = try detector.scoreUnfitted(Self.blob.test)
        } throws: { error in
            if case .notFitted = error as? DetectorError { return true }
            return false
        }
    }

    @Test(arguments: AnyClassicalDetector.all)
    func samplesOfAnotherWidthAreRejected(_ detector: AnyClassicalDetector) {
        let wide = Samples(values: [Float](repeating: 0.5, count: 12), shape: [4, 3])
        #expect(throws: DetectorError.shapeMismatch(detector: name(detector), expected: [2], got: [3])) {
            _ = try detector.run(TrainingData(unlabeled: Self.blob.train), wide, 0)
        }
        // Labelled normals must have the unlabelled samples' width too.
        #expect(throws: DetectorError.shapeMismatch(detector: name(detector), expected: [2], got: [3])) {
            _ = try detector.run(TrainingData(unlabeled: Self.blob.train, labeledNormal: wide), Self.blob.test, 0)
        }
    }

    @Test(arguments: AnyClassicalDetector.all)
    func nonFiniteValuesAreRejectedWithTheirIndex(_ detector: AnyClassicalDetector) {
        var train = Self.blob.train
        train.values[2 * 17 + 1] = .nan
        #expect(throws: DetectorError.nonFiniteInput(detector: name(detector), index: 17)) {
            _ = try detector.run(TrainingData(unlabeled: train), Self.blob.test, 0)
        }
        var test = Self.blob.test
        test.values[2 * 5] = -.infinity
        #expect(throws: DetectorError.nonFiniteInput(detector: name(detector), index: 5)) {
            _ = try detector.run(TrainingData(unlabeled: Self.blob.train), test, 0)
        }
    }

    @Test(arguments: AnyClassicalDetector.all)
    func labelledNormalsAreTrainingData(_ detector: AnyClassicalDetector) throws {
        let train = Self.blob.train
        let test = Self.blob.test
        let first = train.selecting(Array(0..<200))
        let rest = train.selecting(Array(200..<train.count))
        let together = try detector.run(TrainingData(unlabeled: train), test, 3)
        let split = try detector.run(TrainingData(unlabeled: first, labeledNormal: rest), test, 3)
        let normalsOnly = try detector.run(
            TrainingData(unlabeled: Samples(values: [], shape: [0, 2]), labeledNormal: train), test, 3)
        #expect(split == together)
        #expect(normalsOnly == together)
        // Labelled anomalies are not training data for these unsupervised detectors.
        let withAnomalies = try detector.run(
            TrainingData(unlabeled: train, labeledAnomalies: test.selecting([100, 101])), test, 3)
        #expect(withAnomalies == together)
    }

    @Test(arguments: AnyClassicalDetector.all)
    func sameSeedGivesIdenticalScoresAndOutliersScoreHigher(_ detector: AnyClassicalDetector) throws {
        let (train, test, labels) = Self.blob
        let first = try detector.run(TrainingData(unlabeled: train), test, 7)
        let second = try detector.run(TrainingData(unlabeled: train), test, 7)
        #expect(first == second)
        #expect(first.allSatisfy { $0.isFinite })
        #expect(testAUROC(first, labels) > 0.85)  // some uniform "outliers" fall inside the blob
        #expect(try detector.run(TrainingData(unlabeled: train), Samples(values: [], shape: [0, 2]), 7).isEmpty)
    }

    @Test func isolationForestDependsOnTheSeedOnly() throws {
        let (train, test, _) = Self.blob
        let seed1 = try fitAndScore(IsolationForest(), train: train, test: test, seed: 1)
        let seed2 = try fitAndScore(IsolationForest(), train: train, test: test, seed: 2)
        #expect(seed1 != seed2)
        #expect(seed1.allSatisfy { $0 > 0 && $0 <= 1 })
    }

    @Test func isolationForestOnASingleSampleScoresEverythingAlike() throws {
        let scores = try fitAndScore(
            IsolationForest(), train: Self.blob.train.selecting([0]), test: Self.blob.test.selecting([0, 120]))
        #expect(scores == [1, 1])
    }

    @Test func isolationForestReportsItsTrees() throws {
        let progress = RecordingProgress()
        var forest = IsolationForest(.init(treeCount: 30, maxSamples: 64))
        try forest.fit(TrainingData(unlabeled: Self.blob.train), context: TrainingContext(progress: progress))
        #expect(progress.phases.map(\.1) == [30])
        #expect(progress.lastCompleted == 30)
        #expect(forest.samplesPerTree == 64)
    }

    @Test func averagePathLengthFollowsTheHarmonicApproximation() {
        #expect(IsolationForest.averagePathLength(1) == 0)
        #expect(IsolationForest.averagePathLength(2) == 1)
        // c(256) = 2(ln 255 + γ) − 2·255/256 ≈ 10.2448.
        #expect(abs(IsolationForest.averagePathLength(256) - 10.244_770_920_116_851) < 1e-9)
    }

    @Test func invalidConfigurationsAreRejected() {
        let data = TrainingData(unlabeled: Self.blob.train)
        func rejects<Detector: AnomalyDetector>(_ detector: Detector) -> Bool {
            var detector = detector
            do {
                try detector.fit(data, context: TrainingContext())
                return false
            } catch let error as DetectorError {
                if case .invalidConfiguration = error { return true }
                return false
            } catch { return false }
        }
        #expect(rejects(IsolationForest(.init(treeCount: 0))))
        #expect(rejects(OneClassSVM(.init(nu: 0))))
        #expect(rejects(OneClassSVM(.init(nu: 1.5))))
        #expect(rejects(OneClassSVM(.init(gamma: .value(-1)))))
        #expect(rejects(KernelDensity(.init(bandwidth: 0))))
        #expect(rejects(KernelDensity(.init(bandwidthGrid: []))))
        #expect(rejects(KNearestNeighbors(.init(k: 0))))
        #expect(rejects(KNearestNeighbors(.init(k: 301))))
        #expect(rejects(PCAReconstruction(.init(components: 3))))
        #expect(rejects(PCAReconstruction(.init(scoring: .reconstructionError))))
        #expect(rejects(PCAReconstruction(.init(varianceFraction: 1.2))))
        #expect(rejects(GaussianMixture(.init(components: 0))))
    }

    @Test func configurationsDecodeWithDefaultsAndRoundTrip() throws {
        /// Partial JSON over each detector's defaults: the one decoding mechanism.
        struct Decoder {
            func decode(_ type: OneClassSVM.Configuration.Type, from data: Data) throws -> OneClassSVM.Configuration {
                try ConfigurationDecoding.decode(type, from: data, defaults: .init())
            }
            func decode(_ type: IsolationForest.Configuration.Type, from data: Data) throws -> IsolationForest.Configuration {
                try ConfigurationDecoding.decode(type, from: data, defaults: .init())
            }
            func decode(_ type: KNearestNeighbors.Configuration.Type, from data: Data) throws -> KNearestNeighbors.Configuration {
                try ConfigurationDecoding.decode(type, from: data, defaults: .init())
            }
            func decode(_ type: KernelDensity.Configuration.Type, from data: Data) throws -> KernelDensity.Configuration {
                try ConfigurationDecoding.decode(type, from: data, defaults: .init())
            }
        }
        let decoder = Decoder()
        let svm = try decoder.decode(OneClassSVM.Configuration.self, from: Data(#"{"nu": 0.1, "gamma": 0.25}"#.utf8))
        #expect(svm == OneClassSVM.Configuration(nu: 0.1, gamma: .value(0.25)))
        let scaled = try decoder.decode(OneClassSVM.Configuration.self, from: Data(#"{"gamma": "auto"}"#.utf8))
        #expect(scaled.gamma == .auto && scaled.nu == 0.5)
        #expect(try decoder.decode(IsolationForest.Configuration.self, from: Data("{}".utf8)) == .init())
        #expect(try decoder.decode(KNearestNeighbors.Configuration.self, from: Data(#"{"k": 1}"#.utf8)) == .init(k: 1))
        let kde = try decoder.decode(KernelDensity.Configuration.self, from: Data("{}".utf8))
        #expect(kde.bandwidth == nil && kde.folds == 5 && kde.bandwidthGrid.count == 10)
        #expect(abs(kde.bandwidthGrid[0] - 2.0.squareRoot()) < 1e-12 && kde.bandwidthGrid[9] == 32)

        func roundTrips<Configuration: Codable & Equatable>(_ value: Configuration) throws -> Bool {
            try JSONDecoder().decode(Configuration.self, from: JSONEncoder().encode(value)) == value
        }
        #expect(try roundTrips(OneClassSVM.Configuration(nu: 0.2, gamma: .scale, maxIterations: 50)))
        #expect(try roundTrips(KernelDensity.Configuration(bandwidth: 0.7)))
        #expect(try roundTrips(PCAReconstruction.Configuration(varianceFraction: 0.9, scoring: .mahalanobis)))
        #expect(try roundTrips(GaussianMixture.Configuration(components: 3, initialization: .kMeansPlusPlus)))
        #expect(try roundTrips(KNearestNeighbors.Configuration(k: 2, aggregation: .median, metric: .cosine)))
        #expect(try roundTrips(IsolationForest.Configuration(treeCount: 10, maxDepth: 4)))
    }

    @Test func oneClassSVMGivesTheSameSolutionWithATinyKernelCache() throws {
        let (train, test, _) = Self.blob
        // 0.01 MiB holds 4 of the 300 kernel rows, so rows are evicted and recomputed all the time.
        let tiny = try fitAndScore(OneClassSVM(.init(cacheSizeMB: 0.01)), train: train, test: test)
        let full = try fitAndScore(OneClassSVM(), train: train, test: test)
        #expect(tiny == full)
    }

    @Test func gammaIsChosenByHoldOutAUROC() throws {
        let (train, test, labels) = Self.blob
        let (detector, aurocs) = try OneClassSVM.selectingGamma(
            candidates: [0.01, 0.5, 2], training: TrainingData(unlabeled: train), validation: test, labels: labels,
            context: TrainingContext(), auroc: testAUROC)
        #expect(aurocs.count == 3)
        let best = aurocs.indices.max { aurocs[$0] < aurocs[$1] }!
        #expect(detector.model?.gamma == [0.01, 0.5, 2][best])
    }

    @Test func pcaVarianceFractionKeepsTheLeadingComponents() throws {
        let thyroid = ThyroidSplit.shared
        var detector = PCAReconstruction(.init(varianceFraction: 0.7))
        try detector.fit(TrainingData(unlabeled: thyroid.train), context: TrainingContext())
        // Explained variances 2.24, 1.36, 0.94, … of 6.00: two components explain 60.0 %, three
        // 75.6 %, so 0.7 keeps three, as scikit-learn's PCA(n_components=0.7) does.
        let ratios = try #require(detector.model).explainedVarianceRatio
        #expect(ratios.count == 3)
        #expect(ratios.prefix(2).reduce(0, +) <= 0.7 && ratios.reduce(0, +) > 0.7)
    }

    @Test func symmetricEigendecompositionReconstructsTheMatrix() {
        for size in [1, 2, 5, 17] {
            // A fixed, well-spread symmetric matrix: entries sin(3i + 7j) + cos(i·j), symmetrised.
            var matrix = [Double](repeating: 0, count: size * size)
            for i in 0..<size {
                for j in 0...i {
                    let value = sin(Double(3 * i + 7 * j)) + cos(Double(i * j))
                    matrix[i * size + j] = value
                    matrix[j * size + i] = value
                }
            }
            let eigen = SymmetricEigen(symmetric: matrix, size: size)
            #expect(zip(eigen.values, eigen.values.dropFirst()).allSatisfy { $0 >= $1 })
            var worst = 0.0
            for i in 0..<size {
                for j in 0..<size {
                    // (V Λ Vᵀ)ᵢⱼ with eigenvectors as rows of V's transpose, and VᵀV = I.
                    var entry = 0.0
                    var gram = 0.0
                    for k in 0..<size {
                        entry += eigen.vectors[k * size + i] * eigen.values[k] * eigen.vectors[k * size + j]
                        gram += eigen.vectors[i * size + k] * eigen.vectors[j * size + k]
                    }
                    worst = max(worst, abs(entry - matrix[i * size + j]), abs(gram - (i == j ? 1 : 0)))
                }
            }
            #expect(worst < 1e-12, "size \(size)")
        }
    }

    @Test func choleskyFactorsPositiveDefiniteMatricesOnly() throws {
        let matrix: [Double] = [4, 2, 0.4, 2, 5, 1, 0.4, 1, 3]
        let factor = try #require(choleskyFactor(matrix, size: 3))
        for i in 0..<3 {
            for j in 0..<3 {
                let product = (0..<3).reduce(0.0) { $0 + factor[i * 3 + $1] * factor[j * 3 + $1] }
                #expect(abs(product - matrix[i * 3 + j]) < 1e-12)
            }
        }
        #expect(choleskyFactor([1, 2, 2, 1], size: 2) == nil)
    }
}

/// The detector name a type uses in its errors.
private func name(_ detector: AnyClassicalDetector) -> String {
    String(detector.description.prefix { $0 != " " })
}

