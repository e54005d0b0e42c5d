import ArgumentParser
import Datasets
import Experiments
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a method × data set × seed grid under one protocol; write results.csv and results.md.")

    @Option(parsing: .upToNextOption, help: "Method names, separated by spaces or commas.")
    var methods: [String] = []

    @Option(parsing: .upToNextOption, help: "Data set names, separated by spaces or commas.")
    var datasets: [String] = []

    @Option(parsing: .upToNextOption, help: "Seeds, separated by spaces or commas (--seeds 0 1 2, --seeds 0,1,2).")
    var seeds: [String] = ["0"]

    @Flag(help: "Run each --normal-class on its own (the one-class protocol of the papers: one row per class).")
    var perClass = false

    @Flag(help: "Run each --anomaly-class on its own as the known anomaly class (semi-supervised), skipping the normal class: with --per-class the papers' 10 × 9 grid.")
    var perAnomalyClass = false

    @Option(help: "Run only cell N (0-based) of the grid into the --resume folder, without writing results files: one task of a job array (see --slurm).")
    var task: Int?

    @Option(help: "Write a Slurm job-array script to PATH, one task per run of this grid (each `anomaly bench … --task $SLURM_ARRAY_TASK_ID`), instead of running it; then `sbatch PATH`, and `anomaly bench --merge FOLDER` when the tasks are done.")
    var slurm: String?

    @Option(help: "An extra #SBATCH line of the --slurm script (repeatable), e.g. --slurm-option=--time=24:00:00.")
    var slurmOption: [String] = []

    @Option(help: "Collect every finished run of a bench FOLDER (the tasks of a job array) into its results.csv and results.md.")
    var merge: String?

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
        if merge == nil {
            guard !methods.isEmpty else { throw ValidationError("--methods is required (or --merge FOLDER)") }
            guard !datasets.isEmpty else { throw ValidationError("--datasets is required (or --merge FOLDER)") }
        }
        if let task, task < 0 { throw ValidationError("--task must be non-negative, got \(task)") }
        if task != nil, resume == nil { throw ValidationError("--task needs --resume FOLDER: the bench folder every task writes its run into") }
        if task != nil, slurm != nil { throw ValidationError("--task and --slurm exclude each other") }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1, got \(checkpointEvery)") }
        if let evaluateEvery, evaluateEvery < 1 { throw ValidationError("--evaluate-every must be at least 1, got \(evaluateEvery)") }
    }

    @OptionGroup var methodOptions: MethodOptions
    @OptionGroup var protocolOptions: ProtocolOptions
    @OptionGroup var common: CommonOptions

    /// One run of the grid.
    struct Cell {
        var dataset: String
        var entry: MethodEntry
        var normalClasses: [Int]
        var anomalyClasses: [Int]
        var seed: UInt64
    }

    func run() throws {
        let logger = common.makeLogger()
        if let merge {
            let folder = URL(fileURLWithPath: merge, isDirectory: true)
            let index = RunIndex(scanning: folder)
            guard !index.finished.isEmpty else { throw ValidationError("--merge \(merge): no finished run in that folder") }
            let table = BenchTable(merging: index)
            try Data(table.csv().utf8).write(to: folder.appendingPathComponent("results.csv"), options: .atomic)
            try Data(table.markdown().utf8).write(to: folder.appendingPathComponent("results.md"), options: .atomic)
            output(table.markdown())
            let training = index.interrupted.filter { RunFolderLock.isHeld($0.folder) }.count
            if training > 0 { output("\(training) run(s) still training (their processes hold them): merge again when they finish") }
            if index.interrupted.count > training {
                output("\(index.interrupted.count - training) run(s) unfinished: run their tasks again to resume them")
            }
            output("\(index.finished.count) runs merged into \(folder.path)/results.{csv,md}")
            return
        }
        let methodNames = Self.listed(methods)
        let datasetNames = Self.listed(datasets)
        guard !methodNames.isEmpty else { throw ValidationError("--methods: no method named (e.g. --methods iforest,knn)") }
        guard !datasetNames.isEmpty else { throw ValidationError("--datasets: no data set named (e.g. --datasets thyroid)") }
        let seedValues = try Self.listed(seeds).map { s -> UInt64 in
            guard let v = UInt64(s) else { throw ValidationError("--seeds: '\(s)' is not a non-negative integer") }
            return v
        }
        guard !seedValues.isEmpty else { throw ValidationError("--seeds: no seed given (e.g. --seeds 0,1,2)") }
        let entries = try methodNames.map { try MethodRegistry.entry(named: $0) }
        let overrides = try methodOptions.parsed()  // each method takes the keys it has
        let cells = try grid(datasets: datasetNames, entries: entries, seeds: seedValues)
        let runsRoot: URL
        if let resume {
            runsRoot = URL(fileURLWithPath: resume, isDirectory: true)
        } else {
            let benchID = try RunDirectory.newIdentifier(
                in: common.outputRoot, method: "bench", dataset: datasetNames.joined(separator: "+"), seed: seedValues.first ?? 0)
            runsRoot = common.outputRoot.appendingPathComponent(benchID)
        }
        if let slurm {
            try writeSlurmScript(to: slurm, taskCount: cells.count, folder: runsRoot)
            return
        }
        var selected = cells
        if let task {
            guard task < cells.count else {
                throw ValidationError("--task \(task) is outside the grid: it has \(cells.count) runs (tasks 0…\(cells.count - 1))")
            }
            selected = [cells[task]]
        }
        let done = RunIndex(scanning: runsRoot)
        var runner = ExperimentRunner(outputRoot: runsRoot, progress: TerminalProgress(), logger: logger)
        runner.training.checkpointEvery = checkpointEvery
        runner.training.checksNumerics = checkNumerics
        runner.training.evaluateEvery = evaluateEvery
        runner.training.stopRequested = { _, _ in InterruptSignal.isRaised }
        InterruptSignal.install()
        var loaded: ExperimentData? = nil
        var rows: [BenchTable.Row] = []
        for cell in selected {
            if loaded?.name != cell.dataset {
                let data = try ExperimentData.load(cell.dataset, root: common.dataRoot, anomalySources: protocolOptions.anomalySources)
                // Refused before anything trains: bench compares AUROCs, which need anomalies.
                if let table = data.sources[SplitSource.table], !table.labels.contains(1) {
                    throw ExperimentError.invalidArgument(
                        "\(cell.dataset) has no anomalies, and bench compares AUROC; train on it with `anomaly train`")
                }
                loaded = data
            }
            let data = loaded!
            let known = Set(cell.entry.options.map(\.name))
            var options = protocolOptions
            options.normalClasses = cell.normalClasses
            options.anomalyClasses = cell.anomalyClasses
            let experimentProtocol = try options.experimentProtocol(isTabular: data.isTabular, datasetName: cell.dataset)
            // The grid's class when it varies; otherwise the protocol's own (none for tables).
            let normalLabel = BenchTable.classLabel(perClass ? cell.normalClasses : experimentProtocol.normalClasses, varies: perClass)
            let anomalyLabel = perAnomalyClass ? BenchTable.classLabel(cell.anomalyClasses, varies: true) : ""
            let configuration = RunConfiguration(
                method: cell.entry.name, methodOptions: overrides.filter { known.contains($0.key) }, dataset: cell.dataset,
                experimentProtocol: experimentProtocol, seed: cell.seed, trainingSubsample: methodOptions.trainingSubsample,
                device: device == "cpu" ? nil : device)
            let row: BenchTable.Row
            if let finished = done.finished.first(where: { $0.configuration == configuration }) {
                row = .init(method: cell.entry.name, dataset: cell.dataset, protocolKind: experimentProtocol.kind, seed: cell.seed,
                            auroc: finished.summary.auroc, averagePrecision: finished.summary.averagePrecision,
                            f1: finished.summary.f1.f1, fitSeconds: finished.fitSeconds, runID: finished.id,
                            normalClass: normalLabel, anomalyClass: anomalyLabel)
            } else {
                let partial = done.interrupted.first { $0.configuration == configuration }?.folder
                let result: RunResult
                do {
                    result = try runner.run(configuration, data: data, method: cell.entry, resuming: partial)
                } catch ExperimentError.resumable(let reason, _) {
                    throw ExperimentError.invalidArgument(
                        "\(reason); continue the bench with the same arguments plus --resume \(runsRoot.path)")
                }
                guard let summary = result.summary else {
                    throw ExperimentError.invalidArgument("\(cell.dataset): the test split of run \(result.directory.path) holds no anomalies")
                }
                row = .init(method: cell.entry.name, dataset: cell.dataset, protocolKind: experimentProtocol.kind, seed: cell.seed,
                            auroc: summary.auroc, averagePrecision: summary.averagePrecision,
                            f1: summary.f1.f1, fitSeconds: result.fitSeconds, runID: result.id,
                            normalClass: normalLabel, anomalyClass: anomalyLabel)
                let where_ = [normalLabel.isEmpty ? "" : "class \(normalLabel) ", anomalyLabel.isEmpty ? "" : "known anomaly \(anomalyLabel) "].joined()
                logger.notice("\(cell.entry.name) \(cell.dataset) \(where_)seed \(cell.seed): AUROC \(String(format: "%.4f", summary.auroc))")
            }
            rows.append(row)
            // A task of a job array leaves the results files to `--merge` (tasks run concurrently).
            if task == nil {
                let table = BenchTable(rows: rows)
                try Data(table.csv().utf8).write(to: runsRoot.appendingPathComponent("results.csv"), options: .atomic)
                try Data(table.markdown().utf8).write(to: runsRoot.appendingPathComponent("results.md"), options: .atomic)
            }
        }
        if let task {
            output("task \(task) of \(cells.count) done in \(runsRoot.path) (AUROC \(String(format: "%.4f", rows[0].auroc))); when every task is done: anomaly bench --merge \(runsRoot.path)")
            return
        }
        let table = BenchTable(rows: rows)
        output(table.markdown())
        output("results written to \(runsRoot.path)/results.{csv,md}")
        // The files table this grid only: say so when the folder holds other finished runs
        // (an earlier bench over other classes or seeds), which --merge tables with these.
        let tabled = Set(rows.map(\.runID))
        let others = done.finished.filter { !tabled.contains($0.id) }.count
        if others > 0 {
            output("\(runsRoot.path) holds \(others) more finished run(s) outside this grid; anomaly bench --merge \(runsRoot.path) tables them all")
        }
    }

    /// The values of a list option given as separate words, comma-separated, or both.
    static func listed(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
    }

    /// Every run of the bench in a fixed order (data set, method, normal classes, known anomaly
    /// classes, seed): the task numbers of a job array.
    func grid(datasets: [String], entries: [MethodEntry], seeds: [UInt64]) throws -> [Cell] {
        let normalGroups = perClass ? protocolOptions.normalClasses.map { [$0] } : [protocolOptions.normalClasses]
        if perAnomalyClass && protocolOptions.anomalyClasses.isEmpty {
            throw ValidationError("--per-anomaly-class needs --anomaly-class (the known anomaly classes to run one by one)")
        }
        var cells: [Cell] = []
        for dataset in datasets {
            for entry in entries {
                for normal in normalGroups {
                    let anomalyGroups = perAnomalyClass
                        ? protocolOptions.anomalyClasses.filter { !normal.contains($0) }.map { [$0] }
                        : [protocolOptions.anomalyClasses]
                    for anomalies in anomalyGroups {
                        for seed in seeds {
                            cells.append(Cell(dataset: dataset, entry: entry, normalClasses: normal, anomalyClasses: anomalies, seed: seed))
                        }
                    }
                }
            }
        }
        return cells
    }

    /// A Slurm job array over the grid: task i runs `anomaly bench <these arguments> --resume
    /// FOLDER --task i`; every task writes its own run folder (atomically), `--merge` collects them.
    func writeSlurmScript(to path: String, taskCount: Int, folder: URL) throws {
        var arguments = Array(CommandLine.arguments.dropFirst())
        // Drop the script options (and their values) and any --resume: the script sets its own.
        var kept: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if ["--slurm", "--slurm-option", "--resume"].contains(name) {
                index += argument.contains("=") ? 1 : 2
                continue
            }
            kept.append(argument)
            index += 1
        }
        arguments = kept
        func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let tool = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        let executable = FileManager.default.isExecutableFile(atPath: tool) ? tool : "anomaly"
        let directory = FileManager.default.currentDirectoryPath
        var script = "#!/bin/bash\n"
        script += "#SBATCH --job-name=anomalykit-bench\n"
        script += "#SBATCH --array=0-\(taskCount - 1)\n"
        script += "#SBATCH --output=\(folder.standardizedFileURL.path)/slurm-%A_%a.log\n"
        for option in slurmOption { script += "#SBATCH \(option)\n" }
        script += "# \(taskCount) runs of: anomaly \(arguments.joined(separator: " "))\n"
        script += "# Each task runs one grid cell into the bench folder; a rerun task resumes its checkpoint.\n"
        script += "# When all are done: \(executable) bench --merge \(quoted(folder.path))\n"
        script += "set -euo pipefail\n"
        script += "cd \(quoted(directory))\n"
        script += "exec \(quoted(executable)) \(arguments.map(quoted).joined(separator: " ")) --resume \(quoted(folder.path)) --task \"$SLURM_ARRAY_TASK_ID\"\n"
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = URL(fileURLWithPath: path)
        try Data(script.utf8).write(to: url, options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        output("wrote \(path): a job array of \(taskCount) tasks into \(folder.path)")
        output("submit it with: sbatch \(path)")
        output("then collect the results: anomaly bench --merge \(folder.path)")
    }
}
