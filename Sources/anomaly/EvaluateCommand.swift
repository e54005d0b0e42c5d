import ArgumentParser
import Experiments
import Foundation
import Metrics

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Metrics (AUROC, AP, F1, precision@n) of a scores CSV or a run folder; optionally an HTML report.")

    @Argument(help: "A scores CSV, or a run folder (its scores.csv).")
    var input: String

    @Option(help: "Column holding the anomaly scores (higher = more anomalous).")
    var scoreColumn: String = "score"

    @Option(help: "Column holding the 0/1 anomaly labels.")
    var labelColumn: String = "is_anomaly"

    @Option(help: "F1 threshold rule: goad (test anomaly ratio) | dagmm:RATIO | drocc | value:THRESHOLD.")
    var f1: String = "goad"

    @Option(help: "Write an HTML report to this path.")
    var report: String?

    func run() throws {
        var path = input
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            path = URL(fileURLWithPath: path).appendingPathComponent("scores.csv").path
        }
        let table = try ScoreTable.read(path: path, scoreColumn: scoreColumn, labelColumn: labelColumn)
        let summary = try EvaluationSummary(scores: table.scores, labels: table.labels)
        let f1Score: F1Score
        switch f1 {
        case "goad": f1Score = try Metrics.f1(scores: table.scores, labels: table.labels, protocol: .goad)
        case "drocc": f1Score = try Metrics.f1(scores: table.scores, labels: table.labels, protocol: .drocc())
        case let rule where rule.hasPrefix("dagmm:"):
            guard let ratio = Double(rule.dropFirst(6)) else { throw ValidationError("--f1 dagmm:RATIO needs a number, got '\(rule)'") }
            f1Score = try Metrics.f1(scores: table.scores, labels: table.labels, protocol: .dagmm(anomalyRatio: ratio))
        case let rule where rule.hasPrefix("value:"):
            guard let t = Double(rule.dropFirst(6)) else { throw ValidationError("--f1 value:THRESHOLD needs a number, got '\(rule)'") }
            f1Score = try Metrics.f1(scores: table.scores, labels: table.labels, threshold: t)
        default:
            throw ValidationError("unknown --f1 rule '\(f1)'; use goad, drocc, dagmm:RATIO or value:THRESHOLD")
        }
        output(textTable(
            ["samples", "anomalies", "AUROC", "AP", "AUPR (trapezoid)", "precision@n", "F1 (\(f1))"],
            [["\(summary.sampleCount)", "\(summary.anomalyCount)", String(format: "%.4f", summary.auroc),
              String(format: "%.4f", summary.averagePrecision), String(format: "%.4f", summary.auprTrapezoidal),
              String(format: "%.4f", summary.precisionAtN), String(format: "%.4f", f1Score.f1)]]))
        if let report {
            let roc = try rocCurve(scores: table.scores, labels: table.labels)
            let pr = try precisionRecallCurve(scores: table.scores, labels: table.labels)
            let html = HTMLReport(
                title: "Evaluation of \(path)", configuration: [("scores file", path), ("F1 rule", f1)],
                metrics: [("AUROC", String(format: "%.4f", summary.auroc)), ("average precision", String(format: "%.4f", summary.averagePrecision)),
                          ("F1", String(format: "%.4f", f1Score.f1)), ("samples / anomalies", "\(summary.sampleCount) / \(summary.anomalyCount)")],
                rocCurve: zip(roc.falsePositiveRates, roc.truePositiveRates).map { ($0, $1) },
                prCurve: zip(pr.recalls, pr.precisions).map { ($0, $1) },
                normalScores: zip(table.scores, table.labels).filter { $0.1 == 0 }.map { $0.0 },
                anomalyScores: zip(table.scores, table.labels).filter { $0.1 == 1 }.map { $0.0 })
            try Data(html.render().utf8).write(to: URL(fileURLWithPath: report), options: .atomic)
            output("report written to \(report)")
        }
    }
}

/// A CSV of scores and 0/1 labels (header row; other columns ignored).
struct ScoreTable {
    var scores: [Double]
    var labels: [Int]

    static func read(path: String, scoreColumn: String, labelColumn: String) throws -> ScoreTable {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("\(path): cannot read the file")
        }
        let lines = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
        guard let header = lines.first?.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) else {
            throw ValidationError("\(path): empty file")
        }
        guard let si = header.firstIndex(of: scoreColumn) else {
            throw ValidationError("\(path): no column '\(scoreColumn)' (columns: \(header.joined(separator: ", ")))")
        }
        guard let li = header.firstIndex(of: labelColumn) else {
            throw ValidationError("\(path): no column '\(labelColumn)' (columns: \(header.joined(separator: ", ")))")
        }
        var table = ScoreTable(scores: [], labels: [])
        for (n, line) in lines.dropFirst().enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == header.count else {
                throw ValidationError("\(path): line \(n + 2) has \(fields.count) fields, the header has \(header.count)")
            }
            guard let s = Double(fields[si].trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("\(path): line \(n + 2): score '\(fields[si])' is not a number")
            }
            guard let l = Int(fields[li].trimmingCharacters(in: .whitespaces)), l == 0 || l == 1 else {
                throw ValidationError("\(path): line \(n + 2): label '\(fields[li])' is not 0 or 1")
            }
            table.scores.append(s)
            table.labels.append(l)
        }
        return table
    }
}
