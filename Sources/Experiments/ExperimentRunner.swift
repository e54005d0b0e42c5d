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
    /// `cpu` (nil) or `cuda`, `cuda:N`.
    public var device: String?

    public init(
        method: String, methodOptions: [String: String] = [:], dataset: String,
        experimentProtocol: ExperimentProtocol, seed: UInt64 = 0, standardize: Bool = true, trainingSubsample: Int? = nil,
        device: String? = nil
    ) {
        self.device = device
        self.trainingSubsample = trainingSubsample
        self.method = method
        self.methodOptions = methodOptions
        self.dataset = dataset
        self.experimentProtocol = experimentProtocol
        self.seed = seed
        self.standardize = standardize
    }
}

extension RunConfiguration {
    /// The configuration recorded in a run folder's (or an interrupted run's) `config.json`.
    public static func read(fromRunFolder folder: URL) throws -> RunConfiguration {
        try RunConfigurationRecord.read(from: folder).configuration
    }

    /// The device named by `device`. This build has the CPU backend only: a CUDA device is
    /// refused with a clear message rather than silently run on the CPU.
    public func resolvedDevice() throws -> Device {
        switch device?.lowercased() {
        case nil, "cpu": return .cpu
        case let name? where name == "cuda" || name.hasPrefix("cuda:"):
            throw ExperimentError.invalidArgument("--device \(name): this build has no CUDA backend; use --device cpu")
        case let name?:
            throw ExperimentError.invalidArgument("--device \(name): unknown device; use cpu or cuda[:N]")
        }
    }
}

/// What a finished run produced.
public struct RunResult: Sendable {
    public var id: String
    public var directory: URL
    /// The ranking metrics on the test set; nil when it holds no anomalies (one-class data
    /// with no anomalies at all: the run still trains, calibrates its thresholds and reports
    /// their false-positive rates on the test normals).
    public var summary: EvaluationSummary?
    public var scores: [Float]
    public var isAnomaly: [Bool]
    /// Training time; a resumed run adds the epochs its earlier processes trained.
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

    /// Settings of the training loops that do not change results: checkpoint cadence, test
    /// AUROC monitoring, the op-level numerics check, and the stop request (Ctrl-C).
    public struct TrainingSettings: Sendable {
        public var checkpointEvery: Int = 1
        /// Test AUROC every this many epochs (nil: none), plotted in the report.
        public var evaluateEvery: Int? = nil
        public var checksNumerics = false
        public var stopRequested: @Sendable (String, Int) -> Bool = { _, _ in false }
        public init() {}
    }

    public var training = TrainingSettings()

