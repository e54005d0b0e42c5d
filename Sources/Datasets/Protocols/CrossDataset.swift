import Tensors

/// Cross-data-set protocol (METHODS.md §4.5) and "all classes normal" multimodal protocol
/// (§4.7, MNIST-C): train on every training sample of data set A (or of `inDistributionClasses`);
/// test on A's test file as normal plus one or more other test sets as anomalies.
///
/// Test entries refer to several index spaces: the split's `testSourceNames` are
/// `[normalTestSource] + anomalyTestSources`, and `testSource[i]` says which one `test[i]`
/// indexes. Entries come source by source, each in file order. AUROC per anomaly source (the
/// usual report) selects one source with `Split.testEntries(from:)` plus the normal source.
///
/// Examples: CIFAR-10 vs SVHN is `CrossDatasetProtocol(anomalyTestSources: ["svhn"])`; MNIST-C
/// is `CrossDatasetProtocol.mnistC()` (normals = the MNIST test file, anomalies = the 15
/// corruptions; pooled or per-corruption AUROC are both computable from the one split).
public struct CrossDatasetProtocol: Codable, Sendable, Equatable {
    /// Classes of A that are in-distribution; `nil`: all of them (the protocol of the papers).
    /// Test samples of A from other classes are left out of the test set.
    public var inDistributionClasses: [Int]?
    /// Name of the index space of A's test file.
    public var normalTestSource: String
    /// Names of the anomalous test sets, one index space each.
    public var anomalyTestSources: [String]
    /// Fraction of the training samples held out (at random) as `validation`.
    public var validationFraction: Double

    public init(
        inDistributionClasses: [Int]? = nil, normalTestSource: String = SplitSource.test,
        anomalyTestSources: [String], validationFraction: Double = 0
    ) {
        self.inDistributionClasses = inDistributionClasses
        self.normalTestSource = normalTestSource
        self.anomalyTestSources = anomalyTestSources
        self.validationFraction = validationFraction
    }

    /// The 15 MNIST-C corruptions, named as the folders of the published data set (§4.7).
    public static let mnistCCorruptions = [
        "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate",
        "brightness", "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag", "canny_edges",
    ]

    /// MNIST-C multimodal protocol (§4.7): train on all ten digits; the uncorrupted test images
    /// are normal, each corruption's images anomalous.
    public static func mnistC(corruptions: [String] = mnistCCorruptions) -> CrossDatasetProtocol {
        CrossDatasetProtocol(anomalyTestSources: corruptions)
    }

    /// `trainLabels`/`testLabels`: class ids of A's training and test files;
    /// `anomalyTestCounts`: number of samples in each anomalous test set, by source name.
    public func makeSplit(
        trainLabels: [Int], testLabels: [Int], anomalyTestCounts: [String: Int], seed: UInt64
    ) throws -> Split {
        try checkRatio(validationFraction, option: "validationFraction")
        try checkNonEmpty(trainLabels, name: "trainLabels")
        try checkNonEmpty(testLabels, name: "testLabels")
        guard !anomalyTestSources.isEmpty else {
            throw ProtocolError.invalidOption(
                option: "anomalyTestSources", value: "[]", problem: "needs at least one anomalous test set")
        }
        let names = [normalTestSource] + anomalyTestSources
        if Set(names).count != names.count {
            throw ProtocolError.invalidOption(
                option: "anomalyTestSources", value: "\(anomalyTestSources)",
                problem: "repeats a source name (or reuses normalTestSource '\(normalTestSource)')")
        }
        var unlabeled = Array(trainLabels.indices)
        var normalTest = Array(testLabels.indices)
        if let classes = inDistributionClasses {
            let byClass = indicesByClass(trainLabels)
            try checkClasses(classes, option: "inDistributionClasses", in: byClass)
            let keep = Set(classes)
            unlabeled = classes.flatMap { byClass[$0]! }
            normalTest = normalTest.filter { keep.contains(testLabels[$0]) }
            guard !normalTest.isEmpty else {
                throw ProtocolError.invalidLabels(
                    name: "testLabels", problem: "holds no sample of inDistributionClasses \(classes)")
            }
        }
        var test = normalTest
        var isAnomaly = Array(repeating: false, count: normalTest.count)
        var source = Array(repeating: 0, count: normalTest.count)
        for (position, name) in anomalyTestSources.enumerated() {
            guard let count = anomalyTestCounts[name] else {
                throw ProtocolError.invalidOption(
                    option: "anomalyTestCounts", value: "\(anomalyTestCounts.keys.sorted())",
                    problem: "gives no size for the anomalous test set '\(name)'")
            }
            guard count > 0 else {
                throw ProtocolError.notEnoughSamples(
                    option: "anomalyTestCounts[\(name)]", requested: 1, available: count)
            }
            test += 0..<count
            isAnomaly += repeatElement(true, count: count)
            source += repeatElement(position + 1, count: count)
        }
        var split = Split(
            unlabeled: unlabeled, test: test, testIsAnomaly: isAnomaly, testSourceNames: names, testSource: source)
        var generator = SeededGenerator(seed: seed)
        try split.holdOutValidation(fraction: validationFraction, using: &generator)
        return split
    }
}
