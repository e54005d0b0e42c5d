import ArgumentParser
import Datasets
import Experiments
import Foundation
import Metrics

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score new samples with the model of a finished run (higher = more anomalous).",
        discussion: """
            The run's detector is loaded from its folder (model.safetensors, and the standardisation \
            of tables): the training data is not needed. Input: a CSV \
            table with the training columns and optionally a 0/1 `label` column (used for metrics), \
            an .npy array [N, …], one PNG image, or an IDX image file.
            """)

    @Option(name: .customLong("run"), help: "A run folder written by `anomaly train` (runs/<id>).")
    var runDirectory: String

    @Option(help: "Samples to score: .csv[.gz] (a 0/1 label column is optional), .npy, .png, or *-idx3-ubyte[.gz].")
    var input: String

    @Option(help: "Write the scores CSV here (default: standard output).")
    var scoresOutput: String?

    @OptionGroup var common: CommonOptions

    func run() throws {
        let logger = common.makeLogger()
        let replay = try RunReplay(
            directory: URL(fileURLWithPath: runDirectory, isDirectory: true), dataRoot: common.dataRoot,
            progress: TerminalProgress(), logger: logger)
        let scoringInput = try ScoringInput.read(URL(fileURLWithPath: input), sampleShape: replay.sampleShape)
        let (scores, labels) = (try replay.score(scoringInput.samples), scoringInput.labels)
        var text = labels == nil ? "index,score\n" : "index,label,score\n"
        for (i, s) in scores.enumerated() {
            text += labels.map { "\(i),\($0[i]),\(s)\n" } ?? "\(i),\(s)\n"
        }
        if let scoresOutput {
            try Data(text.utf8).write(to: URL(fileURLWithPath: scoresOutput), options: .atomic)
            output("\(scores.count) scores written to \(scoresOutput)")
        } else {
            output(text, terminator: "")
        }
        if let labels, Set(labels) == [0, 1] {
            let summary = try EvaluationSummary(scores: scores, labels: labels)
            FileHandle.standardError.write(Data(String(format: "AUROC %.4f  AP %.4f on %d labelled samples\n", summary.auroc, summary.averagePrecision, scores.count).utf8))
        }
    }
}