    /// Fits, scores and writes the run folder. The folder is filled under a temporary name
    /// (`.<id>.partial`) that holds the manifest, the configuration and the training
    /// checkpoints from the start; it is renamed when complete. If training stops (an error, a
    /// divergence, Ctrl-C) after a checkpoint was written, the partial folder is kept and the
    /// error says how to resume; `resuming` continues such a folder.
    public func run(
        _ configuration: RunConfiguration, data: ExperimentData, method: MethodEntry, resuming: URL? = nil
    ) throws -> RunResult {
        let detector = try method.make(options: configuration.methodOptions)
        let device = try configuration.resolvedDevice()
        let prepared = try prepare(configuration, data: data)
        let (split, training, test) = (prepared.split, prepared.training, prepared.test)
        logger.info(
            "\(configuration.method) on \(data.name): \(training.unlabeled.count) unlabelled, \(training.labeledNormal?.count ?? 0) labelled normal, \(training.labeledAnomalies?.count ?? 0) labelled anomalous training samples; \(test.samples.count) test samples")
        let manifest = try SplitManifest(
            dataset: data.name, files: data.fileHashes, experimentProtocol: configuration.experimentProtocol,
            seed: configuration.seed, split: split, tool: ToolInfo(name: "anomalykit", version: toolVersion, gemm: BLAS.implementation, threads: CPUThreads.count), createdAt: Date())
        let record = RunConfigurationRecord(
            configuration: configuration, detectorConfiguration: detector.configurationJSON, toolVersion: toolVersion)

        let id: String
        let folder: URL
        let lock: RunFolderLock
        if let resuming {
            (id, folder) = try RunDirectory.partialFolder(resuming)
            lock = try RunFolderLock(folder)
            if let warning = try Self.checkResumable(folder, record: record, manifest: manifest) {
                logger.warning("\(warning)")
            }
        } else {
            (id, folder) = try RunDirectory.createPartial(
                in: outputRoot, method: configuration.method, dataset: data.name, seed: configuration.seed)
            do {
                lock = try RunFolderLock(folder)
                try manifest.write(to: folder.appendingPathComponent("manifest.json"))
                try RunDirectory.writeJSON(record, to: folder.appendingPathComponent("config.json"))
            } catch {
                try? FileManager.default.removeItem(at: folder)
                throw error
            }
        }
        // Held until this function returns, whatever path it takes.
        defer { withExtendedLifetime(lock) {} }
        let checkpoints = folder.appendingPathComponent(RunDirectory.checkpointFolder)
        // This run's own record cleans up after an error; `current` (the process's latest run)
        // serves only the out-of-memory handler, which cannot unwind to here. Concurrent runs
        // (tests, library users) overwrite `current`, so the catch below never reads it.
        let inProgress = RunInProgress(folder: folder, checkpoints: checkpoints, isResumed: resuming != nil)
        RunInProgress.current = inProgress
        defer { RunInProgress.current = nil }
        let history = TrainingHistory()
        let context = TrainingContext(
            seed: configuration.seed, device: device, progress: progress, logger: logger,
            checkpointDirectory: checkpoints, checkpointEvery: self.training.checkpointEvery,
            checksNumerics: self.training.checksNumerics,
            evaluation: self.training.evaluateEvery.map {
                TrainingEvaluation(samples: test.samples, isAnomaly: test.isAnomaly, every: $0)
            },
            stopRequested: self.training.stopRequested, history: history)
        do {
            let fitStart = Date()
            try detector.fit(training, context: context)
            // A resumed run counts the epochs its earlier processes trained, too.
            let fitSeconds = Date().timeIntervalSince(fitStart) + history.restoredSeconds
            let scoreStart = Date()
            let scores = try detector.score(test.samples, context: InferenceContext(seed: configuration.seed, device: device))
            let scoreSeconds = Date().timeIntervalSince(scoreStart)
            guard scores.count == test.samples.count else {
                throw ExperimentError.invalidArgument("\(configuration.method) returned \(scores.count) scores for \(test.samples.count) samples")
            }
            if let bad = scores.firstIndex(where: { !$0.isFinite }) {
                throw ExperimentError.invalidArgument("\(configuration.method) produced a non-finite score for test sample \(bad)")
            }
            let summary = test.isAnomaly.contains(true) ? try EvaluationSummary(scores: scores, labels: test.isAnomaly) : nil
            let thresholds = try calibratedThresholds(detector, prepared, configuration: configuration, device: device)
                .evaluated(scores: scores, isAnomaly: test.isAnomaly)
            try RunDirectory.writeJSON(thresholds, to: folder.appendingPathComponent(RunThresholds.fileName))
            try RunDirectory.writeScores(test: test, scores: scores, to: folder.appendingPathComponent("scores.csv"))
            if detector.savesFittedState {
                try detector.saveFittedState(to: folder.appendingPathComponent(RunDirectory.checkpointName))
            }
            if let standardizer = prepared.standardizer {
                try RunDirectory.writeJSON(standardizer, to: folder.appendingPathComponent(RunDirectory.standardizationName))
            }
            let fitted = detector.currentConfigurationJSON
            if fitted != record.detectorConfiguration {
                var finished = record
                finished.fittedDetectorConfiguration = fitted
                try RunDirectory.writeJSON(finished, to: folder.appendingPathComponent("config.json"))
            }
            try RunDirectory.writeJSON(
                RunMetrics(
                    summary: summary, fitSeconds: fitSeconds, scoreSeconds: scoreSeconds, training: history.epochs,
                    selectedEpochs: history.selections.isEmpty ? nil : history.selections, thresholds: thresholds.summary),
                to: folder.appendingPathComponent("metrics.json"))
            let report = try ReportBuilder.report(
                title: "\(configuration.method) on \(data.name) — \(configuration.experimentProtocol.kind), seed \(configuration.seed)",
                configuration: configuration, detectorConfiguration: detector.currentConfigurationJSON, split: split,
                scores: scores, isAnomaly: test.isAnomaly, summary: summary, fitSeconds: fitSeconds,
                scoreSeconds: scoreSeconds, standardized: prepared.standardizer != nil, notes: data.notes,
                training: history.epochs, selections: history.selections, thresholds: thresholds, testSamples: test.samples,
                madeImages: madeImages(detector, test: test, seed: configuration.seed, device: device))
            try Data(report.render().utf8).write(to: folder.appendingPathComponent("report.html"))
            try? FileManager.default.removeItem(at: checkpoints)
            lock.removeFile()
            let directory = try RunDirectory.finish(folder, id: id, in: outputRoot)
            return RunResult(
                id: id, directory: directory, summary: summary, scores: scores, isAnomaly: test.isAnomaly,
                fitSeconds: fitSeconds, scoreSeconds: scoreSeconds)
        } catch {
            if inProgress.abandon() {
                throw ExperimentError.resumable(reason: "\(error)", folder: folder.path)
            }
            throw error
        }
    }

