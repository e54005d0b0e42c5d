/// An error in the data or arguments given to a metric; the message names the metric.
public enum MetricsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `scores` and `labels` have different lengths.
    case lengthMismatch(metric: String, scoreCount: Int, labelCount: Int)
    /// No scores were given.
    case empty(metric: String)
    /// The metric needs a class that the labels do not contain (e.g. AUROC on a one-class test set).
    case missingClass(metric: String, required: String, anomalyCount: Int, normalCount: Int)
    /// A score is NaN.
    case notANumber(metric: String, index: Int)
    /// A label is neither 0 (normal) nor 1 (anomaly).
    case invalidLabel(metric: String, index: Int, value: Int)
    /// An argument (a ratio, a percentile, a count) is outside its valid range.
    case invalidArgument(metric: String, message: String)

    public var description: String {
        switch self {
        case .lengthMismatch(let metric, let scoreCount, let labelCount):
            "\(metric): scores and labels differ in length (\(scoreCount) scores, \(labelCount) labels)"
        case .empty(let metric):
            "\(metric): no scores were given"
        case .missingClass(let metric, let required, let anomalyCount, let normalCount):
            "\(metric): needs \(required), but the labels hold \(anomalyCount) anomalies and "
                + "\(normalCount) normal samples"
        case .notANumber(let metric, let index):
            "\(metric): the score at index \(index) is NaN"
        case .invalidLabel(let metric, let index, let value):
            "\(metric): the label at index \(index) is \(value); expected 0 (normal) or 1 (anomaly)"
        case .invalidArgument(let metric, let message):
            "\(metric): \(message)"
        }
    }
}
