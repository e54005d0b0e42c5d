import Datasets
import Detectors
import Foundation
import Testing

// Classical detectors against scikit-learn / PyOD (Fixtures/classical/reference.json, written by
// scripts/fixtures/classical_fixtures.py).

@Suite("Classical detectors match scikit-learn and PyOD")
struct ClassicalReferenceTests {
    let reference = ClassicalReference.shared

    @Test func nearestNeighboursMatchPyOD() throws {
        let (train, test, _) = reference.blob
        let cases: [(KNearestNeighbors.Configuration, String)] = [
            (.init(k: 5), "k5_largest"), (.init(k: 5, aggregation: .mean), "k5_mean"),
            (.init(k: 4, aggregation: .median), "k4_median"), (.init(k: 5, metric: .cosine), "k5_cosine"),
        ]
        for (configuration, key) in cases {
            let scores = try fitAndScore(KNearestNeighbors(configuration), train: train, test: test)
            #expect(worstMismatch(scores, reference.doubles("blob.knn.\(key)"), relative: 1e-4) <= 1, "\(key)")
        }
        let thyroid = ThyroidSplit.shared
        let scores = try fitAndScore(KNearestNeighbors(), train: thyroid.train, test: thyroid.test)
        #expect(worstMismatch(scores, reference.doubles("thyroid.knn.k5_largest"), relative: 1e-4) <= 1)
        let nearest = try fitAndScore(KNearestNeighbors(.init(k: 1)), train: thyroid.train, test: thyroid.test)
        #expect(abs(testAUROC(nearest, thyroid.labels) - reference.double("thyroid.knn.auroc_k1")) < 1e-4)
    }

    @Test func kernelDensityMatchesScikitLearn() throws {
        let (train, test, _) = reference.blob
        let blobScores = try fitAndScore(KernelDensity(.init(bandwidth: 0.5)), train: train, test: test)
        #expect(worstMismatch(blobScores, reference.doubles("blob.kde.scores"), relative: 1e-4) <= 1)

        let thyroid = ThyroidSplit.shared
        let scores = try fitAndScore(KernelDensity(.init(bandwidth: 0.25)), train: thyroid.train, test: thyroid.test)
        #expect(worstMismatch(scores, reference.doubles("thyroid.kde.scores"), relative: 1e-4) <= 1)
    }

    @Test(arguments: ["blob", "thyroid"])
    func kernelDensityCrossValidationPicksScikitLearnsBandwidth(_ dataSet: String) throws {
        let train = dataSet == "blob" ? reference.blob.train : ThyroidSplit.shared.train
        var detector = KernelDensity(.init(bandwidthGrid: reference.doubles("\(dataSet).kde.cv.grid")))
        try detector.fit(TrainingData(unlabeled: train), context: TrainingContext())
        #expect(detector.selectedBandwidth == reference.double("\(dataSet).kde.cv.selected"))
        let expected = reference.doubles("\(dataSet).kde.cv.cv_scores")
        for (ours, theirs) in zip(detector.crossValidationScores, expected) {
            #expect(abs(ours - theirs) <= 1e-7 * abs(theirs))
        }
    }

    @Test(arguments: [
        ("blob.ocsvm_default", OneClassSVM.Configuration()),
        ("blob.ocsvm_nu01_gamma05", OneClassSVM.Configuration(nu: 0.1, gamma: .value(0.5))),
        ("thyroid.ocsvm", OneClassSVM.Configuration(nu: 0.1)),
    ])
    func oneClassSVMMatchesLIBSVM(_ key: String, _ configuration: OneClassSVM.Configuration) throws {
        let (train, test) =
            key.hasPrefix("blob")
            ? (reference.blob.train, reference.blob.test) : (ThyroidSplit.shared.train, ThyroidSplit.shared.test)
        var detector = OneClassSVM(configuration)
        try detector.fit(TrainingData(unlabeled: train), context: TrainingContext())
        let model = try #require(detector.model)
        #expect(abs(model.gamma - reference.double("\(key).gamma")) <= 1e-9 * model.gamma)
        let rho = reference.double("\(key).rho")
        #expect(abs(model.rho - rho) <= 1e-3 * abs(rho))
        let scores = try detector.score(test, context: InferenceContext())
        let expected = reference.doubles("\(key).scores")
        // Decision values within 1e-3 of the largest one: both solutions meet LIBSVM's tolerance.
        let scale = expected.map(abs).max()!
        #expect(worstMismatch(scores, expected, relative: 0, absolute: 1e-3 * scale) <= 1)
        let supportVectors = Double(reference.double("\(key).support_vectors"))
        #expect(abs(Double(model.coefficients.count) - supportVectors) <= 0.02 * supportVectors)
    }

