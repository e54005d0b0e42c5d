// Threshold-free ranking metrics and curves, matching scikit-learn (METHODS.md §1.7).

/// Area under the ROC curve of anomaly `scores` against `labels` (anomaly = positive class).
///
/// Equals `P(score(anomaly) > score(normal)) + ½·P(tie)` over all (anomaly, normal) pairs, i.e.
/// scikit-learn's `roc_auc_score(labels, scores)`, ties included. O(n log n).
/// - Throws: `MetricsError` when lengths differ, a score is NaN, a label is not 0/1, or the
///   labels hold a single class (AUROC is undefined there; scikit-learn returns NaN).
public func auroc<Score: BinaryFloatingPoint, Label: AnomalyLabel>(
    scores: [Score], labels: [Label]
) throws -> Double {
    let data = try LabeledScores(metric: "auroc", scores: scores, labels: labels)
    try data.requireBothClasses(metric: "auroc")
    return auroc(ThresholdSweep(data))
}

/// AUROC of two score lists, for either score orientation (METHODS.md §7 item 19).
///
/// With `.higherIsNormal` the scores are normality scores (Elsa, DROCC, …) and the result is
/// `P(normal > anomaly) + ½·P(tie)`; with `.higherIsAnomalous` it is `P(anomaly > normal) + ½·P(tie)`.
/// Example: normal `[3, 2]`, anomaly `[1, 2]`, `.higherIsNormal` ⇒ 0.875.
public func auroc<Score: BinaryFloatingPoint>(
    normalScores: [Score], anomalyScores: [Score], orientation: ScoreOrientation
) throws -> Double {
    let sign: Score = orientation == .higherIsNormal ? -1 : 1
    let scores = (normalScores + anomalyScores).map { sign * $0 }
    let labels =
        [Bool](repeating: false, count: normalScores.count)
        + [Bool](repeating: true, count: anomalyScores.count)
    return try auroc(scores: scores, labels: labels)
}

/// Average precision: `Σₖ (Rₖ − Rₖ₋₁)·Pₖ` over the distinct thresholds, from the highest score
/// down (a step-wise, non-interpolated area under the precision–recall curve).
///
/// Equals scikit-learn's `average_precision_score(labels, scores)`; the usual meaning of "AUPR"
/// in anomaly-detection benchmarks (PyOD, ADBench). See `auprTrapezoidal` for the other one.
/// - Throws: `MetricsError` for invalid input or when no anomaly is present.
public func averagePrecision<Score: BinaryFloatingPoint, Label: AnomalyLabel>(
    scores: [Score], labels: [Label]
) throws -> Double {
    let data = try LabeledScores(metric: "averagePrecision", scores: scores, labels: labels)
    try data.requireAnomaly(metric: "averagePrecision")
    return averagePrecision(ThresholdSweep(data))
}

/// Area under the precision–recall curve by the trapezoidal rule, through every point of
/// `precisionRecallCurve` including its end point (recall 0, precision 1).
///
/// Equals scikit-learn's `auc(recall, precision)` after `precision_recall_curve`. Linear
/// interpolation between PR points is optimistic; prefer `averagePrecision` unless a paper used this.
/// - Throws: `MetricsError` for invalid input or when no anomaly is present.
public func auprTrapezoidal<Score: BinaryFloatingPoint, Label: AnomalyLabel>(
    scores: [Score], labels: [Label]
) throws -> Double {
    let data = try LabeledScores(metric: "auprTrapezoidal", scores: scores, labels: labels)
    try data.requireAnomaly(metric: "auprTrapezoidal")
    return auprTrapezoidal(ThresholdSweep(data))
}

/// Points of a ROC curve, in scikit-learn's `roc_curve` layout.
public struct ROCCurve: Codable, Sendable, Equatable {
    /// False-positive rate (fraction of normal samples flagged) at each threshold; increasing, 0 … 1.
    public var falsePositiveRates: [Double]
    /// True-positive rate (fraction of anomalies flagged) at each threshold; increasing, 0 … 1.
    public var truePositiveRates: [Double]
    /// Decreasing thresholds; point `i` flags every score `>= thresholds[i]`. The first is
    /// `+infinity` (nothing flagged), as in scikit-learn ≥ 1.3. JSON needs a
    /// `nonConformingFloatEncodingStrategy` for it.
    public var thresholds: [Double]

