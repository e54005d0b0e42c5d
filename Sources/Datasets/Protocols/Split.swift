import Tensors

/// The outcome of an experiment protocol: which samples play which role, as index sets.
///
/// A split never copies samples. Training roles index one *training source* (the data set's
/// training file, or the single table of a tabular data set); test entries index one of the
/// named *test sources* (the data set's own test file, the table, or, for cross-data-set
/// protocols, another data set's test file). Every index list is ascending and the training
/// roles are pairwise disjoint, so a split is cheap to store, compare and audit
/// (see `SplitManifest`).
public struct Split: Codable, Sendable, Equatable {
    /// Name of the index space of the training roles: `SplitSource.train` or `SplitSource.table`.
    public var trainingSource: String
    /// Unlabelled training samples (normals plus any pollution), excluding `validation`.
    public var unlabeled: [Int]
    /// Training samples given to the detector with the label "normal".
    public var labeledNormal: [Int]
    /// Training samples given to the detector with the label "anomaly".
    public var labeledAnomalies: [Int]
    /// Unlabelled samples held out for model selection (Elsa's early stopping, §2.1.6–2.1.7).
    public var validation: [Int]
    /// Ground truth, never shown to a detector: the anomalies hidden among `unlabeled` and
    /// `validation` (the contamination of §4.2). A subset of `unlabeled ∪ validation`.
    public var pollution: [Int]
    /// Test entries: `test[i]` indexes the source `testSourceNames[testSource[i]]`.
    public var test: [Int]
    /// `testIsAnomaly[i]` is the ground truth of `test[i]`.
    public var testIsAnomaly: [Bool]
    /// Names of the index spaces that test entries refer to (usually just `["test"]`).
    public var testSourceNames: [String]
    /// For each test entry, its position in `testSourceNames`.
    public var testSource: [Int]

    public init(
        trainingSource: String = SplitSource.train,
        unlabeled: [Int], labeledNormal: [Int] = [], labeledAnomalies: [Int] = [],
        validation: [Int] = [], pollution: [Int] = [],
        test: [Int], testIsAnomaly: [Bool],
        testSourceNames: [String] = [SplitSource.test], testSource: [Int]? = nil
    ) {
        self.trainingSource = trainingSource
        self.unlabeled = unlabeled.sorted()
        self.labeledNormal = labeledNormal.sorted()
        self.labeledAnomalies = labeledAnomalies.sorted()
        self.validation = validation.sorted()
        self.pollution = pollution.sorted()
        self.test = test
        self.testIsAnomaly = testIsAnomaly
        self.testSourceNames = testSourceNames
        self.testSource = testSource ?? Array(repeating: 0, count: test.count)
    }

    /// The indices of one role.
    public func indices(_ role: SplitRole) -> [Int] {
        switch role {
        case .unlabeled: return unlabeled
        case .labeledNormal: return labeledNormal
        case .labeledAnomalies: return labeledAnomalies
        case .validation: return validation
        case .pollution: return pollution
        case .test: return test
        }
    }

    /// Number of samples in each role, keyed by `SplitRole.rawValue`.
    public var roleCounts: [String: Int] {
        Dictionary(uniqueKeysWithValues: SplitRole.allCases.map { ($0.rawValue, indices($0).count) })
            .merging(["testAnomalies": testIsAnomaly.filter { $0 }.count]) { a, _ in a }
    }

    /// How many samples of each class a training role holds, given the training labels.
    public func classComposition(_ role: SplitRole, labels: [Int]) -> [Int: Int] {
        precondition(role != .test, "classComposition: test entries may come from several sources")
        var counts: [Int: Int] = [:]
        for index in indices(role) { counts[labels[index], default: 0] += 1 }
        return counts
    }

    /// The test entries that come from the source called `name`: indices and anomaly flags.
    public func testEntries(from name: String) -> (indices: [Int], isAnomaly: [Bool]) {
        guard let source = testSourceNames.firstIndex(of: name) else { return ([], []) }
        var indices: [Int] = []
        var flags: [Bool] = []
        for i in test.indices where testSource[i] == source {
            indices.append(test[i])
            flags.append(testIsAnomaly[i])
        }
        return (indices, flags)
    }

