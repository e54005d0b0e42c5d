import Tensors

/// How labelled counts and pollution are derived from the ratios. The two reference codes
/// disagree (METHODS.md §4.2, §4.3, §2.2.5, §7 items 9 and 13).
public enum LabelCounting: String, Codable, Sendable, CaseIterable {
    /// Deep SAD / Elsa (`create_semisupervised_setting`): solve the linear system of §4.3,
    /// truncate each count; sample labelled normals, labelled anomalies (known classes only)
    /// and pollution (all anomaly classes) at random.
    case deepSAD
    /// HSCL (`get_subclass_with_mixed_dataset`, §2.2.5): per-class counts rounded half to even,
    /// taken in index order (no randomness); labelled anomalies from every anomaly class.
    case hscl
}

/// Sizes of the four training roles of a semi-supervised split.
public struct SemiSupervisedCounts: Codable, Sendable, Equatable {
    public var labeledNormal: Int
    public var unlabeledNormal: Int
    public var pollution: Int
    public var labeledAnomalies: Int

    public init(labeledNormal: Int, unlabeledNormal: Int, pollution: Int, labeledAnomalies: Int) {
        self.labeledNormal = labeledNormal
        self.unlabeledNormal = unlabeledNormal
        self.pollution = pollution
        self.labeledAnomalies = labeledAnomalies
    }

    /// Deep SAD / Elsa counts (METHODS.md §4.3). The reference code solves
    ///
    ///     n_kn + n_un = N                                  (every normal-class image is used)
    ///     n_kn = γ_ln · (n_kn + n_un + n_uo + n_ka)        (labelled normals: share of all)
    ///     n_ka = γ_la · (n_kn + n_un + n_uo + n_ka)        (labelled anomalies: share of all)
    ///     n_uo = γ_p  · (n_un + n_uo)                      (pollution: share of the unlabelled)
    ///
    /// and truncates each solution with `int()`. Its unique solution, with total
    /// `T = N / (γ_ln + (1 − γ_p)(1 − γ_ln − γ_la))`, is `n_kn = γ_ln T`, `n_ka = γ_la T`,
    /// `n_un = (1 − γ_p)(1 − γ_ln − γ_la) T`, `n_uo = γ_p (1 − γ_ln − γ_la) T`.
    ///
    /// Truncation: where the exact solution is an integer (e.g. `n_un = 5000` for γ = (0, 0, .1)),
    /// LAPACK's rounding lands on either side of it depending on the build, so a value within
    /// 1e-9 (relative) of an integer counts as that integer; everywhere else this equals
    /// `int(numpy.linalg.solve(...))` (checked against numpy on a grid of 485 000 settings).
    /// CIFAR-10 (N = 5000): (.05, .05, 0) ⇒ (263, 4736, 0, 263); (.05, .05, .10) ⇒ (290, 4709, 523, 290).
    public static func deepSAD(
        normalCount: Int, labeledNormalRatio: Double, labeledAnomalyRatio: Double, pollutionRatio: Double
    ) throws -> SemiSupervisedCounts {
        try checkRatio(labeledNormalRatio, option: "labeledNormalRatio")
        try checkRatio(labeledAnomalyRatio, option: "labeledAnomalyRatio")
        try checkRatio(pollutionRatio, option: "pollutionRatio")
        let unlabeledShare = 1 - labeledNormalRatio - labeledAnomalyRatio
        guard unlabeledShare > 0 else {
            throw ProtocolError.invalidOption(
                option: "labeledNormalRatio + labeledAnomalyRatio",
                value: "\(labeledNormalRatio + labeledAnomalyRatio)",
                problem: "must be below 1 (nothing would be left unlabelled)")
        }
        let total = Double(normalCount) / (labeledNormalRatio + (1 - pollutionRatio) * unlabeledShare)
        return SemiSupervisedCounts(
            labeledNormal: truncatedCount(labeledNormalRatio * total),
            unlabeledNormal: truncatedCount((1 - pollutionRatio) * unlabeledShare * total),
            pollution: truncatedCount(pollutionRatio * unlabeledShare * total),
            labeledAnomalies: truncatedCount(labeledAnomalyRatio * total))
    }

