import ArgumentParser
import Datasets
import Detectors
import Experiments
import Foundation
import Logging
import Metrics
import Tensors

@main
struct AnomalyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anomaly",
        abstract: "Deep anomaly detection on images and tables.",
        version: AnomalyKitVersion.current,
        subcommands: [
            Demo.self, Train.self, Score.self, Predict.self, Serve.self, Evaluate.self, Bench.self, DatasetsCommand.self, Methods.self,
        ])

    /// ArgumentParser's own main, except that a usage error (an unknown option, a value that does
    /// not parse, a failed validation) ends with one `Error: …` line instead of that line plus
    /// the usage block: every bad input gets one line. Help and --version print as usual.
    static func main() async {
        do {
            _ = try CPUThreads.fromEnvironment()
            var command = try await asyncParseAsRoot(nil)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success { Self.exit(withError: error) }
            let message = message(for: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
            Foundation.exit(code.rawValue)
        }
    }
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

/// Process set-up, once, by every command that reads data (through `makeLogger`): log lines
/// on standard error, and running out of memory ends the tool with one error line instead of a
/// crash report. (Not in an overridden `main`: ArgumentParser's own must start the commands,
/// or a sync command's SIGINT handling breaks under a spawning parent.)
enum LoggingBootstrap {
    static let once: Void = {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        OutOfMemory.handler = { bytes, what in
            let message = String(
                format: "Error: out of memory: %.1f GiB for %@ could not be allocated; smaller widths, batch sizes or data fit this machine",
                Double(bytes) / Double(1 << 30), what)
            // As a thrown error would: the partial run folder goes unless it holds a checkpoint.
            let kept = RunInProgress.current?.abandon() == true
            let resumable = kept ? "; the run's checkpoint is kept in \(RunInProgress.current!.folderPath)" : ""
            FileHandle.standardError.write(Data((message + resumable + "\n").utf8))
            Foundation.exit(1)
        }
    }()
}

/// Writes a line to standard output unbuffered, so results stay in order with the progress
/// lines on standard error.
func output(_ text: String = "", terminator: String = "\n") {
    FileHandle.standardOutput.write(Data((text + terminator).utf8))
}

/// A metric to four decimals, or "—" when the run has none (no anomalies in its test set).
func metric(_ value: Double?) -> String {
    value.map { String(format: "%.4f", $0) } ?? "—"
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
        abstract: "Fit a method on a data set under a protocol, score the test split and write runs/<id>/.",
        discussion: """
            Deep methods write resumable checkpoints while they train (into runs/.<id>.partial/). If a \
            run stops — Ctrl-C, a crash, a divergence — continue it with `anomaly train --resume \
            runs/.<id>.partial`: it ends with exactly the scores of an uninterrupted run.
            """)

    @Option(help: "Method name (see `anomaly methods`).")
    var method: String?

    @Option(help: "Data set name (see `anomaly datasets list`).")
    var dataset: String?

    @Option(help: "Seed of the split and of every random choice of the method.")
    var seed: UInt64 = 0

    @Flag(inversion: .prefixedNo, help: "Standardise tabular features with training statistics.")
    var standardize = true

    @Option(help: "Compute device: cpu, or cuda[:N] where a CUDA backend is built in.")
    var device: String = "cpu"

    @Option(help: "Continue an interrupted run from its folder (runs/.<id>.partial); the configuration is read from it.")
    var resume: String?

    @Option(help: "Epochs between training checkpoints of deep methods.")
    var checkpointEvery: Int = 1

    @Option(help: "Test AUROC every N epochs during training, plotted in the report (deep methods).")
    var evaluateEvery: Int?

    @Flag(help: "Check every op of every training step for NaN/Inf and name the first offender (slower).")
    var checkNumerics = false

    @OptionGroup var methodOptions: MethodOptions
    @OptionGroup var protocolOptions: ProtocolOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1, got \(checkpointEvery)") }
        if let evaluateEvery, evaluateEvery < 1 { throw ValidationError("--evaluate-every must be at least 1, got \(evaluateEvery)") }
        if resume == nil && (method == nil || dataset == nil) {
            throw ValidationError("--method and --dataset are required (or --resume with an interrupted run's folder)")
        }
    }

    func run() throws {
        let logger = common.makeLogger()
        var configuration: RunConfiguration
        var resumeFolder: URL? = nil
        var outputRoot = common.outputRoot
        var loaded: ExperimentData? = nil
        if let resume {
            let (_, folder) = try RunDirectory.partialFolder(URL(fileURLWithPath: resume, isDirectory: true))
            configuration = try RunConfiguration.read(fromRunFolder: folder)
            if let method, method != configuration.method {
                throw ValidationError("--method \(method) differs from the interrupted run's \(configuration.method)")
            }
            if let dataset, dataset != configuration.dataset {
                throw ValidationError("--dataset \(dataset) differs from the interrupted run's \(configuration.dataset)")
            }
            resumeFolder = folder
            outputRoot = folder.deletingLastPathComponent()
        } else {
            // Method, options and device are checked before any data is read.
            let options = try methodOptions.parsed()
            _ = try MethodRegistry.entry(named: method!).make(options: options)
            _ = try RunConfiguration(method: method!, dataset: dataset!, experimentProtocol: .oneClass(.init(normalClass: 0)),
                                     device: device).resolvedDevice()
            let data = try ExperimentData.load(dataset!, root: common.dataRoot, anomalySources: protocolOptions.anomalySources)
            configuration = RunConfiguration(
                method: method!, methodOptions: options, dataset: dataset!,
                experimentProtocol: try protocolOptions.experimentProtocol(isTabular: data.isTabular, datasetName: dataset!),
                seed: seed, standardize: standardize, trainingSubsample: methodOptions.trainingSubsample,
                device: device == "cpu" ? nil : device)
            loaded = data
        }
        let entry = try MethodRegistry.entry(named: configuration.method)
        let data = try loaded
            ?? ExperimentData.load(
                configuration.dataset, root: common.dataRoot, anomalySources: configuration.experimentProtocol.crossDatasetSources)
        var runner = ExperimentRunner(outputRoot: outputRoot, progress: TerminalProgress(), logger: logger)
        runner.training.checkpointEvery = checkpointEvery
        runner.training.evaluateEvery = evaluateEvery
        runner.training.checksNumerics = checkNumerics
        runner.training.stopRequested = { _, _ in InterruptSignal.isRaised }
        InterruptSignal.install()
        let result = try runner.run(configuration, data: data, method: entry, resuming: resumeFolder)
        output(textTable(
            ["method", "data set", "protocol", "seed", "AUROC", "AP", "F1", "fit s"],
            [[configuration.method, configuration.dataset, configuration.experimentProtocol.kind, "\(configuration.seed)",
              metric(result.summary?.auroc), metric(result.summary?.averagePrecision),
              metric(result.summary?.f1.f1), String(format: "%.2f", result.fitSeconds)]]))
        if result.summary == nil {
            let rates = (try? RunThresholds.read(fromRunFolder: result.directory))?.thresholds
                .compactMap { t in t.testFalsePositiveRate.map { String(format: "%@ → %.1f %%", t.name, 100 * $0) } } ?? []
            output("no anomalies in the test set, so no AUROC/AP/F1; false-positive rates on the \(result.scores.count) test normals: \(rates.joined(separator: ", "))")
        }
        output("run written to \(result.directory.path)")
    }
}

/// Ctrl-C (SIGINT) or SIGTERM during training: the first asks the training loop to save a
/// checkpoint and stop after the current epoch; a second ends the process at once.
enum InterruptSignal {
    nonisolated(unsafe) static var raised: sig_atomic_t = 0

    static var isRaised: Bool { raised != 0 }

    static func install() {
        let handler: @convention(c) (Int32) -> Void = { signal in
            if InterruptSignal.raised != 0 { _exit(128 + signal) }
            InterruptSignal.raised = 1
            let message = "\nstopping after this epoch (checkpoint kept); press Ctrl-C again to quit now\n"
            _ = message.withCString { write(2, $0, strlen($0)) }
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
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

extension ExperimentProtocol {
    /// The extra data sets a cross-data-set protocol reads (empty for the others).
    var crossDatasetSources: [String] {
        if case .crossDataset(let p) = self { return p.anomalyTestSources }
        return []
    }
}
