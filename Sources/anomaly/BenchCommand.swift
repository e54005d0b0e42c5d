import ArgumentParser
import Experiments
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a method × data set × seed grid under one protocol; write results.csv and results.md.")

    @Option(help: "Comma-separated method names.")
    var methods: String

    @Option(help: "Comma-separated data set names.")
    var datasets: String

    @Option(help: "Comma-separated seeds.")
    var seeds: String = "0"

    @Flag(help: "Run each --normal-class on its own (the one-class protocol of the papers: one row per class).")
    var perClass = false

    @Option(help: "Continue (or start) the bench in this folder: finished runs with the same configuration are read back, interrupted ones resumed.")
    var resume: String?

    @Option(help: "Epochs between training checkpoints of deep methods.")
    var checkpointEvery: Int = 1

    @Option(help: "Compute device: cpu, or cuda[:N] where a CUDA backend is built in.")
    var device: String = "cpu"

    @Flag(help: "Check every op of every training step for NaN/Inf and name the first offender (slower).")
    var checkNumerics = false

    @Option(help: "Test AUROC every N epochs during training, in each run's report and metrics.json (deep methods).")
    var evaluateEvery: Int?

    func validate() throws {
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1, got \(checkpointEvery)") }
        if let evaluateEvery, evaluateEvery < 1 { throw ValidationError("--evaluate-every must be at least 1, got \(evaluateEvery)") }
    }

    @OptionGroup var methodOptions: MethodOptions
    @OptionGroup var protocolOptions: ProtocolOptions
    @OptionGroup var common: CommonOptions

    func run() throws {
        let logger = common.makeLogger()
        let methodNames = methods.split(separator: ",").map(String.init)
        let datasetNames = datasets.split(separator: ",").map(String.init)
        guard !methodNames.isEmpty else { throw ValidationError("--methods: no method named (e.g. --methods iforest,knn)") }
        guard !datasetNames.isEmpty else { throw ValidationError("--datasets: no data set named (e.g. --datasets thyroid)") }
        let seedValues = try seeds.split(separator: ",").map { s -> UInt64 in
            guard let v = UInt64(s) else { throw ValidationError("--seeds: '\(s)' is not a non-negative integer") }
            return v
        }
        let entries = try methodNames.map { try MethodRegistry.entry(named: $0) }
        let overrides = try methodOptions.parsed()  // each method takes the keys it has
        let runsRoot: URL
        if let resume {
            runsRoot = URL(fileURLWithPath: resume, isDirectory: true)
        } else {
            let benchID = try RunDirectory.newIdentifier(
                in: common.outputRoot, method: "bench", dataset: datasetNames.joined(separator: "+"), seed: seedValues.first ?? 0)
            runsRoot = common.outputRoot.appendingPathComponent(benchID)
        }
        let done = RunIndex(scanning: runsRoot)
        var runner = ExperimentRunner(outputRoot: runsRoot, progress: TerminalProgress(), logger: logger)
        runner.training.checkpointEvery = checkpointEvery
        runner.training.checksNumerics = checkNumerics
        runner.training.evaluateEvery = evaluateEvery
        runner.training.stopRequested = { _, _ in InterruptSignal.isRaised }
        InterruptSignal.install()
        let classGroups = perClass ? protocolOptions.normalClasses.map { [$0] } : [protocolOptions.normalClasses]
        var rows: [BenchTable.Row] = []
        for datasetName in datasetNames {
            let data = try ExperimentData.load(datasetName, root: common.dataRoot, anomalySources: protocolOptions.anomalySources)
            for entry in entries {
                let known = Set(entry.options.map(\.name))
                let applicable = overrides.filter { known.contains($0.key) }
                for classes in classGroups {
                    var options = protocolOptions
                    options.normalClasses = classes
                    let experimentProtocol = try options.experimentProtocol(isTabular: data.isTabular, datasetName: datasetName)
                    let classLabel = perClass ? classes.map(String.init).joined(separator: "+") : ""
                    for seed in seedValues {
                        let configuration = RunConfiguration(
                            method: entry.name, methodOptions: applicable, dataset: datasetName,
                            experimentProtocol: experimentProtocol, seed: seed, trainingSubsample: methodOptions.trainingSubsample,
                            device: device == "cpu" ? nil : device)
                        let row: BenchTable.Row
                        if let finished = done.finished.first(where: { $0.configuration == configuration }) {
                            row = .init(method: entry.name, dataset: datasetName, protocolKind: experimentProtocol.kind, seed: seed,
                                        auroc: finished.summary.auroc, averagePrecision: finished.summary.averagePrecision,
                                        f1: finished.summary.f1.f1, fitSeconds: finished.fitSeconds, runID: finished.id,
                                        normalClass: classLabel)
                        } else {
                            let partial = done.interrupted.first { $0.configuration == configuration }?.folder
                            let result: RunResult
                            do {
                                result = try runner.run(configuration, data: data, method: entry, resuming: partial)
                            } catch ExperimentError.resumable(let reason, _) {
                                throw ExperimentError.invalidArgument(
                                    "\(reason); continue the bench with the same arguments plus --resume \(runsRoot.path)")
                            }
                            row = .init(method: entry.name, dataset: datasetName, protocolKind: experimentProtocol.kind, seed: seed,
                                        auroc: result.summary.auroc, averagePrecision: result.summary.averagePrecision,
                                        f1: result.summary.f1.f1, fitSeconds: result.fitSeconds, runID: result.id,
                                        normalClass: classLabel)
                            logger.notice("\(entry.name) \(datasetName) \(classLabel.isEmpty ? "" : "class \(classLabel) ")seed \(seed): AUROC \(String(format: "%.4f", result.summary.auroc))")
                        }
                        rows.append(row)
                        let table = BenchTable(rows: rows)
                        try Data(table.csv().utf8).write(to: runsRoot.appendingPathComponent("results.csv"), options: .atomic)
                        try Data(table.markdown().utf8).write(to: runsRoot.appendingPathComponent("results.md"), options: .atomic)
                    }
                }
            }
        }
        let table = BenchTable(rows: rows)
        output(table.markdown())
        output("results written to \(runsRoot.path)/results.{csv,md}")
    }
}