    public init(falsePositiveRates: [Double], truePositiveRates: [Double], thresholds: [Double]) {
        self.falsePositiveRates = falsePositiveRates
        self.truePositiveRates = truePositiveRates
        self.thresholds = thresholds
    }
}

/// The ROC curve of anomaly `scores` against `labels`: one point per distinct score plus the
/// origin, as scikit-learn's `roc_curve(labels, scores, drop_intermediate:)`.
///
/// - Parameter dropIntermediate: drop points collinear with their neighbours (scikit-learn's
///   default); they change neither the plot nor the area. `false` keeps every distinct threshold.
/// - Throws: `MetricsError` for invalid input or a single-class test set.
public func rocCurve<Score: BinaryFloatingPoint, Label: AnomalyLabel>(
    scores: [Score], labels: [Label], dropIntermediate: Bool = true
) throws -> ROCCurve {
    let data = try LabeledScores(metric: "rocCurve", scores: scores, labels: labels)
    try data.requireBothClasses(metric: "rocCurve")
    let sweep = ThresholdSweep(data)
    var kept = Array(sweep.thresholds.indices)
    let count = kept.count
    if dropIntermediate && count > 2 {
        let fps = sweep.falsePositives
        let tps = sweep.truePositives
        kept = kept.filter { i in
            i == 0 || i == count - 1
                || fps[i - 1] - 2 * fps[i] + fps[i + 1] != 0
                || tps[i - 1] - 2 * tps[i] + tps[i + 1] != 0
        }
    }
    let normals = Double(sweep.normalCount)
    let anomalies = Double(sweep.anomalyCount)
    return ROCCurve(
        falsePositiveRates: [0] + kept.map { Double(sweep.falsePositives[$0]) / normals },
        truePositiveRates: [0] + kept.map { Double(sweep.truePositives[$0]) / anomalies },
        thresholds: [.infinity] + kept.map { sweep.thresholds[$0] })
}

/// Points of a precision–recall curve, in scikit-learn's `precision_recall_curve` layout.
public struct PrecisionRecallCurve: Codable, Sendable, Equatable {
    /// Precision at each threshold, then a final 1 (one more element than `thresholds`).
    public var precisions: [Double]
    /// Recall at each threshold, decreasing, then a final 0 (one more element than `thresholds`).
    public var recalls: [Double]
    /// Increasing thresholds; point `i` flags every score `>= thresholds[i]`.
    public var thresholds: [Double]

    public init(precisions: [Double], recalls: [Double], thresholds: [Double]) {
        self.precisions = precisions
        self.recalls = recalls
        self.thresholds = thresholds
    }
}

/// The precision–recall curve (anomaly = positive class) of `scores` against `labels`, as
/// scikit-learn's `precision_recall_curve(labels, scores, drop_intermediate:)`.
///
/// - Parameter dropIntermediate: keep only the first and last point of each run of equal recall
///   (scikit-learn's option; its default, and ours, is `false`).
/// - Throws: `MetricsError` for invalid input or when no anomaly is present.
public func precisionRecallCurve<Score: BinaryFloatingPoint, Label: AnomalyLabel>(
    scores: [Score], labels: [Label], dropIntermediate: Bool = false
) throws -> PrecisionRecallCurve {
    let data = try LabeledScores(metric: "precisionRecallCurve", scores: scores, labels: labels)
    try data.requireAnomaly(metric: "precisionRecallCurve")
    return precisionRecallCurve(ThresholdSweep(data), dropIntermediate: dropIntermediate)
}

/// Precision at rank n, as PyOD's `precision_n_scores`: flag the scores strictly above the
/// `100·(1 − n/N)`-th percentile (`percentile`, NumPy's linear rule) and return the fraction of
/// flagged samples that are anomalies (0 when none is flagged).
///
/// For distinct scores this flags exactly the top `n`; with ties at the cut it may flag fewer.
/// - Parameter n: the rank; `nil` uses the number of anomalies in `labels` (PyOD's default).
/// - Throws: `MetricsError` for invalid input, `n` outside `1...N`, or no anomaly when `n` is nil.
public func precisionAtN<Score: BinaryFloatingPoint, Label: AnomalyLabel>(
    scores: [Score], labels: [Label], n: Int? = nil
) throws -> Double {
    let data = try LabeledScores(metric: "precisionAtN", scores: scores, labels: labels)
    if n == nil { try data.requireAnomaly(metric: "precisionAtN") }
    return try precisionAtN(data, n: n ?? data.anomalyCount)
}

