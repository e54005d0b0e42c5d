/// A label type the metrics accept: `Bool` (`true` = anomaly) or `Int` (`1` = anomaly, `0` = normal).
public protocol AnomalyLabel: Sendable {
    /// The label as an integer: 1 for an anomaly, 0 for a normal sample. Other values are rejected.
    var anomalyLabelValue: Int { get }
}

extension Bool: AnomalyLabel {
    public var anomalyLabelValue: Int { self ? 1 : 0 }
}

extension Int: AnomalyLabel {
    public var anomalyLabelValue: Int { self }
}

/// Which way a score points.
public enum ScoreOrientation: String, Codable, Sendable {
    /// Higher scores mean more anomalous (the convention of every function in this module).
    case higherIsAnomalous
    /// Higher scores mean more normal (Elsa, HSCL, CSI, DROCC logits).
    case higherIsNormal
}

/// Scores as `Double` with validated labels (`true` = anomaly); the checked input of every metric.
struct LabeledScores {
    let scores: [Double]
    let isAnomaly: [Bool]
    let anomalyCount: Int
    var normalCount: Int { scores.count - anomalyCount }
    var count: Int { scores.count }

    /// Checks lengths, emptiness, NaN scores and 0/1 labels; names `metric` in any error.
    init<Score: BinaryFloatingPoint, Label: AnomalyLabel>(
        metric: String, scores: [Score], labels: [Label]
    ) throws {
        guard scores.count == labels.count else {
            throw MetricsError.lengthMismatch(
                metric: metric, scoreCount: scores.count, labelCount: labels.count)
        }
        self.scores = try validatedScores(metric: metric, scores)
        var isAnomaly = [Bool]()
        isAnomaly.reserveCapacity(labels.count)
        var anomalyCount = 0
        for (index, label) in labels.enumerated() {
            switch label.anomalyLabelValue {
            case 0: isAnomaly.append(false)
            case 1:
                isAnomaly.append(true)
                anomalyCount += 1
            case let value: throw MetricsError.invalidLabel(metric: metric, index: index, value: value)
            }
        }
        self.isAnomaly = isAnomaly
        self.anomalyCount = anomalyCount
    }

    /// Throws unless both anomalies and normal samples are present.
    func requireBothClasses(metric: String) throws {
        guard anomalyCount > 0, normalCount > 0 else {
            throw MetricsError.missingClass(
                metric: metric, required: "at least one anomaly and one normal sample",
                anomalyCount: anomalyCount, normalCount: normalCount)
        }
    }

    /// Throws unless at least one anomaly is present.
    func requireAnomaly(metric: String) throws {
        guard anomalyCount > 0 else {
            throw MetricsError.missingClass(
                metric: metric, required: "at least one anomaly",
                anomalyCount: anomalyCount, normalCount: normalCount)
        }
    }
}

/// Converts scores to `Double`, rejecting an empty list and NaN (infinities are allowed: they rank).
func validatedScores<Score: BinaryFloatingPoint>(metric: String, _ scores: [Score]) throws -> [Double] {
    guard !scores.isEmpty else { throw MetricsError.empty(metric: metric) }
    var values = [Double]()
    values.reserveCapacity(scores.count)
    for (index, score) in scores.enumerated() {
        guard !score.isNaN else { throw MetricsError.notANumber(metric: metric, index: index) }
        values.append(Double(score))
    }
    return values
}