    /// `int(x)` for a non-negative count, with values within 1e-9 (relative) of an integer
    /// taken as that integer (see `deepSAD`).
    static func truncatedCount(_ x: Double) -> Int {
        let nearest = x.rounded()
        if abs(x - nearest) <= 1e-9 * max(1, abs(x)) { return Int(nearest) }
        return Int(x.rounded(.down))
    }
}

/// HSCL's per-class counts (METHODS.md §2.2.5, `get_subclass_with_mixed_dataset`), with Python's
/// `round` (half to even): labelled normals `round(γ_ln·N)`; from each of the `A` anomaly classes
/// `round(N·γ_la/(1−γ_la)/A)` labelled anomalies, then `round(N·γ_p/(1−γ_p)/A)` pollution.
/// CIFAR-10, N = 5000, A = 9: 250 labelled normals, 29 labelled anomalies per class, pollution
/// 29 per class at γ_p = .05 and 62 at γ_p = .10.
public struct HSCLCounts: Codable, Sendable, Equatable {
    public var labeledNormal: Int
    public var labeledAnomaliesPerClass: Int
    public var pollutionPerClass: Int

    public init(
        normalCount: Int, anomalyClassCount: Int,
        labeledNormalRatio: Double, labeledAnomalyRatio: Double, pollutionRatio: Double
    ) throws {
        try checkRatio(labeledNormalRatio, option: "labeledNormalRatio")
        try checkRatio(labeledAnomalyRatio, option: "labeledAnomalyRatio")
        try checkRatio(pollutionRatio, option: "pollutionRatio")
        let n = Double(normalCount)
        let classes = Double(max(anomalyClassCount, 1))
        labeledNormal = Int((n * labeledNormalRatio).rounded(.toNearestOrEven))
        labeledAnomaliesPerClass = Int(
            (n * labeledAnomalyRatio / (1 - labeledAnomalyRatio) / classes).rounded(.toNearestOrEven))
        pollutionPerClass = Int((n * pollutionRatio / (1 - pollutionRatio) / classes).rounded(.toNearestOrEven))
    }
}

/// Semi-supervised protocol with labelled normals, labelled anomalies and pollution
/// (METHODS.md §4.3; Scenario 2 of Elsa/HSCL is this with γ_l = .05, γ_p ∈ {0, .05, .10}).
///
/// * `counting == .deepSAD` (Deep SAD / Elsa, §4.3): counts from `SemiSupervisedCounts.deepSAD`;
///   labelled and unlabelled normals are a random partition of the normal-class images (one
///   normal image may be left out by truncation, as in the reference); labelled anomalies are
///   drawn at random from `knownAnomalyClasses` (`nil`: every anomaly class); pollution is drawn
///   at random from every anomaly class. Unlike the reference code, which draws the two
///   independently so that one image can be both, pollution is drawn from the anomalies not
///   already labelled, keeping the roles disjoint [A].
/// * `counting == .hscl` (§2.2.5): `HSCLCounts`, taken in index order; labelled anomalies come
///   from every anomaly class, so `knownAnomalyClasses` must be `nil`.
///
/// Anomaly classes are all classes of `trainLabels` other than `normalClasses`. The test set is the
/// whole test file, anomalies being every non-normal class (not only the known one).
/// `validationFraction` (Elsa: 0.05, §2.1.6–2.1.7) moves that share of the unlabelled indices,
/// normal and polluted alike, to `validation`.
public struct SemiSupervisedProtocol: Codable, Sendable, Equatable {
    public var normalClasses: [Int]
    public var knownAnomalyClasses: [Int]?
    public var labeledNormalRatio: Double
    public var labeledAnomalyRatio: Double
    public var pollutionRatio: Double
    public var counting: LabelCounting
    public var validationFraction: Double

