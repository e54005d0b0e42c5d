import Datasets
import Detectors
import Foundation
import Logging
import Metrics
import Tensors

/// The data of one experiment, by source name: `train` and `test` for image sets, `table` for a
/// tabular set, plus extra named test sources for cross-data-set protocols.
public struct ExperimentData: Sendable {
    public var name: String
    public var sources: [String: LabeledSamples]
    /// SHA-256 of every file read, by path (recorded in the manifest).
    public var fileHashes: [String: String]
    /// Caveats shown in the report (for example "CIFAR-10 (JPEG q75), approximate pixels").
    public var notes: [String]

    public init(name: String, sources: [String: LabeledSamples], fileHashes: [String: String] = [:], notes: [String] = []) {
        self.name = name
        self.sources = sources
        self.fileHashes = fileHashes
        self.notes = notes
    }

    public var isTabular: Bool { sources[SplitSource.table] != nil }
}

/// Everything that defines a run (written to `config.json`).
public struct RunConfiguration: Codable, Sendable, Equatable {
    public var method: String
    public var methodOptions: [String: String]
    public var dataset: String
    public var experimentProtocol: ExperimentProtocol
    public var seed: UInt64
    /// z-score tabular features with training statistics (guard by the protocol's rule).
    public var standardize: Bool
    /// Keep at most this many unlabelled training samples (a seeded random subset, recorded in
    /// the manifest's split), for methods whose cost grows quadratically (OC-SVM, KDE, kNN on
    /// large tables). `nil` keeps all.
    public var trainingSubsample: Int?

    public init(
        method: String, methodOptions: [String: String] = [:], dataset: String,
        experimentProtocol: ExperimentProtocol, seed: UInt64 = 0, standardize: Bool = true, trainingSubsample: Int? = nil
    ) {
        self.trainingSubsample = trainingSubsample
        self.method = method
        self.methodOptions = methodOptions
        self.dataset = dataset
        self.experimentProtocol = experimentProtocol
        self.seed = seed
        self.standardize = standardize
    }
}

/// What a finished run produced.
public struct RunResult: Sendable {
    public var id: String
    public var directory: URL
    public var summary: EvaluationSummary
    public var scores: [Float]
    public var isAnomaly: [Bool]
    public var fitSeconds: Double
    public var scoreSeconds: Double
}

/// Turns "method × data set × protocol × seed" into a run: split, fit, score, evaluate, and the
/// run folder `runs/<id>/` (manifest.json, config.json, scores.csv, metrics.json, report.html),
/// written into a temporary folder and renamed at the end, so a failed run leaves nothing
/// half-written.
public struct ExperimentRunner {
    public var outputRoot: URL
    public var progress: any ProgressReporter
    public var logger: Logger
    public var toolVersion: String

    public init(
        outputRoot: URL, progress: any ProgressReporter = SilentProgress(),
        logger: Logger = Logger(label: "anomalykit"), toolVersion: String = AnomalyKitVersion.current
    ) {
        self.outputRoot = outputRoot
        self.progress = progress
        self.logger = logger
        self.toolVersion = toolVersion
    }

