import Datasets

/// Synthetic label arrays shaped like the real data sets (no pixels needed: splits only see labels).
enum SyntheticLabels {
    /// CIFAR-10-shaped training labels: 5000 per class × 10, class-interleaved (label = index mod 10).
    static let cifar10Train = (0..<50_000).map { $0 % 10 }
    /// CIFAR-10-shaped test labels: 1000 per class × 10, class-interleaved.
    static let cifar10Test = (0..<10_000).map { $0 % 10 }
    /// CIFAR-100-shaped fine labels: 500 per fine class (training), 100 per fine class (test).
    static let cifar100Train = (0..<50_000).map { $0 % 100 }
    static let cifar100Test = (0..<10_000).map { $0 % 100 }

    /// Thyroid-shaped anomaly labels: 3772 rows, 93 anomalies (1) scattered through the file.
    static let thyroid: [Int] = {
        var labels = [Int](repeating: 0, count: 3772)
        for k in 0..<93 { labels[17 + k * 40] = 1 }
        return labels
    }()
}

extension Split {
    /// The four training roles, pairwise disjoint.
    var trainingRolesAreDisjoint: Bool {
        let roles = [unlabeled, labeledNormal, labeledAnomalies, validation]
        return roles.reduce(0) { $0 + $1.count } == Set(roles.flatMap { $0 }).count
    }
}