    public init(
        normalClasses: [Int], knownAnomalyClasses: [Int]?,
        labeledNormalRatio: Double, labeledAnomalyRatio: Double, pollutionRatio: Double,
        counting: LabelCounting, validationFraction: Double = 0
    ) {
        self.normalClasses = normalClasses
        self.knownAnomalyClasses = knownAnomalyClasses
        self.labeledNormalRatio = labeledNormalRatio
        self.labeledAnomalyRatio = labeledAnomalyRatio
        self.pollutionRatio = pollutionRatio
        self.counting = counting
        self.validationFraction = validationFraction
    }

    /// Elsa's setting (§4.3, §2.1.6): one normal class, one known anomaly class, γ_ln = γ_la =
    /// `labeledRatio`, Deep SAD counting, 5 % of the unlabelled data held out for early stopping.
    public static func elsa(
        normalClass: Int, knownAnomalyClass: Int, labeledRatio: Double, pollutionRatio: Double,
        validationFraction: Double = 0.05
    ) -> SemiSupervisedProtocol {
        SemiSupervisedProtocol(
            normalClasses: [normalClass], knownAnomalyClasses: [knownAnomalyClass],
            labeledNormalRatio: labeledRatio, labeledAnomalyRatio: labeledRatio, pollutionRatio: pollutionRatio,
            counting: .deepSAD, validationFraction: validationFraction)
    }

    /// HSCL's code setting (§2.2.5): γ_ln = γ_la = `labeledRatio` (0.05 in the code), per-class
    /// counts in index order, labelled anomalies from every anomaly class, no validation.
    public static func hscl(normalClasses: [Int], labeledRatio: Double = 0.05, pollutionRatio: Double)
        -> SemiSupervisedProtocol
    {
        SemiSupervisedProtocol(
            normalClasses: normalClasses, knownAnomalyClasses: nil,
            labeledNormalRatio: labeledRatio, labeledAnomalyRatio: labeledRatio, pollutionRatio: pollutionRatio,
            counting: .hscl)
    }

    /// `trainLabels`/`testLabels`: class ids of the training and test files.
    public func makeSplit(trainLabels: [Int], testLabels: [Int], seed: UInt64) throws -> Split {
        try checkRatio(validationFraction, option: "validationFraction")
        let classes = try ClassLayout(trainLabels: trainLabels, normalClasses: normalClasses)
        let test = try fullTestSet(testLabels: testLabels, normalClasses: Set(normalClasses))
        var generator = SeededGenerator(seed: seed)
        // One stream per random choice (§8): changing one role's size leaves the others' draws alone.
        var normalStream = generator.split()
        var labeledAnomalyStream = generator.split()
        var pollutionStream = generator.split()
        var validationStream = generator.split()

        var split: Split
        switch counting {
        case .deepSAD:
            let counts = try SemiSupervisedCounts.deepSAD(
                normalCount: classes.normals.count, labeledNormalRatio: labeledNormalRatio,
                labeledAnomalyRatio: labeledAnomalyRatio, pollutionRatio: pollutionRatio)
            let known: [Int]
            if let knownAnomalyClasses {
                known = try classes.anomalyIndices(of: knownAnomalyClasses, option: "knownAnomalyClasses")
            } else {
                known = classes.anomalies
            }
            let permutation = normalStream.permutation(classes.normals.count)
            let labeledNormal = permutation.prefix(counts.labeledNormal).map { classes.normals[$0] }
            let unlabeledNormal = permutation.dropFirst(counts.labeledNormal).prefix(counts.unlabeledNormal)
                .map { classes.normals[$0] }
            let labeledAnomalies = try randomSubset(
                known, count: counts.labeledAnomalies,
                option: "labeledAnomalyRatio = \(labeledAnomalyRatio) (labelled anomalies from the known classes)",
                using: &labeledAnomalyStream)
            let taken = Set(labeledAnomalies)
            let pollution = try randomSubset(
                classes.anomalies.filter { !taken.contains($0) }, count: counts.pollution,
                option: "pollutionRatio = \(pollutionRatio) (anomalies left after labelling)", using: &pollutionStream)
            split = Split(
                unlabeled: unlabeledNormal + pollution, labeledNormal: labeledNormal,
                labeledAnomalies: labeledAnomalies, pollution: pollution,
                test: test.indices, testIsAnomaly: test.isAnomaly)
        case .hscl:
            if let knownAnomalyClasses {
                throw ProtocolError.invalidOption(
                    option: "knownAnomalyClasses", value: "\(knownAnomalyClasses)",
                    problem: "HSCL counting labels anomalies from every anomaly class; leave it unset (nil)")
            }
            split = try classes.hsclSplit(
                labeledNormalRatio: labeledNormalRatio, labeledAnomalyRatio: labeledAnomalyRatio,
                pollutionRatio: pollutionRatio, test: test)
        }
        try split.holdOutValidation(fraction: validationFraction, using: &validationStream)
        return split
    }
}