    public func run(_ configuration: RunConfiguration, data: ExperimentData, method: MethodEntry) throws -> RunResult {
        let detector = try method.make(options: configuration.methodOptions)
        let prepared = try prepare(configuration, data: data)
        let (split, training, test) = (prepared.split, prepared.training, prepared.test)
        logger.info(
            "\(configuration.method) on \(data.name): \(training.unlabeled.count) unlabelled, \(training.labeledNormal?.count ?? 0) labelled normal, \(training.labeledAnomalies?.count ?? 0) labelled anomalous training samples; \(test.samples.count) test samples")

        let context = TrainingContext(seed: configuration.seed, progress: progress, logger: logger)
        let fitStart = Date()
        try detector.fit(training, context: context)
        let fitSeconds = Date().timeIntervalSince(fitStart)
        let scoreStart = Date()
        let scores = try detector.score(test.samples, context: InferenceContext(seed: configuration.seed))
        let scoreSeconds = Date().timeIntervalSince(scoreStart)
        guard scores.count == test.samples.count else {
            throw ExperimentError.invalidArgument("\(configuration.method) returned \(scores.count) scores for \(test.samples.count) samples")
        }
        if let bad = scores.firstIndex(where: { !$0.isFinite }) {
            throw ExperimentError.invalidArgument("\(configuration.method) produced a non-finite score for test sample \(bad)")
        }
        let summary = try EvaluationSummary(scores: scores, labels: test.isAnomaly)

        let manifest = try SplitManifest(
            dataset: data.name, files: data.fileHashes, experimentProtocol: configuration.experimentProtocol,
            seed: configuration.seed, split: split, tool: ToolInfo(name: "anomalykit", version: toolVersion), createdAt: Date())
        let id = try RunDirectory.newIdentifier(in: outputRoot, method: configuration.method, dataset: data.name, seed: configuration.seed)
        let directory = try RunDirectory.write(into: outputRoot, id: id) { folder in
            try manifest.write(to: folder.appendingPathComponent("manifest.json"))
            try RunDirectory.writeJSON(
                RunConfigurationRecord(configuration: configuration, detectorConfiguration: detector.configurationJSON, toolVersion: toolVersion),
                to: folder.appendingPathComponent("config.json"))
            try RunDirectory.writeScores(test: test, scores: scores, to: folder.appendingPathComponent("scores.csv"))
            if detector.savesCheckpoints {
                try detector.saveCheckpoint(to: folder.appendingPathComponent(RunDirectory.checkpointName))
            }
            try RunDirectory.writeJSON(
                RunMetrics(summary: summary, fitSeconds: fitSeconds, scoreSeconds: scoreSeconds),
                to: folder.appendingPathComponent("metrics.json"))
            let report = try ReportBuilder.report(
                title: "\(configuration.method) on \(data.name) — \(configuration.experimentProtocol.kind), seed \(configuration.seed)",
                configuration: configuration, detectorConfiguration: detector.configurationJSON, split: split,
                scores: scores, isAnomaly: test.isAnomaly, summary: summary, fitSeconds: fitSeconds,
                scoreSeconds: scoreSeconds, standardized: prepared.standardizer != nil, notes: data.notes)
            try Data(report.render().utf8).write(to: folder.appendingPathComponent("report.html"))
        }
        return RunResult(
            id: id, directory: directory, summary: summary, scores: scores, isAnomaly: test.isAnomaly,
            fitSeconds: fitSeconds, scoreSeconds: scoreSeconds)
    }

    /// The test samples of a split with their anomaly labels and where each came from.
    public struct TestSet: Sendable {
        public var samples: Samples
        public var isAnomaly: [Bool]
        public var sourceNames: [String]
        public var sourceIndices: [Int]
    }

    /// A split turned into the detector's inputs.
    public struct Prepared: Sendable {
        public var split: Split
        public var training: TrainingData
        public var test: TestSet
        /// The tabular standardisation fitted on the training rows (nil for images).
        public var standardizer: Standardizer?
    }

