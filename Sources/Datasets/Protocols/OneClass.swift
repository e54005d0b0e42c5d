import Tensors

/// One-class (one-vs-rest) protocol, METHODS.md §4.1: train on every training sample of the
/// normal classes (no labels of any kind); test on the entire test file, where samples of the
/// normal classes are normal and all others anomalies.
///
/// With several normal classes (for example the five fine classes of a CIFAR-100 superclass, or
/// class ids after mapping labels through `SuperclassMapping`), their union is normal.
public struct OneClassProtocol: Codable, Sendable, Equatable {
    public var normalClasses: [Int]
    /// Fraction of the training samples held out (at random) as `validation`; 0 in the papers.
    public var validationFraction: Double

    public init(normalClasses: [Int], validationFraction: Double = 0) {
        self.normalClasses = normalClasses
        self.validationFraction = validationFraction
    }

    public init(normalClass: Int, validationFraction: Double = 0) {
        self.init(normalClasses: [normalClass], validationFraction: validationFraction)
    }

    /// One protocol per class, each class normal in turn (10 runs for CIFAR-10, 20 for the
    /// CIFAR-100 superclasses, 30 for ImageNet-30).
    public static func grid(classes: [Int], validationFraction: Double = 0) -> [OneClassProtocol] {
        classes.map { OneClassProtocol(normalClass: $0, validationFraction: validationFraction) }
    }

    /// `trainLabels`/`testLabels`: class ids of the training and test files.
    /// The seed only matters when `validationFraction > 0`.
    public func makeSplit(trainLabels: [Int], testLabels: [Int], seed: UInt64) throws -> Split {
        try checkRatio(validationFraction, option: "validationFraction")
        try checkNonEmpty(trainLabels, name: "trainLabels")
        let byClass = indicesByClass(trainLabels)
        try checkClasses(normalClasses, option: "normalClasses", in: byClass)
        let test = try fullTestSet(testLabels: testLabels, normalClasses: Set(normalClasses))
        var split = Split(
            unlabeled: normalClasses.flatMap { byClass[$0]! },
            test: test.indices, testIsAnomaly: test.isAnomaly)
        var generator = SeededGenerator(seed: seed)
        try split.holdOutValidation(fraction: validationFraction, using: &generator)
        return split
    }
}

/// One-vs-rest *multimodal* protocol ("one-vs-nine"): the listed classes are the anomalies and
/// every other class of the data set is normal. Train on all training samples of the normal
/// classes; test on the entire test file. The complement of `OneClassProtocol`; the normal
/// classes are those that occur in the training labels.
public struct OneVsRestProtocol: Codable, Sendable, Equatable {
    public var anomalyClasses: [Int]
    public var validationFraction: Double

    public init(anomalyClasses: [Int], validationFraction: Double = 0) {
        self.anomalyClasses = anomalyClasses
        self.validationFraction = validationFraction
    }

    public init(anomalyClass: Int, validationFraction: Double = 0) {
        self.init(anomalyClasses: [anomalyClass], validationFraction: validationFraction)
    }

    public static func grid(classes: [Int], validationFraction: Double = 0) -> [OneVsRestProtocol] {
        classes.map { OneVsRestProtocol(anomalyClass: $0, validationFraction: validationFraction) }
    }

    public func makeSplit(trainLabels: [Int], testLabels: [Int], seed: UInt64) throws -> Split {
        try checkNonEmpty(trainLabels, name: "trainLabels")
        let byClass = indicesByClass(trainLabels)
        try checkClasses(anomalyClasses, option: "anomalyClasses", in: byClass)
        let anomalies = Set(anomalyClasses)
        let normal = byClass.keys.filter { !anomalies.contains($0) }.sorted()
        guard !normal.isEmpty else {
            throw ProtocolError.invalidOption(
                option: "anomalyClasses", value: "\(anomalyClasses)", problem: "leaves no normal class")
        }
        return try OneClassProtocol(normalClasses: normal, validationFraction: validationFraction)
            .makeSplit(trainLabels: trainLabels, testLabels: testLabels, seed: seed)
    }
}

/// A (normal class, known anomaly class) pair of the semi-supervised grid (§4.3–4.4).
public struct ClassPair: Codable, Sendable, Hashable {
    public var normalClass: Int
    public var knownAnomalyClass: Int

    public init(normalClass: Int, knownAnomalyClass: Int) {
        self.normalClass = normalClass
        self.knownAnomalyClass = knownAnomalyClass
    }
}

/// Enumerators of the experiment grids of §4.
public enum ExperimentGrid {
    /// Every ordered pair (normal class `c`, known anomaly class `a ≠ c`), normal class major:
    /// 10 × 9 = 90 pairs for CIFAR-10 (§4.3–4.4).
    public static func normalAnomalyPairs(classes: [Int]) -> [ClassPair] {
        classes.flatMap { c in
            classes.filter { $0 != c }.map { ClassPair(normalClass: c, knownAnomalyClass: $0) }
        }
    }

    /// The 90-run Deep SAD / Elsa grid for given ratios (§4.3): one semi-supervised protocol per
    /// (normal, known anomaly) pair, with γ_ln = γ_la = `labeledRatio`.
    public static func semiSupervised(
        classes: [Int], labeledRatio: Double, pollutionRatio: Double, validationFraction: Double = 0
    ) -> [SemiSupervisedProtocol] {
        normalAnomalyPairs(classes: classes).map {
            SemiSupervisedProtocol(
                normalClasses: [$0.normalClass], knownAnomalyClasses: [$0.knownAnomalyClass],
                labeledNormalRatio: labeledRatio, labeledAnomalyRatio: labeledRatio,
                pollutionRatio: pollutionRatio, counting: .deepSAD, validationFraction: validationFraction)
        }
    }

    /// The one-class grid (§4.1): each class normal in turn.
    public static func oneClass(classes: [Int]) -> [OneClassProtocol] {
        OneClassProtocol.grid(classes: classes)
    }
}
