/// The usual report of one scored test set (anomaly = positive class); sorts the scores once.
public struct EvaluationSummary: Codable, Sendable, Equatable {
    /// Number of scored samples.
    public var sampleCount: Int
    /// Number of anomalies among them.
    public var anomalyCount: Int
    /// See `auroc(scores:labels:)`.
    public var auroc: Double
    /// See `averagePrecision(scores:labels:)` (the usual "AUPR").
    public var averagePrecision: Double
    /// See `auprTrapezoidal(scores:labels:)`.
    public var auprTrapezoidal: Double
    /// Precision at rank n = `anomalyCount`; see `precisionAtN(scores:labels:n:)`.
    public var precisionAtN: Double
    /// Anomaly-class F1 at the given threshold, or, when none was given, at the test set's own
    /// anomaly ratio (`F1Protocol.goad`).
    public var f1: F1Score

    public init(
        sampleCount: Int, anomalyCount: Int, auroc: Double, averagePrecision: Double,
        auprTrapezoidal: Double, precisionAtN: Double, f1: F1Score
    ) {
        self.sampleCount = sampleCount
        self.anomalyCount = anomalyCount
        self.auroc = auroc
        self.averagePrecision = averagePrecision
        self.auprTrapezoidal = auprTrapezoidal
        self.precisionAtN = precisionAtN
        self.f1 = f1
    }

    /// Evaluates anomaly `scores` against `labels`.
    /// - Parameter threshold: predict anomaly when `score >= threshold` for `f1` (e.g. from
    ///   `threshold(contamination:scores:)` on training scores); `nil` uses the GOAD rule.
    /// - Throws: `MetricsError` for invalid input or a single-class test set.
    public init<Score: BinaryFloatingPoint, Label: AnomalyLabel>(
        scores: [Score], labels: [Label], threshold: Double? = nil
    ) throws {
        let data = try LabeledScores(metric: "EvaluationSummary", scores: scores, labels: labels)
        try data.requireBothClasses(metric: "EvaluationSummary")
        let sweep = ThresholdSweep(data)
        let f1Score =
            if let threshold {
                Metrics.f1(data, threshold: threshold, rule: .scoreAtOrAboveThreshold, positiveClass: .anomaly)
            } else {
                try Metrics.f1(data, protocol: .goad)
            }
        self.init(
            sampleCount: data.count, anomalyCount: data.anomalyCount,
            auroc: Metrics.auroc(sweep), averagePrecision: Metrics.averagePrecision(sweep),
            auprTrapezoidal: Metrics.auprTrapezoidal(sweep),
            precisionAtN: try Metrics.precisionAtN(data, n: data.anomalyCount), f1: f1Score)
    }
}
