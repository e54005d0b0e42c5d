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

    @OptionGroup var methodOptions: MethodOptions
    @OptionGroup var protocolOptions: ProtocolOptions
    @OptionGroup var common: CommonOptions

    func run() throws {
        let logger = common.makeLogger()
        let methodNames = methods.split(separator: ",").map(String.init)
        let datasetNames = datasets.split(separator: ",").map(String.init)
        let seedValues = try seeds.split(separator: ",").map { s -> UInt64 in
            guard let v = UInt64(s) else { throw ValidationError("--seeds: '\(s)' is not a non-negative integer") }
            return v
        }
        let entries = try methodNames.map { try MethodRegistry.entry(named: $0) }
        let overrides = try methodOptions.parsed()  // each method takes the keys it has
        let benchID = try RunDirectory.newIdentifier(in: common.outputRoot, method: "bench", dataset: datasetNames.joined(separator: "+"), seed: seedValues.first ?? 0)
        let runsRoot = common.outputRoot.appendingPathComponent(benchID)
        let runner = ExperimentRunner(outputRoot: runsRoot, progress: TerminalProgress(), logger: logger)
        var rows: [BenchTable.Row] = []
        for datasetName in datasetNames {
            let data = try ExperimentData.load(datasetName, root: common.dataRoot, anomalySources: protocolOptions.anomalySources)
            let experimentProtocol = try protocolOptions.experimentProtocol(isTabular: data.isTabular, datasetName: datasetName)
            for entry in entries {
                let known = Set(entry.options.map(\.name))
                let applicable = overrides.filter { known.contains($0.key) }
                for seed in seedValues {
                    let configuration = RunConfiguration(
                        method: entry.name, methodOptions: applicable, dataset: datasetName,
                        experimentProtocol: experimentProtocol, seed: seed, trainingSubsample: methodOptions.trainingSubsample)
                    let result = try runner.run(configuration, data: data, method: entry)
                    rows.append(.init(method: entry.name, dataset: datasetName, protocolKind: experimentProtocol.kind, seed: seed,
                                      auroc: result.summary.auroc, averagePrecision: result.summary.averagePrecision,
                                      f1: result.summary.f1.f1, fitSeconds: result.fitSeconds, runID: result.id))
                    logger.notice("\(entry.name) \(datasetName) seed \(seed): AUROC \(String(format: "%.4f", result.summary.auroc))")
                }
            }
        }
        let table = BenchTable(rows: rows)
        try Data(table.csv().utf8).write(to: runsRoot.appendingPathComponent("results.csv"), options: .atomic)
        try Data(table.markdown().utf8).write(to: runsRoot.appendingPathComponent("results.md"), options: .atomic)
        output(table.markdown())
        output("results written to \(runsRoot.path)/results.{csv,md}")
    }
}
