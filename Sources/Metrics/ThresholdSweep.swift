/// Cumulative confusion counts at every distinct score, from the highest down: the anomaly-class
/// counts when everything scoring at or above `thresholds[i]` is predicted anomalous.
/// scikit-learn's `confusion_matrix_at_thresholds` (formerly `_binary_clf_curve`); O(n log n).
struct ThresholdSweep {
    /// The distinct scores, strictly decreasing.
    let thresholds: [Double]
    /// Anomalies scoring at or above `thresholds[i]`.
    let truePositives: [Int]
    /// Normal samples scoring at or above `thresholds[i]`.
    let falsePositives: [Int]

    var anomalyCount: Int { truePositives.last ?? 0 }
    var normalCount: Int { falsePositives.last ?? 0 }

    init(_ data: LabeledScores) {
        let ranked = zip(data.scores, data.isAnomaly).sorted { $0.0 > $1.0 }
        var thresholds = [Double]()
        var truePositives = [Int]()
        var falsePositives = [Int]()
        var anomaliesSoFar = 0
        var normalsSoFar = 0
        for (index, (score, isAnomaly)) in ranked.enumerated() {
            if isAnomaly { anomaliesSoFar += 1 } else { normalsSoFar += 1 }
            // Close a group of tied scores at its last member.
            if index == ranked.count - 1 || ranked[index + 1].0 != score {
                thresholds.append(score)
                truePositives.append(anomaliesSoFar)
                falsePositives.append(normalsSoFar)
            }
        }
        self.thresholds = thresholds
        self.truePositives = truePositives
        self.falsePositives = falsePositives
    }
}