    /// Problems that make this split unusable (empty when it is consistent): parallel arrays of
    /// unequal length, negative or unsorted indices, overlapping training roles, pollution
    /// outside the unlabelled roles, test sources out of range.
    public func inconsistencies() -> [String] {
        var problems: [String] = []
        if testIsAnomaly.count != test.count {
            problems.append("test has \(test.count) entries but testIsAnomaly has \(testIsAnomaly.count)")
        }
        if testSource.count != test.count {
            problems.append("test has \(test.count) entries but testSource has \(testSource.count)")
        }
        if let bad = testSource.first(where: { $0 < 0 || $0 >= testSourceNames.count }) {
            problems.append("testSource value \(bad) does not name one of \(testSourceNames.count) test sources")
        }
        for role in SplitRole.allCases {
            let list = indices(role)
            if let negative = list.first(where: { $0 < 0 }) {
                problems.append("\(role.rawValue) holds a negative index \(negative)")
            }
            if role != .test, zip(list, list.dropFirst()).contains(where: { $0 >= $1 }) {
                problems.append("\(role.rawValue) is not strictly ascending")
            }
        }
        let training: [SplitRole] = [.unlabeled, .labeledNormal, .labeledAnomalies, .validation]
        for (i, a) in training.enumerated() {
            let setA = Set(indices(a))
            for b in training[(i + 1)...] where !setA.isDisjoint(with: indices(b)) {
                problems.append("\(a.rawValue) and \(b.rawValue) share samples")
            }
        }
        if !Set(pollution).isSubset(of: Set(unlabeled).union(validation)) {
            problems.append("pollution holds samples that are neither unlabeled nor validation")
        }
        return problems
    }
}

/// The roles of a split, named as in the JSON manifest.
public enum SplitRole: String, Codable, Sendable, CaseIterable {
    case unlabeled, labeledNormal, labeledAnomalies, validation, pollution, test
}

/// Conventional names of index spaces.
public enum SplitSource {
    /// The data set's training file.
    public static let train = "train"
    /// The data set's own test file.
    public static let test = "test"
    /// The single table of a tabular data set (training and test rows both index it).
    public static let table = "table"
}

// MARK: - Building blocks shared by the protocols

extension Split {
    /// Moves a random `⌊fraction · |unlabeled|⌋` of the unlabelled indices (normal and polluted
    /// alike) into `validation` — Elsa's early-stopping hold-out (§2.1.6: 5 %, drawn without
    /// replacement, `int()` truncation as in the reference code).
    mutating func holdOutValidation(fraction: Double, using generator: inout SeededGenerator) throws {
        guard fraction > 0 else { return }
        let count = Int((Double(unlabeled.count) * fraction).rounded(.towardZero))
        let chosen = Set(try randomSubset(unlabeled, count: count, option: "validationFraction", using: &generator))
        validation = (validation + chosen).sorted()
        unlabeled = unlabeled.filter { !chosen.contains($0) }
    }
}

/// The whole test file of a class-labelled data set: entry `i` is test sample `i`, an anomaly
/// when its class is not one of `normalClasses` (§4.1).
func fullTestSet(testLabels: [Int], normalClasses: Set<Int>) throws -> (indices: [Int], isAnomaly: [Bool]) {
    try checkNonEmpty(testLabels, name: "testLabels")
    let isAnomaly = testLabels.map { !normalClasses.contains($0) }
    guard isAnomaly.contains(false) else {
        throw ProtocolError.invalidLabels(
            name: "testLabels", problem: "holds no sample of the normal classes \(normalClasses.sorted())")
    }
    guard isAnomaly.contains(true) else {
        throw ProtocolError.invalidLabels(name: "testLabels", problem: "holds no anomalies (every sample is normal)")
    }
    return (Array(testLabels.indices), isAnomaly)
}