// MARK: - Shared implementations (one sort, many metrics)

/// AUROC from pair counts: each group of tied scores contributes its normals times the anomalies
/// ranked above it plus half the anomalies tied with it. Exact in `Double` up to 2⁵³ pairs.
func auroc(_ sweep: ThresholdSweep) -> Double {
    var doubledArea = 0.0
    var previousTruePositives = 0
    var previousFalsePositives = 0
    for group in sweep.thresholds.indices {
        let anomaliesInGroup = sweep.truePositives[group] - previousTruePositives
        let normalsInGroup = sweep.falsePositives[group] - previousFalsePositives
        doubledArea += Double(normalsInGroup) * Double(2 * previousTruePositives + anomaliesInGroup)
        previousTruePositives = sweep.truePositives[group]
        previousFalsePositives = sweep.falsePositives[group]
    }
    return doubledArea / (2 * Double(sweep.anomalyCount) * Double(sweep.normalCount))
}

func averagePrecision(_ sweep: ThresholdSweep) -> Double {
    let anomalies = Double(sweep.anomalyCount)
    var sum = 0.0
    var previousTruePositives = 0
    for group in sweep.thresholds.indices {
        let truePositives = sweep.truePositives[group]
        let flagged = truePositives + sweep.falsePositives[group]
        let recallGain = Double(truePositives - previousTruePositives) / anomalies
        sum += recallGain * Double(truePositives) / Double(flagged)
        previousTruePositives = truePositives
    }
    return sum
}

func auprTrapezoidal(_ sweep: ThresholdSweep) -> Double {
    let curve = precisionRecallCurve(sweep, dropIntermediate: false)
    var area = 0.0
    for i in 0..<(curve.recalls.count - 1) {
        area += (curve.recalls[i] - curve.recalls[i + 1]) * (curve.precisions[i] + curve.precisions[i + 1]) / 2
    }
    return area
}

func precisionRecallCurve(_ sweep: ThresholdSweep, dropIntermediate: Bool) -> PrecisionRecallCurve {
    var kept = Array(sweep.thresholds.indices)
    let count = kept.count
    if dropIntermediate && count > 2 {
        let tps = sweep.truePositives
        kept = kept.filter { i in
            i == 0 || i == count - 1 || tps[i] != tps[i - 1] || tps[i + 1] != tps[i]
        }
    }
    let anomalies = Double(sweep.anomalyCount)
    let descending = kept.map { i -> (precision: Double, recall: Double, threshold: Double) in
        let truePositives = Double(sweep.truePositives[i])
        // Every threshold flags at least the samples equal to it, so the denominator is positive.
        let flagged = truePositives + Double(sweep.falsePositives[i])
        return (truePositives / flagged, truePositives / anomalies, sweep.thresholds[i])
    }
    return PrecisionRecallCurve(
        precisions: descending.reversed().map(\.precision) + [1],
        recalls: descending.reversed().map(\.recall) + [0],
        thresholds: descending.reversed().map(\.threshold))
}

func precisionAtN(_ data: LabeledScores, n: Int) throws -> Double {
    guard (1...data.count).contains(n) else {
        throw MetricsError.invalidArgument(
            metric: "precisionAtN", message: "n must be in 1...\(data.count) (the number of scores), got \(n)")
    }
    let outlierFraction = Double(n) / Double(data.count)
    let cut = linearPercentile(sorted: data.scores.sorted(), 100 * (1 - outlierFraction))
    var flagged = 0
    var flaggedAnomalies = 0
    for (score, isAnomaly) in zip(data.scores, data.isAnomaly) where score > cut {
        flagged += 1
        if isAnomaly { flaggedAnomalies += 1 }
    }
    return flagged == 0 ? 0 : Double(flaggedAnomalies) / Double(flagged)
}
