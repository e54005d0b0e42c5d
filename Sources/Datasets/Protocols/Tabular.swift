import Tensors

/// How a tabular data set is split (METHODS.md §4.8). Each reference code uses its own rule.
public enum TabularRule: Codable, Sendable, Equatable {
    /// DAGMM [U, from the paper]: a random `trainFraction` (0.5) of all rows is the training half,
    /// of which only the normal rows are trained on; the other rows are the test set (natural
    /// anomaly ratio). The anomalies of the training half are used nowhere.
    case dagmm(trainFraction: Double = 0.5)
    /// GOAD [C `data_loader.py`]: the normal rows are split in half (`n_train = ⌊N_norm/2⌋`);
    /// train on the first half; test on the second half plus all anomalies. Thyroid/Arrhythmia
    /// keep file order (`shuffleNormals: false`); KDD permutes the normals at random first.
    /// `anomalyLimit` keeps only a random subset of that many anomalies (KDDCUP-Rev: 24 319).
    case goad(shuffleNormals: Bool, anomalyLimit: Int? = nil)
    /// DROCC [C `process_odds.py`]: test = all anomalies plus as many randomly chosen normals
    /// (balanced 50/50); train = the remaining normals.
    case drocc
    /// ADBench: a stratified random split, `⌈testFraction·n⌉` test rows (0.3), class shares kept as
    /// in scikit-learn's `train_test_split(stratify=y)` (largest remainders; ties go to the lower
    /// class id). ADBench's unsupervised setting trains on *all* training rows, the contamination
    /// included without labels; those anomalies are reported as `pollution`.
    case adbench(testFraction: Double = 0.3)
}

/// A split of a single table whose labels are 0 (normal) or 1 (anomaly), METHODS.md §4.8.
/// Training and test indices both refer to the table (`SplitSource.table`). A table without
/// anomalies splits too (all rules but DROCC's): its test set is normals only.
public struct TabularProtocol: Codable, Sendable, Equatable {
    public var rule: TabularRule

    public init(rule: TabularRule) { self.rule = rule }

    /// `labels[i]` is 1 when row `i` is an anomaly, 0 when normal.
    public func makeSplit(labels: [Int], seed: UInt64) throws -> Split {
        try checkNonEmpty(labels, name: "labels")
        if let row = labels.firstIndex(where: { $0 != 0 && $0 != 1 }) {
            throw ProtocolError.invalidLabels(
                name: "labels",
                problem: "row \(row) has label \(labels[row]); tabular labels are 0 (normal) or 1 (anomaly)")
        }
        let normals = labels.indices.filter { labels[$0] == 0 }
        let anomalies = labels.indices.filter { labels[$0] == 1 }
        // Without anomalies (the user's own normal-only data) the split still trains and
        // calibrates; the test set is normals only, so ranking metrics are left out.
        guard !normals.isEmpty else {
            throw ProtocolError.invalidLabels(name: "labels", problem: "needs normal (0) rows; all \(anomalies.count) are anomalies (1)")
        }
        if anomalies.isEmpty, rule == .drocc {
            throw ProtocolError.invalidLabels(
                name: "labels",
                problem: "the DROCC rule tests on as many normals as anomalies, and there are no anomalous (1) rows; use --tabular-rule goad, dagmm or adbench")
        }
        var generator = SeededGenerator(seed: seed)
        var train: [Int]
        var test: [Int]
        var pollution: [Int] = []
        switch rule {
        case .dagmm(let trainFraction):
            try checkOpenFraction(trainFraction, option: "trainFraction")
            let permutation = generator.permutation(labels.count)
            let trainCount = Int((Double(labels.count) * trainFraction).rounded(.towardZero))
            train = permutation.prefix(trainCount).filter { labels[$0] == 0 }
            test = Array(permutation.dropFirst(trainCount))
        case .goad(let shuffleNormals, let anomalyLimit):
            var normalStream = generator.split()
            var anomalyStream = generator.split()
            let ordered = shuffleNormals ? normalStream.permutation(normals.count).map { normals[$0] } : normals
            let trainCount = normals.count / 2
            var testAnomalies = anomalies
            if let anomalyLimit {
                guard anomalyLimit > 0 else {
                    throw ProtocolError.invalidOption(
                        option: "anomalyLimit", value: "\(anomalyLimit)", problem: "must be positive")
                }
                testAnomalies = try randomSubset(
                    anomalies, count: anomalyLimit, option: "anomalyLimit", using: &anomalyStream)
            }
            train = Array(ordered.prefix(trainCount))
            test = Array(ordered.dropFirst(trainCount)) + testAnomalies
        case .drocc:
            guard anomalies.count < normals.count else {
                throw ProtocolError.notEnoughSamples(
                    option: "DROCC rule (as many test normals as anomalies, plus training normals)",
                    requested: anomalies.count + 1, available: normals.count)
            }
            let permutation = generator.permutation(normals.count).map { normals[$0] }
            test = anomalies + permutation.prefix(anomalies.count)
            train = Array(permutation.dropFirst(anomalies.count))
        case .adbench(let testFraction):
            try checkOpenFraction(testFraction, option: "testFraction")
            let testCount = Int((testFraction * Double(labels.count)).rounded(.up))
            guard testCount < labels.count else {
                throw ProtocolError.notEnoughSamples(
                    option: "testFraction = \(testFraction)", requested: testCount + 1, available: labels.count)
            }
            let trainCounts = apportion(total: labels.count - testCount, among: [normals.count, anomalies.count])
            var normalStream = generator.split()
            var anomalyStream = generator.split()
            let trainNormals = normalStream.permutation(normals.count).prefix(trainCounts[0]).map { normals[$0] }
            let trainAnomalies = anomalyStream.permutation(anomalies.count).prefix(trainCounts[1]).map { anomalies[$0] }
            train = trainNormals + trainAnomalies
            pollution = trainAnomalies
            let inTrain = Set(train)
            test = labels.indices.filter { !inTrain.contains($0) }
        }
        test.sort()
        return Split(
            trainingSource: SplitSource.table, unlabeled: train, pollution: pollution,
            test: test, testIsAnomaly: test.map { labels[$0] == 1 }, testSourceNames: [SplitSource.table])
    }
}

/// Splits `total` among groups of sizes `sizes` in proportion, as scikit-learn's
/// `_approximate_mode`: floor of each share, then one more to the largest remainders (ties: the
/// earlier group).
func apportion(total: Int, among sizes: [Int]) -> [Int] {
    let all = sizes.reduce(0, +)
    let shares = sizes.map { Double($0) * Double(total) / Double(all) }
    var counts = shares.map { Int($0.rounded(.down)) }
    let remainders = sizes.indices.map { shares[$0] - Double(counts[$0]) }
    let order = sizes.indices.sorted { (remainders[$0], $1) > (remainders[$1], $0) }
    var left = total - counts.reduce(0, +)
    for group in order where left > 0 {
        counts[group] += 1
        left -= 1
    }
    return counts
}