    /// Builds the split and the detector's training and test data (standardised for tables).
    public func prepare(_ configuration: RunConfiguration, data: ExperimentData) throws -> Prepared {
        var split: Split
        if let table = data.sources[SplitSource.table] {
            let labels = table.labels
            if let bad = labels.first(where: { $0 != 0 && $0 != 1 }) {
                throw ExperimentError.invalidArgument("\(data.name): tabular labels must be 0 (normal) or 1 (anomaly), found \(bad)")
            }
            split = try configuration.experimentProtocol.makeSplit(trainLabels: labels, seed: configuration.seed)
        } else {
            guard let train = data.sources[SplitSource.train], let test = data.sources[SplitSource.test] else {
                throw ExperimentError.invalidArgument("\(data.name): needs 'train' and 'test' sources (or a 'table')")
            }
            var extra: [String: Int] = [:]
            for (name, source) in data.sources where name != SplitSource.train && name != SplitSource.test { extra[name] = source.count }
            split = try configuration.experimentProtocol.makeSplit(
                trainLabels: train.labels, testLabels: test.labels, anomalyTestCounts: extra, seed: configuration.seed)
        }
        if let limit = configuration.trainingSubsample {
            guard limit > 0 else { throw ExperimentError.invalidArgument("training subsample must be positive, got \(limit)") }
            if split.unlabeled.count > limit {
                // A seeded subset, independent of the split's own random stream.
                var generator = SeededGenerator(seed: configuration.seed ^ 0x5eed_5ab5_a3b1_e000)
                split.unlabeled = Array(generator.permutation(split.unlabeled.count).prefix(limit).map { split.unlabeled[$0] }).sorted()
                let kept = Set(split.unlabeled).union(split.validation)
                split.pollution = split.pollution.filter { kept.contains($0) }
            }
        }
        guard let trainSource = data.sources[split.trainingSource] else {
            throw ExperimentError.invalidArgument("\(data.name): no source named '\(split.trainingSource)'")
        }
        var standardizer: Standardizer? = nil
        if data.isTabular && configuration.standardize {
            let guardRule: ScaleGuard
            if case .tabular(let p) = configuration.experimentProtocol, case .drocc = p.rule { guardRule = .drocc } else { guardRule = .goad }
            standardizer = try Standardizer(
                fitting: trainSource.samples, rows: (split.unlabeled + split.labeledNormal).sorted(), guard: guardRule)
        }
        func take(_ indices: [Int]) throws -> Samples? {
            guard !indices.isEmpty else { return nil }
            let s = trainSource.samples.selecting(indices)
            return try standardizer?.apply(s) ?? s
        }
        guard let unlabeled = try take(split.unlabeled) ?? take(split.labeledNormal) else {
            throw ExperimentError.invalidArgument("\(data.name): the split has no training samples")
        }
        let training = TrainingData(
            unlabeled: unlabeled, labeledNormal: split.unlabeled.isEmpty ? nil : try take(split.labeledNormal),
            labeledAnomalies: try take(split.labeledAnomalies))

        // Test samples, gathered source by source in the split's order.
        var parts: [Samples] = []
        var names: [String] = [], indices: [Int] = []
        var run: (source: Int, indices: [Int])? = nil
        func flush() throws {
            guard let r = run else { return }
            let name = split.testSourceNames[r.source]
            guard let source = data.sources[name] else {
                throw ExperimentError.invalidArgument("\(data.name): the split needs test source '\(name)', which is not loaded")
            }
            let s = source.samples.selecting(r.indices)
            parts.append(try standardizer?.apply(s) ?? s)
            names += [String](repeating: name, count: r.indices.count)
            indices += r.indices
        }
        for (position, index) in split.test.enumerated() {
            let source = split.testSource.isEmpty ? 0 : split.testSource[position]
            if run?.source == source {
                run!.indices.append(index)
            } else {
                try flush()
                run = (source, [index])
            }
        }
        try flush()
        let test = TestSet(
            samples: Samples.concatenating(parts), isAnomaly: split.testIsAnomaly, sourceNames: names, sourceIndices: indices)
        return Prepared(split: split, training: training, test: test, standardizer: standardizer)
    }
}

/// The tool's version, recorded in manifests and configurations.
public enum AnomalyKitVersion {
    public static let current = "0.1.0"
}

struct RunConfigurationRecord: Codable {
    var configuration: RunConfiguration
    var detectorConfiguration: String
    var toolVersion: String
}

struct RunMetrics: Codable {
    var summary: EvaluationSummary
    var fitSeconds: Double
    var scoreSeconds: Double
}