    /// The images a generative detector made for the report (`ImageReporting`): its samples, and
    /// its reconstructions of the first four normal then the first four anomalous test images.
    /// The run is finished by then, so a failure here costs the report these images, not the run.
    func madeImages(_ detector: AnyDetector, test: TestSet, seed: UInt64, device: Device)
        -> (sets: [ReportImages], note: String)
    {
        guard detector.reportsImages else { return ([], "") }
        let normals = test.isAnomaly.indices.filter { !test.isAnomaly[$0] }.prefix(4)
        let anomalies = test.isAnomaly.indices.filter { test.isAnomaly[$0] }.prefix(4)
        let note = "Drawn with the run's seed. Test images shown: the first \(normals.count) normal, then the first \(anomalies.count) anomalous."
        do {
            let shown = test.samples.selecting(Array(normals) + Array(anomalies))
            return (try detector.reportImages(of: shown, count: 8, context: InferenceContext(seed: seed, device: device)), note)
        } catch {
            logger.warning("the report leaves out the images \(detector.method) makes: \(error)")
            return ([], note)
        }
    }

    /// Thresholds from the scores of the validation split, else of (at most
    /// `RunThresholds.calibrationLimit` of) the training samples.
    func calibratedThresholds(_ detector: AnyDetector, _ prepared: Prepared, configuration: RunConfiguration, device: Device)
        throws -> RunThresholds
    {
        let source = prepared.validation ?? prepared.training.unlabeled
        var calibration = source
        if source.count > RunThresholds.calibrationLimit {
            var generator = SeededGenerator(seed: configuration.seed ^ 0xca11_b2a7_e000)
            calibration = source.selecting(generator.permutation(source.count).prefix(RunThresholds.calibrationLimit).sorted())
        }
        let scores = try detector.score(calibration, context: InferenceContext(seed: configuration.seed, device: device))
        if let bad = scores.firstIndex(where: { !$0.isFinite }) {
            throw ExperimentError.invalidArgument("\(configuration.method) produced a non-finite score for calibration sample \(bad)")
        }
        return try RunThresholds(calibrationScores: scores, source: prepared.validation == nil ? "training" : "validation")
    }

