import ArgumentParser
import Experiments
import Foundation
import Metrics

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Label new samples normal (0) or anomalous (1) with a finished run's model and a threshold chosen without labelled anomalies.",
        discussion: """
            Every run stores thresholds (thresholds.json): quantiles of the scores of normal \
            calibration data — the run's validation split (train with --validation-fraction) or, \
            without one, its training data (optimistic: new normals then exceed the target more \
            often). A sample is anomalous when its score is at or above the threshold (the \
            100·(1 − target)-th percentile of the calibration scores). Choose the \
            threshold by target false-positive rate (--fpr), by contamination (the share of the \
            calibration data flagged), or give one (--threshold); the default is --fpr 0.05. \
            Output: CSV index,score,label,threshold.
            """)

    @Option(name: .customLong("run"), help: "A run folder written by `anomaly train` (runs/<id>).")
    var runDirectory: String

    @Option(help: "Samples to label: .csv[.gz] (a 0/1 label column is optional), .npy, .png, or *-idx3-ubyte[.gz].")
    var input: String

    @OptionGroup var thresholdOptions: ThresholdOptions

    @Option(help: "Write the CSV here (default: standard output).")
    var labelsOutput: String?

    @OptionGroup var common: CommonOptions

    func run() throws {
        let folder = URL(fileURLWithPath: runDirectory, isDirectory: true)
        let (chosen, description) = try RunThresholds.resolve(thresholdOptions.choice, runFolder: folder)
        let replay = try RunReplay(directory: folder, dataRoot: common.dataRoot, progress: TerminalProgress(), logger: common.makeLogger())
        let input = try ScoringInput.read(URL(fileURLWithPath: input), sampleShape: replay.sampleShape)
        let scores = try replay.score(input.samples)
        let flagged = try anomalyPredictions(scores: scores, threshold: chosen)
        var text = "index,score,label,threshold\n"
        for (i, s) in scores.enumerated() { text += "\(i),\(s),\(flagged[i] ? 1 : 0),\(chosen)\n" }
        if let labelsOutput {
            try Data(text.utf8).write(to: URL(fileURLWithPath: labelsOutput), options: .atomic)
            Swift.print("\(scores.count) labels written to \(labelsOutput)")
        } else {
            Swift.print(text, terminator: "")
        }
        var summary = "\(flagged.filter { $0 }.count) of \(scores.count) samples anomalous at threshold \(chosen) (\(description))"
        if let labels = input.labels {
            let isAnomaly = labels.map { $0 == 1 }
            let (fpr, recall) = RunThresholds.rates(flagged: flagged, isAnomaly: isAnomaly)
            if let fpr { summary += String(format: "; FPR %.2f %% on %d labelled normals", 100 * fpr, isAnomaly.filter { !$0 }.count) }
            if let recall { summary += String(format: ", recall %.2f %% on %d labelled anomalies", 100 * recall, isAnomaly.filter { $0 }.count) }
        }
        FileHandle.standardError.write(Data((summary + "\n").utf8))
    }
}

/// How `predict` and `serve` choose the run's threshold.
struct ThresholdOptions: ParsableArguments {
    @Option(help: "Target false-positive rate on the calibration data (0 < fpr < 1; the default is 0.05).")
    var fpr: Double?

    @Option(help: "Share of the calibration data to flag (0 < contamination < 1).")
    var contamination: Double?

    @Option(help: "A score threshold of your own.")
    var threshold: Double?

    func validate() throws {
        guard [fpr != nil, contamination != nil, threshold != nil].filter({ $0 }).count <= 1 else {
            throw ValidationError("give at most one of --fpr, --contamination, --threshold")
        }
        for (name, value) in [("--fpr", fpr), ("--contamination", contamination)] {
            if let value, !(value > 0 && value < 1) { throw ValidationError("\(name) must be in (0, 1), got \(value)") }
        }
        if let threshold, !threshold.isFinite { throw ValidationError("--threshold must be finite") }
    }

    var choice: RunThresholds.Choice {
        threshold.map { .value($0) } ?? contamination.map { .contamination($0) } ?? fpr.map { .falsePositiveRate($0) } ?? .standard
    }
}
