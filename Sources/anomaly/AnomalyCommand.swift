import ArgumentParser
import Datasets
import Detectors
import Experiments
import Foundation
import Logging
import Metrics

@main
struct AnomalyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anomaly",
        abstract: "Deep anomaly detection on images and tables.",
        version: AnomalyKitVersion.current,
        subcommands: [
            Demo.self, Train.self, Score.self, Evaluate.self, Bench.self, DatasetsCommand.self, Methods.self,
        ])
}

/// Options every data-using command shares.
struct CommonOptions: ParsableArguments {
    @Option(help: "Data root (default: $ANOMALYKIT_DATA, else ~/.cache/anomalykit).")
    var dataDir: String?

    @Option(help: "Folder for run outputs.")
    var output: String = "runs"

    @Flag(name: .shortAndLong, help: "Log more detail.")
    var verbose = false

    var dataRoot: URL { DataRoot.resolve(explicit: dataDir) }
    var outputRoot: URL { URL(fileURLWithPath: output, isDirectory: true) }

    func makeLogger() -> Logger {
        LoggingBootstrap.once
        var logger = Logger(label: "anomaly")
        logger.logLevel = verbose ? .debug : .notice
        return logger
    }
}

enum LoggingBootstrap {
    static let once: Void = LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
}

/// Writes a line to standard output unbuffered, so results stay in order with the progress
/// lines on standard error.
func output(_ text: String = "", terminator: String = "\n") {
    FileHandle.standardOutput.write(Data((text + terminator).utf8))
}

/// Formats rows as an aligned plain-text table.
func textTable(_ header: [String], _ rows: [[String]]) -> String {
    let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
    }
    return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line)).joined(separator: "\n")
}

// MARK: train

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit a method on a data set under a protocol, score the test split and write runs/<id>/.")

    @Option(help: "Method name (see `anomaly methods`).")
    var method: String

    @Option(help: "Data set name (see `anomaly datasets list`).")
    var dataset: String

    @Option(help: "Seed of the split and of every random choice of the method.")
    var seed: UInt64 = 0

    @Flag(inversion: .prefixedNo, help: "Standardise tabular features with training statistics.")
    var standardize = true

    @OptionGroup var methodOptions: MethodOptions
    @OptionGroup var protocolOptions: ProtocolOptions
    @OptionGroup var common: CommonOptions

    func run() throws {
        let logger = common.makeLogger()
        let entry = try MethodRegistry.entry(named: method)
        let data = try ExperimentData.load(dataset, root: common.dataRoot, anomalySources: protocolOptions.anomalySources)
        let configuration = RunConfiguration(
            method: method, methodOptions: try methodOptions.parsed(), dataset: dataset,
            experimentProtocol: try protocolOptions.experimentProtocol(isTabular: data.isTabular, datasetName: dataset),
            seed: seed, standardize: standardize, trainingSubsample: methodOptions.trainingSubsample)
        let runner = ExperimentRunner(outputRoot: common.outputRoot, progress: TerminalProgress(), logger: logger)
        let result = try runner.run(configuration, data: data, method: entry)
        output(textTable(
            ["method", "data set", "protocol", "seed", "AUROC", "AP", "F1", "fit s"],
            [[method, dataset, configuration.experimentProtocol.kind, "\(seed)", String(format: "%.4f", result.summary.auroc),
              String(format: "%.4f", result.summary.averagePrecision), String(format: "%.4f", result.summary.f1.f1),
              String(format: "%.2f", result.fitSeconds)]]))
        output("run written to \(result.directory.path)")
    }
}

// MARK: methods

struct Methods: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the methods and their options.")

    func run() {
        for entry in MethodRegistry.all {
            output("\(entry.name): \(entry.summary)")
            for option in entry.options { output("    --option \(option.name)=\(option.defaultValue)") }
        }
    }
}