    /// A partial folder may be resumed only by the same configuration on the same split; the
    /// returned warning says when other GEMM kernels will finish it (another CPU, or another
    /// OPENBLAS_CORETYPE) or another thread count.
    static func checkResumable(_ folder: URL, record: RunConfigurationRecord, manifest: SplitManifest) throws -> String? {
        let saved = try RunConfigurationRecord.read(from: folder)
        guard saved.configuration == record.configuration, saved.detectorConfiguration == record.detectorConfiguration else {
            throw ExperimentError.invalidArgument(
                "\(folder.path) was started with another configuration; resume it without changing method, data set, protocol, seed or options")
        }
        let savedManifest = try SplitManifest.read(from: folder.appendingPathComponent("manifest.json"))
        guard savedManifest.split == manifest.split, savedManifest.mismatchedFiles(currentHashes: manifest.files).isEmpty else {
            throw ExperimentError.invalidArgument("\(folder.path): the data or the split differ from the interrupted run's; cannot resume")
        }
        // Not refused: the checkpoint is still good, only bit-for-bit equality with an
        // uninterrupted run is lost.
        if let before = savedManifest.tool.gemm, let now = manifest.tool.gemm, before != now {
            return "\(folder.lastPathComponent) started with \(before) and resumes with \(now): its scores will not be identical to an uninterrupted run's (set OPENBLAS_CORETYPE as when it started to keep them)"
        }
        if let before = savedManifest.tool.threads, let now = manifest.tool.threads, before != now {
            return "\(folder.lastPathComponent) started with \(before) threads and resumes with \(now): its scores will not be identical to an uninterrupted run's (set \(CPUThreads.environmentVariable)=\(before) to keep them)"
        }
        return nil
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
        /// The held-out validation samples (nil when the protocol holds none out).
        public var validation: Samples?
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
        if data.isTabular && configuration.standardize && trainSource.samples.sampleShape.count == 1 {
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
        return Prepared(
            split: split, training: training, test: test, standardizer: standardizer, validation: try take(split.validation))
    }
}

/// The tool's version, recorded in manifests and configurations.
public enum AnomalyKitVersion {
    public static let current = "0.1.0"
}

struct RunConfigurationRecord: Codable {
    var configuration: RunConfiguration
    /// The detector's options as asked for (what a resume must match).
    var detectorConfiguration: String
    var toolVersion: String
    /// What the detector trained with, written when the run finishes, where that differs from
    /// `detectorConfiguration`: Elsa fine-tuning a `pretrained` run adopts that run's encoder.
    var fittedDetectorConfiguration: String? = nil

    /// The `config.json` of a run folder.
    static func read(from folder: URL) throws -> RunConfigurationRecord {
        let url = folder.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ExperimentError.invalidArgument("\(url.path): no such file — is \(folder.path) a run folder?")
        }
        do {
            return try JSONDecoder().decode(RunConfigurationRecord.self, from: data)
        } catch {
            throw ExperimentError.invalidArgument("\(url.path): not a valid run configuration (\(error))")
        }
    }
}

struct RunMetrics: Codable {
    /// nil when the test set holds no anomalies.
    var summary: EvaluationSummary?
    /// This process's fit plus, for a resumed run, the epochs restored from its checkpoints.
    var fitSeconds: Double
    var scoreSeconds: Double
    /// Loss terms (and test AUROC, when monitored) per epoch of every training phase.
    var training: [TrainingHistory.Epoch]
    /// The epoch each phase with model selection kept (absent when no phase selects).
    var selectedEpochs: [TrainingHistory.Selection]?
    /// The run's thresholds with what they achieve on the test set.
    var thresholds: RunThresholds?
}

/// The partial folder of the run this process is writing. A run that stops with an error keeps
/// it only when it holds a checkpoint to resume from; a handler that ends the process without
/// unwinding (out of memory) cleans up the same way through `current`.
public struct RunInProgress: Sendable {
    let folder: URL
    let checkpoints: URL
    /// A resumed run's folder is the user's: never removed.
    let isResumed: Bool

    nonisolated(unsafe) public static var current: RunInProgress?

    /// Removes the partial folder unless a checkpoint was written; true when it is kept.
    @discardableResult
    public func abandon() -> Bool {
        let kept = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path))?.isEmpty == false
        if !kept && !isResumed { try? FileManager.default.removeItem(at: folder) }
        return kept
    }

    /// Where a kept folder is, for the message.
    public var folderPath: String { folder.path }
}