/// How pollution is drawn in the contaminated one-class protocol (METHODS.md §4.2).
public enum PollutionRule: String, Codable, Sendable, CaseIterable {
    /// Deep SAD / Elsa: `n_poll = ⌊N·γ_p/(1−γ_p)⌋` (the §4.3 system with no labels), drawn at
    /// random from the union of all anomaly classes; γ_p is relative to the unlabelled set.
    case deepSAD
    /// HSCL: `round(N·γ_p/(1−γ_p)/A)` from each of the `A` anomaly classes, the first in index
    /// order (deterministic).
    case hscl
    /// NSA: γ_p is the share of anomalies in the whole training set, `n_poll = round(N·γ_p/(1−γ_p))`
    /// (half to even), drawn uniformly from the union of the other classes. The paper states
    /// neither the rounding nor the draw: both are assumptions [A].
    case nsa
}

/// Contaminated ("polluted") one-class protocol, METHODS.md §4.2: all training images of the
/// normal classes plus unlabelled anomalies at pollution ratio γ_p, no labels. The test set is the
/// whole test file, as in §4.1.
public struct ContaminatedOneClassProtocol: Codable, Sendable, Equatable {
    public var normalClasses: [Int]
    public var pollutionRatio: Double
    public var rule: PollutionRule
    public var validationFraction: Double

    public init(normalClasses: [Int], pollutionRatio: Double, rule: PollutionRule, validationFraction: Double = 0) {
        self.normalClasses = normalClasses
        self.pollutionRatio = pollutionRatio
        self.rule = rule
        self.validationFraction = validationFraction
    }

    public init(normalClass: Int, pollutionRatio: Double, rule: PollutionRule, validationFraction: Double = 0) {
        self.init(
            normalClasses: [normalClass], pollutionRatio: pollutionRatio, rule: rule,
            validationFraction: validationFraction)
    }

    public func makeSplit(trainLabels: [Int], testLabels: [Int], seed: UInt64) throws -> Split {
        switch rule {
        case .deepSAD, .hscl:
            // The semi-supervised constructions with no labels are exactly the §4.2 rules.
            return try SemiSupervisedProtocol(
                normalClasses: normalClasses, knownAnomalyClasses: nil,
                labeledNormalRatio: 0, labeledAnomalyRatio: 0, pollutionRatio: pollutionRatio,
                counting: rule == .deepSAD ? .deepSAD : .hscl, validationFraction: validationFraction
            ).makeSplit(trainLabels: trainLabels, testLabels: testLabels, seed: seed)
        case .nsa:
            try checkRatio(pollutionRatio, option: "pollutionRatio")
            try checkRatio(validationFraction, option: "validationFraction")
            let classes = try ClassLayout(trainLabels: trainLabels, normalClasses: normalClasses)
            let test = try fullTestSet(testLabels: testLabels, normalClasses: Set(normalClasses))
            var generator = SeededGenerator(seed: seed)
            var pollutionStream = generator.split()
            var validationStream = generator.split()
            let count = Int(
                (Double(classes.normals.count) * pollutionRatio / (1 - pollutionRatio)).rounded(.toNearestOrEven))
            let pollution = try randomSubset(
                classes.anomalies, count: count, option: "pollutionRatio = \(pollutionRatio)",
                using: &pollutionStream)
            var split = Split(
                unlabeled: classes.normals + pollution, pollution: pollution,
                test: test.indices, testIsAnomaly: test.isAnomaly)
            try split.holdOutValidation(fraction: validationFraction, using: &validationStream)
            return split
        }
    }
}

