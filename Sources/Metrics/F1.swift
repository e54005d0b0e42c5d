// F1 at a threshold, and the three tabular F1 protocols of METHODS.md §4.8.

/// The class whose precision, recall and F1 are reported.
public enum PositiveClass: String, Codable, Sendable {
    /// Anomalies are the positives (DAGMM, GOAD, and most benchmarks).
    case anomaly
    /// Normal samples are the positives (DROCC's tabular F1).
    case normal
}

/// How a threshold turns an anomaly score into a prediction.
public enum AnomalyDecisionRule: String, Codable, Sendable {
    /// Anomaly when `score >= threshold` (this module's convention; DAGMM, GOAD).
    case scoreAtOrAboveThreshold
    /// Anomaly when `score > threshold` (DROCC's rule seen from the anomaly side; PyOD's `predict`).
    case scoreAboveThreshold

    func isAnomaly(_ score: Double, threshold: Double) -> Bool {
        switch self {
        case .scoreAtOrAboveThreshold: score >= threshold
        case .scoreAboveThreshold: score > threshold
        }
    }
}

/// Counts of predictions against labels, with the anomaly class as positive.
public struct ConfusionMatrix: Codable, Sendable, Equatable, Hashable {
    /// Anomalies predicted anomalous.
    public var truePositives: Int
    /// Normal samples predicted anomalous.
    public var falsePositives: Int
    /// Anomalies predicted normal.
    public var falseNegatives: Int
    /// Normal samples predicted normal.
    public var trueNegatives: Int

    public init(truePositives: Int, falsePositives: Int, falseNegatives: Int, trueNegatives: Int) {
        self.truePositives = truePositives
        self.falsePositives = falsePositives
        self.falseNegatives = falseNegatives
        self.trueNegatives = trueNegatives
    }

    /// Counts `predictions` (`true` = predicted anomaly) against `labels`.
    /// - Throws: `MetricsError` when lengths differ or a label is not 0/1.
    public init<Label: AnomalyLabel>(predictions: [Bool], labels: [Label]) throws {
        let metric = "ConfusionMatrix"
        guard predictions.count == labels.count else {
            throw MetricsError.lengthMismatch(
                metric: metric, scoreCount: predictions.count, labelCount: labels.count)
        }
        self.init(truePositives: 0, falsePositives: 0, falseNegatives: 0, trueNegatives: 0)
        for (index, (predictedAnomaly, label)) in zip(predictions, labels).enumerated() {
            switch (predictedAnomaly, label.anomalyLabelValue) {
            case (true, 1): truePositives += 1
            case (true, 0): falsePositives += 1
            case (false, 1): falseNegatives += 1
            case (false, 0): trueNegatives += 1
            case (_, let value): throw MetricsError.invalidLabel(metric: metric, index: index, value: value)
            }
        }
    }

    /// Precision of `positiveClass`: correct predictions of it over all predictions of it (0 if none).
    public func precision(of positiveClass: PositiveClass) -> Double {
        let (hits, falseAlarms, _) = counts(of: positiveClass)
        return ratio(hits, hits + falseAlarms)
    }

    /// Recall of `positiveClass`: its members predicted as it over all its members (0 if none).
    public func recall(of positiveClass: PositiveClass) -> Double {
        let (hits, _, misses) = counts(of: positiveClass)
        return ratio(hits, hits + misses)
    }

    /// F1 of `positiveClass`: `2·TP / (2·TP + FP + FN)`, the harmonic mean of precision and
    /// recall (0 when both are 0), as scikit-learn's `f1_score(pos_label:, zero_division=0)`.
    public func f1(of positiveClass: PositiveClass) -> Double {
        let (hits, falseAlarms, misses) = counts(of: positiveClass)
        return ratio(2 * hits, 2 * hits + falseAlarms + misses)
    }

    private func counts(of positiveClass: PositiveClass) -> (hits: Int, falseAlarms: Int, misses: Int) {
        switch positiveClass {
        case .anomaly: (truePositives, falsePositives, falseNegatives)
        case .normal: (trueNegatives, falseNegatives, falsePositives)
        }
    }

    private func ratio(_ numerator: Int, _ denominator: Int) -> Double {
        denominator == 0 ? 0 : Double(numerator) / Double(denominator)
    }
}

/// Precision, recall and F1 of one class at one threshold.
public struct F1Score: Codable, Sendable, Equatable {
    /// The class these precision, recall and F1 are of.
    public var positiveClass: PositiveClass
    /// The anomaly-score threshold used.
    public var threshold: Double
    /// How `threshold` was applied.
    public var rule: AnomalyDecisionRule
    public var precision: Double
    public var recall: Double
    public var f1: Double
    /// The underlying counts (anomaly class as positive, whatever `positiveClass` is).
    public var confusion: ConfusionMatrix

    public init(
        confusion: ConfusionMatrix, positiveClass: PositiveClass, threshold: Double,
        rule: AnomalyDecisionRule
    ) {
        self.positiveClass = positiveClass
        self.threshold = threshold
        self.rule = rule
        self.precision = confusion.precision(of: positiveClass)
        self.recall = confusion.recall(of: positiveClass)
        self.f1 = confusion.f1(of: positiveClass)
        self.confusion = confusion
    }
}

