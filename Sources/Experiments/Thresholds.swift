import Datasets
import Foundation
import Metrics

/// Decision thresholds chosen without labelled anomalies: quantiles of the scores of normal
/// calibration data. The calibration data is the run's validation split when it holds one out
/// (`--validation-fraction`), else the training data itself, which is optimistic — a model
/// scores the data it was fitted on lower than new normal data, so the false-positive rate on
/// new normals tends to exceed the target (`source` says which was used).
///
/// The threshold for a target fraction f is the 100·(1 − f)-th percentile of the calibration
/// scores (`Metrics.threshold(normalScores:falsePositiveRate:)`, PyOD's estimator), and a sample
/// is anomalous when its score is at or above it (`Metrics.anomalyPredictions`).
public struct RunThresholds: Codable, Sendable, Equatable {
    public struct Threshold: Codable, Sendable, Equatable {
        /// "fpr 0.05", "contamination 0.1".
        public var name: String
        /// The fraction of the calibration data flagged.
        public var target: Double
        public var threshold: Double
        /// Achieved on the run's test set (metrics.json and the report): the share of test
        /// normals flagged, and of test anomalies flagged.
        public var testFalsePositiveRate: Double?
        public var testRecall: Double?
    }

    public static let fileName = "thresholds.json"
    /// The false-positive rates stored with every run.
    public static let falsePositiveRates = [0.01, 0.05, 0.1]
    /// PyOD's default contamination.
    public static let defaultContamination = 0.1
    /// At most this many calibration samples are scored (a seeded subset beyond it).
    public static let calibrationLimit = 10_000

    /// "validation" or "training".
    public var source: String
    public var thresholds: [Threshold]
    /// The calibration scores, sorted ascending (any other target can be derived from them).
    public var calibrationScores: [Float]?

    /// - Throws: `MetricsError` for no scores or a NaN one.
    public init(calibrationScores scores: [Float], source: String, contamination: Double = defaultContamination) throws {
        self.source = source
        let sorted = scores.sorted()
        calibrationScores = sorted
        thresholds =
            try Self.falsePositiveRates.map {
                Threshold(name: "fpr \($0)", target: $0, threshold: try Metrics.threshold(normalScores: sorted, falsePositiveRate: $0))
            }
            + [Threshold(name: "contamination \(contamination)", target: contamination,
                         threshold: try Metrics.threshold(contamination: contamination, scores: sorted))]
    }

    /// The threshold for another target fraction (0…1), from the stored calibration scores.
    public func threshold(flagging fraction: Double) throws -> Double? {
        try calibrationScores.map { try Metrics.threshold(normalScores: $0, falsePositiveRate: fraction) }
    }

    /// The thresholds with their false-positive rate and recall on labelled test scores.
    public func evaluated(scores: [Float], isAnomaly: [Bool]) throws -> RunThresholds {
        var copy = self
        copy.thresholds = try thresholds.map {
            var t = $0
            (t.testFalsePositiveRate, t.testRecall) = Self.rates(
                flagged: try anomalyPredictions(scores: scores, threshold: t.threshold), isAnomaly: isAnomaly)
            return t
        }
        return copy
    }

    /// The share of normals flagged (false-positive rate) and of anomalies flagged (recall);
    /// nil where there are none of that kind.
    public static func rates(flagged: [Bool], isAnomaly: [Bool]) -> (falsePositiveRate: Double?, recall: Double?) {
        func share(_ anomalous: Bool) -> Double? {
            let group = zip(flagged, isAnomaly).filter { $0.1 == anomalous }
            return group.isEmpty ? nil : Double(group.filter(\.0).count) / Double(group.count)
        }
        return (share(false), share(true))
    }

    /// Without the calibration scores (the copy in metrics.json).
    var summary: RunThresholds {
        var copy = self
        copy.calibrationScores = nil
        return copy
    }

    /// Report rows: each threshold with what it achieved on the test set.
    var reportRows: [(String, String)] {
        thresholds.map { t in
            let achieved = [
                t.testFalsePositiveRate.map { String(format: "test FPR %.1f %%", 100 * $0) },
                t.testRecall.map { String(format: "recall %.1f %%", 100 * $0) },
            ].compactMap { $0 }.joined(separator: ", ")
            return ("threshold, \(t.name) of the \(source) data", String(format: "%.6g", t.threshold) + (achieved.isEmpty ? "" : " → " + achieved))
        }
    }

    /// How a caller picks the threshold of a run: a target false-positive rate, a contamination
    /// (both fractions of the calibration data flagged) or a value of its own.
    public enum Choice: Sendable, Equatable {
        case falsePositiveRate(Double)
        case contamination(Double)
        case value(Double)

        /// PyOD-style default: flag 5 % of the calibration normals.
        public static let standard = Choice.falsePositiveRate(0.05)
    }

    /// The threshold `choice` asks for in the run folder `folder`, and how it was chosen
    /// ("fpr 0.05 of the run's validation data").
    public static func resolve(_ choice: Choice, runFolder folder: URL) throws -> (threshold: Double, description: String) {
        let (target, name): (Double, String)
        switch choice {
        case .value(let value): return (value, "given")
        case .falsePositiveRate(let rate): (target, name) = (rate, "fpr \(rate)")
        case .contamination(let share): (target, name) = (share, "contamination \(share)")
        }
        guard let thresholds = try read(fromRunFolder: folder) else {
            throw ExperimentError.invalidArgument("\(folder.path) has no \(fileName) (a run from before thresholds); give a threshold")
        }
        guard let value = try thresholds.threshold(flagging: target) else {
            throw ExperimentError.invalidArgument("\(folder.appendingPathComponent(fileName).path) holds no calibration scores")
        }
        return (value, "\(name) of the run's \(thresholds.source) data")
    }

    /// The thresholds of a run folder (nil for runs written before thresholds existed).
    public static func read(fromRunFolder folder: URL) throws -> RunThresholds? {
        let url = folder.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        do {
            return try JSONDecoder().decode(RunThresholds.self, from: data)
        } catch {
            throw ExperimentError.invalidArgument("\(url.path): not valid thresholds (\(error))")
        }
    }
}