// MARK: - Shared construction

/// The training labels seen through a choice of normal classes.
struct ClassLayout {
    let byClass: [Int: [Int]]
    /// Indices of the normal classes, ascending.
    let normals: [Int]
    /// Anomaly classes (every other class of the training labels), ascending.
    let anomalyClasses: [Int]
    /// Indices of the anomaly classes, ascending.
    let anomalies: [Int]

    init(trainLabels: [Int], normalClasses: [Int]) throws {
        try checkNonEmpty(trainLabels, name: "trainLabels")
        let byClass = indicesByClass(trainLabels)
        try checkClasses(normalClasses, option: "normalClasses", in: byClass)
        let normalSet = Set(normalClasses)
        let anomalyClasses = byClass.keys.filter { !normalSet.contains($0) }.sorted()
        self.byClass = byClass
        self.normals = normalClasses.flatMap { byClass[$0]! }.sorted()
        self.anomalyClasses = anomalyClasses
        self.anomalies = anomalyClasses.flatMap { byClass[$0]! }.sorted()
    }

    /// Indices of `classes`, which must be anomaly classes.
    func anomalyIndices(of classes: [Int], option: String) throws -> [Int] {
        try checkClasses(classes, option: option, in: byClass)
        let anomalySet = Set(anomalyClasses)
        if let normal = classes.first(where: { !anomalySet.contains($0) }) {
            throw ProtocolError.invalidOption(
                option: option, value: "\(normal)", problem: "is a normal class, so it cannot be a known anomaly class")
        }
        return classes.flatMap { byClass[$0]! }.sorted()
    }

    /// HSCL's deterministic construction (§2.2.5): first labelled normals in index order; per
    /// anomaly class, first the labelled anomalies, then the pollution.
    func hsclSplit(
        labeledNormalRatio: Double, labeledAnomalyRatio: Double, pollutionRatio: Double,
        test: (indices: [Int], isAnomaly: [Bool])
    ) throws -> Split {
        let counts = try HSCLCounts(
            normalCount: normals.count, anomalyClassCount: anomalyClasses.count,
            labeledNormalRatio: labeledNormalRatio, labeledAnomalyRatio: labeledAnomalyRatio,
            pollutionRatio: pollutionRatio)
        var labeledAnomalies: [Int] = []
        var pollution: [Int] = []
        for c in anomalyClasses {
            let members = byClass[c]!
            let needed = counts.labeledAnomaliesPerClass + counts.pollutionPerClass
            guard needed <= members.count else {
                throw ProtocolError.notEnoughSamples(
                    option: "labeledAnomalyRatio/pollutionRatio (HSCL counts for anomaly class \(c))",
                    requested: needed, available: members.count)
            }
            labeledAnomalies += members.prefix(counts.labeledAnomaliesPerClass)
            pollution += members.dropFirst(counts.labeledAnomaliesPerClass).prefix(counts.pollutionPerClass)
        }
        return Split(
            unlabeled: Array(normals.dropFirst(counts.labeledNormal)) + pollution,
            labeledNormal: Array(normals.prefix(counts.labeledNormal)),
            labeledAnomalies: labeledAnomalies, pollution: pollution,
            test: test.indices, testIsAnomaly: test.isAnomaly)
    }
}