    @Test func pcaMatchesPyOD() throws {
        let thyroid = ThyroidSplit.shared
        let cases: [(String, PCAReconstruction.Configuration)] = [
            ("all", .init()), ("c4_s2", .init(components: 4, selectedComponents: 2)),
        ]
        for (key, configuration) in cases {
            var detector = PCAReconstruction(configuration)
            try detector.fit(TrainingData(unlabeled: thyroid.train), context: TrainingContext())
            let variances = try #require(detector.model).explainedVariance
            #expect(
                worstMismatch(
                    variances.map(Float.init), reference.doubles("thyroid.pca.\(key).explained_variance"),
                    relative: 1e-6) <= 1)
            let pyod = try detector.score(thyroid.test, context: InferenceContext())
            #expect(worstMismatch(pyod, reference.doubles("thyroid.pca.\(key).pyod"), relative: 1e-4) <= 1, "\(key)")

            var mahalanobis = configuration
            mahalanobis.scoring = .mahalanobis
            let plain = try fitAndScore(PCAReconstruction(mahalanobis), train: thyroid.train, test: thyroid.test)
            #expect(worstMismatch(plain, reference.doubles("thyroid.pca.\(key).mahalanobis"), relative: 1e-4) <= 1)
        }
        let reconstruction = try fitAndScore(
            PCAReconstruction(.init(components: 4, selectedComponents: 2, scoring: .reconstructionError)),
            train: thyroid.train, test: thyroid.test)
        #expect(
            worstMismatch(reconstruction, reference.doubles("thyroid.pca.c4_s2.reconstruction_error"), relative: 1e-4)
                <= 1)
    }

    @Test func singleGaussianMatchesScikitLearn() throws {
        let (train, test, _) = reference.blob
        let blob = try fitAndScore(GaussianMixture(), train: train, test: test)
        #expect(worstMismatch(blob, reference.doubles("blob.gmm1"), relative: 1e-4) <= 1)
        let thyroid = ThyroidSplit.shared
        let scores = try fitAndScore(GaussianMixture(), train: thyroid.train, test: thyroid.test)
        #expect(worstMismatch(scores, reference.doubles("thyroid.gmm1.scores"), relative: 1e-4) <= 1)
    }

    @Test func gaussianMixtureReachesScikitLearnsAUROC() throws {
        let thyroid = ThyroidSplit.shared
        let aurocs = try (0..<3).map { seed in
            testAUROC(
                try fitAndScore(
                    GaussianMixture(.init(components: 4)), train: thyroid.train, test: thyroid.test, seed: UInt64(seed)),
                thyroid.labels)
        }
        let ours = aurocs.reduce(0, +) / 3
        #expect(abs(ours - reference.double("thyroid.gmm4.mean_auroc")) < 0.015, "ours \(aurocs)")
        let seedsOnly = try fitAndScore(
            GaussianMixture(.init(components: 4, initialization: .kMeansPlusPlus)), train: thyroid.train,
            test: thyroid.test)
        #expect(abs(testAUROC(seedsOnly, thyroid.labels) - reference.double("thyroid.gmm4.mean_auroc")) < 0.015)
    }

    @Test func isolationForestReachesScikitLearnsAUROC() throws {
        let thyroid = ThyroidSplit.shared
        let aurocs = try (0..<3).map { seed in
            testAUROC(
                try fitAndScore(IsolationForest(), train: thyroid.train, test: thyroid.test, seed: UInt64(seed)),
                thyroid.labels)
        }
        let ours = aurocs.reduce(0, +) / 3
        #expect(abs(ours - reference.double("thyroid.isolation_forest.mean_auroc")) < 0.015, "ours \(aurocs)")
    }
}