/// Precision, recall and F1 when every sample with `score >= threshold` is predicted anomalous.
///
/// - Parameter positiveClass: `.anomaly` (default) for the anomaly-class F1; `.normal` for the
///   F1 of the normal class under the same predictions.
/// Matches scikit-learn's `precision_recall_fscore_support(labels, scores >= threshold,
/// average="binary", pos_label=…, zero_division=0)`. A single-class test set is allowed.
/// - Throws: `MetricsError` when lengths differ, a score is NaN or a label is not 0/1.
public func f1<Score: BinaryFloatingPoint, Label: AnomalyLabel>(
    scores: [Score], labels: [Label], threshold: Double, positiveClass: PositiveClass = .anomaly
) throws -> F1Score {
    let data = try LabeledScores(metric: "f1", scores: scores, labels: labels)
    return f1(data, threshold: threshold, rule: .scoreAtOrAboveThreshold, positiveClass: positiveClass)
}

/// The tabular F1-at-threshold protocols of METHODS.md §4.8; they give different numbers.
public enum F1Protocol: Codable, Sendable, Equatable {
    /// DAGMM: threshold at the `(100 − 100·anomalyRatio)`-th percentile of the test scores, with
    /// `anomalyRatio` the known anomaly share (KDDCUP 0.2, Thyroid 0.025, Arrhythmia 0.15);
    /// anomaly when `score >= threshold`; F1 of the anomaly class.
    case dagmm(anomalyRatio: Double)
    /// GOAD's code: as `.dagmm`, with the percentile `100·normalCount/count` taken from the test
    /// labels, so (without ties) as many samples are flagged as there are anomalies and
    /// precision = recall = F1.
    case goad
    /// DROCC's code: on normality scores `−score`, threshold at their `normalityPercentile`-th
    /// percentile (20 in DROCC); normal when `normality >= threshold`; F1 of the *normal* class.
    /// The reported `threshold` is on the anomaly scale (`−` the normality threshold), applied as
    /// `.scoreAboveThreshold`, so scores tied with it count as normal.
    case drocc(normalityPercentile: Double = 20)
}

/// F1 at the threshold a tabular protocol of METHODS.md §4.8 prescribes (see `F1Protocol`).
/// - Throws: `MetricsError` for invalid input, or a ratio or percentile out of range.
public func f1<Score: BinaryFloatingPoint, Label: AnomalyLabel>(
    scores: [Score], labels: [Label], protocol f1Protocol: F1Protocol
) throws -> F1Score {
    let data = try LabeledScores(metric: "f1(protocol:)", scores: scores, labels: labels)
    return try f1(data, protocol: f1Protocol)
}

// MARK: - Shared implementations

func f1(
    _ data: LabeledScores, threshold: Double, rule: AnomalyDecisionRule, positiveClass: PositiveClass
) -> F1Score {
    var confusion = ConfusionMatrix(truePositives: 0, falsePositives: 0, falseNegatives: 0, trueNegatives: 0)
    for (score, isAnomaly) in zip(data.scores, data.isAnomaly) {
        switch (rule.isAnomaly(score, threshold: threshold), isAnomaly) {
        case (true, true): confusion.truePositives += 1
        case (true, false): confusion.falsePositives += 1
        case (false, true): confusion.falseNegatives += 1
        case (false, false): confusion.trueNegatives += 1
        }
    }
    return F1Score(confusion: confusion, positiveClass: positiveClass, threshold: threshold, rule: rule)
}

func f1(_ data: LabeledScores, protocol f1Protocol: F1Protocol) throws -> F1Score {
    let metric = "f1(protocol:)"
    switch f1Protocol {
    case .dagmm(let anomalyRatio):
        guard (0...1).contains(anomalyRatio) else {
            throw MetricsError.invalidArgument(
                metric: metric, message: "DAGMM anomalyRatio must be in 0...1, got \(anomalyRatio)")
        }
        let threshold = linearPercentile(sorted: data.scores.sorted(), 100 - 100 * anomalyRatio)
        return f1(data, threshold: threshold, rule: .scoreAtOrAboveThreshold, positiveClass: .anomaly)
    case .goad:
        let normalPercent = 100.0 * Double(data.normalCount) / Double(data.count)
        let threshold = linearPercentile(sorted: data.scores.sorted(), normalPercent)
        return f1(data, threshold: threshold, rule: .scoreAtOrAboveThreshold, positiveClass: .anomaly)
    case .drocc(let normalityPercentile):
        guard (0...100).contains(normalityPercentile) else {
            throw MetricsError.invalidArgument(
                metric: metric,
                message: "DROCC normalityPercentile must be in 0...100, got \(normalityPercentile)")
        }
        let normalityThreshold = linearPercentile(
            sorted: data.scores.map { -$0 }.sorted(), normalityPercentile)
        // normality >= t  ⇔  −score >= t  ⇔  score <= −t (negation is exact): anomaly iff score > −t.
        return f1(data, threshold: -normalityThreshold, rule: .scoreAboveThreshold, positiveClass: .normal)
    }
}
