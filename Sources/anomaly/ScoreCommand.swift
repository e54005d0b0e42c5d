import ArgumentParser
import Datasets
import Experiments
import Foundation
import Metrics

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score new samples with the model of a finished run (higher = more anomalous).",
        discussion: """
            The run's detector is rebuilt from its folder: the data files must still match the \
            manifest's SHA-256 hashes and the split is re-derived from the recorded seed. Input: a CSV \
            table with the training columns plus a 0/1 `label` column (used for metrics), an .npy \
            array [N, …], or an IDX image file.
            """)

    @Option(name: .customLong("run"), help: "A run folder written by `anomaly train` (runs/<id>).")
    var runDirectory: String

    @Option(help: "Samples to score: .csv[.gz], .npy, or *-idx3-ubyte[.gz].")
    var input: String

    @Option(help: "Write the scores CSV here (default: standard output).")
    var scoresOutput: String?

    @OptionGroup var common: CommonOptions

    func run() throws {
        let logger = common.makeLogger()
        let replay = try RunReplay(
            directory: URL(fileURLWithPath: runDirectory, isDirectory: true), dataRoot: common.dataRoot,
            progress: TerminalProgress(), logger: logger)
        let (samples, labels) = try readScoringInput(URL(fileURLWithPath: input))
        let scores = try replay.score(samples)
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

/// Samples to score (and their 0/1 labels when the input is a labelled CSV): a CSV table, an
/// .npy array `[N, …]` or an IDX image file.
func readScoringInput(_ url: URL) throws -> (Samples, [Int]?) {
    let (samples, labels) = try readScoringSamples(url)
    guard samples.count > 0 else { throw ExperimentError.invalidArgument("\(url.path): holds no samples") }
    return (samples, labels)
}

private func readScoringSamples(_ url: URL) throws -> (Samples, [Int]?) {
    let name = url.lastPathComponent
    if name.hasSuffix(".npy") {
        let array = try NumpyReader.readArray(at: url)
        guard array.shape.count >= 1 else { throw ExperimentError.invalidArgument("\(url.path): a 0-d array holds no samples") }
        return (Samples(values: array.floatValues(), shape: array.shape.count == 1 ? [1, array.shape[0]] : array.shape), nil)
    }
    if name.hasSuffix(".csv") || name.hasSuffix(".csv.gz") {
        let table = try CSVReader.readLabeledTable(at: url, labelColumn: .named("label"))
        return (table.samples.samples, table.samples.labels)
    }
    if name.contains("idx3-ubyte") {
        return (try IDXReader.readImages(at: url).normalizedSamples(), nil)
    }
    throw ExperimentError.invalidArgument("\(url.path): unknown input format; use .csv[.gz], .npy or an IDX image file (*-idx3-ubyte[.gz])")
}
