import ArgumentParser
import Datasets
import Experiments
import Foundation

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One-class anomaly detection on the Fashion-MNIST subset shipped with the package; prints AUROC and writes reports.")

    @Option(help: "The normal class (0 T-shirt/top … 9 Ankle boot); every other class is anomalous.")
    var normalClass: Int = 0

    @Option(parsing: .upToNextOption, help: "Methods to compare, separated by spaces or commas.")
    var methods: [String] = MethodRegistry.demoMethods

    @Option(help: "Seed.")
    var seed: UInt64 = 0

    @OptionGroup var common: CommonOptions

    func run() throws {
        let logger = common.makeLogger()
        let dataset = "fashion-mnist-demo"
        let data = try ExperimentData.load(dataset, root: common.dataRoot)
        let classNames = (try? DatasetCatalog.description(of: dataset).classNames) ?? []
        guard (0..<10).contains(normalClass) else { throw ValidationError("--normal-class must be 0…9, got \(normalClass)") }
        output("Fashion-MNIST demo subset (\(data.sources["train"]?.count ?? 0) train / \(data.sources["test"]?.count ?? 0) test images).")
        output("One-class protocol: normal = class \(normalClass) (\(classNames[safe: normalClass] ?? "?")), anomalies = the other nine classes.\n")
        let runner = ExperimentRunner(outputRoot: common.outputRoot, progress: TerminalProgress(), logger: logger)
        var rows: [[String]] = []
        var directories: [String] = []
        // Every name checked before the first run, so a typo does not stop the demo halfway.
        let entries = try Bench.listed(methods).map { ($0, try MethodRegistry.entry(named: $0)) }
        for (name, entry) in entries {
            let configuration = RunConfiguration(
                method: name, methodOptions: MethodRegistry.demoOptions[name] ?? [:], dataset: dataset,
                experimentProtocol: .oneClass(OneClassProtocol(normalClass: normalClass)), seed: seed)
            let result = try runner.run(configuration, data: data, method: entry)
            rows.append([name, metric(result.summary?.auroc), metric(result.summary?.averagePrecision),
                         String(format: "%.1f", result.fitSeconds + result.scoreSeconds)])
            directories.append(result.directory.appendingPathComponent("report.html").path)
        }
        output("\n" + textTable(["method", "AUROC", "AP", "seconds"], rows))
        output("\nreports:")
        for d in directories { output("  \(d)") }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
