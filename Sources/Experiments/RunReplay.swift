import Datasets
import Detectors
import Foundation
import Logging

/// A finished run brought back to life from its folder.
///
/// Methods that save their fitted state (every registered method: the deep ones as their state
/// module, the classical ones as full-precision arrays) load `model.safetensors` and, for
/// tables, `standardization.json`: scoring needs only the run folder, not the training data.
/// Without that file such a run is refused rather than silently trained again. A detector that
/// saves nothing (one registered by a library user without `PersistentDetector`) is fitted
/// again: the data files are checked against the manifest's hashes, the split is rebuilt and
/// must equal the recorded one, and fitting is deterministic in the seed.
public struct RunReplay {
    public let directory: URL
    public let configuration: RunConfiguration
    public let manifest: SplitManifest
    public let detector: AnyDetector
    /// The rebuilt split and data (refitted methods only).
    public let prepared: ExperimentRunner.Prepared?
    /// The tabular standardisation the run applied (nil for images).
    public let standardizer: Standardizer?
    /// The shape of one sample the model was fitted on (`[d]` for tables, `[C, H, W]` for
    /// images).
    public let sampleShape: [Int]

    public init(directory: URL, dataRoot: URL, progress: any ProgressReporter = SilentProgress(), logger: Logger = Logger(label: "anomalykit")) throws {
        self.directory = directory
        let record = try RunConfigurationRecord.read(from: directory)
        configuration = record.configuration
        manifest = try SplitManifest.read(from: directory.appendingPathComponent("manifest.json"))
        detector = try MethodRegistry.entry(named: configuration.method).make(options: configuration.methodOptions)
        if detector.savesFittedState {
            let model = directory.appendingPathComponent(RunDirectory.checkpointName)
            guard FileManager.default.fileExists(atPath: model.path) else {
                throw ExperimentError.invalidArgument(
                    "\(model.path): missing; the run folder has no saved model and '\(configuration.method)' is not retrained silently (runs written before classical detectors saved their state need `anomaly train` again)")
            }
            try detector.loadFittedState(from: model)
            sampleShape = try FittedStateMetadata.readSampleShape(from: model)
            let statistics = directory.appendingPathComponent(RunDirectory.standardizationName)
            if let data = FileManager.default.contents(atPath: statistics.path) {
                do {
                    standardizer = try JSONDecoder().decode(Standardizer.self, from: data)
                } catch {
                    throw ExperimentError.invalidArgument("\(statistics.path): not valid standardisation statistics (\(error))")
                }
            } else {
                standardizer = nil
            }
            prepared = nil
            return
        }
        let experimentData = try ExperimentData.load(
            configuration.dataset, root: dataRoot, anomalySources: manifest.split.testSourceNames.filter { $0 != SplitSource.test && $0 != SplitSource.table })
        let changed = manifest.mismatchedFiles(currentHashes: experimentData.fileHashes)
        guard changed.isEmpty else {
            throw ExperimentError.invalidArgument(
                "the data differs from the run's manifest (changed or missing: \(changed.joined(separator: ", "))); refusing to rebuild the model")
        }
        let runner = ExperimentRunner(outputRoot: directory, progress: progress, logger: logger)
        let prepared = try runner.prepare(configuration, data: experimentData)
        guard prepared.split == manifest.split else {
            throw ExperimentError.invalidArgument("the rebuilt split differs from the manifest's; refusing to rebuild the model")
        }
        try detector.fit(prepared.training, context: TrainingContext(seed: configuration.seed, progress: progress, logger: logger))
        self.prepared = prepared
        standardizer = prepared.standardizer
        sampleShape = prepared.training.unlabeled.sampleShape
    }

    /// Scores new samples (tables are standardised as the training data was).
    public func score(_ samples: Samples) throws -> [Float] {
        if let expected = prepared?.training.unlabeled {
            guard samples.sampleShape == expected.sampleShape || samples.featureCount == expected.featureCount else {
                throw ExperimentError.invalidArgument(
                    "input samples have shape \(samples.sampleShape), the run's model was trained on samples of shape \(expected.sampleShape)")
            }
        }
        if let standardizer, samples.featureCount != standardizer.mean.count {
            throw ExperimentError.invalidArgument(
                "input samples have \(samples.featureCount) columns, the run's model was trained on \(standardizer.mean.count)")
        }
        let input = try standardizer?.apply(samples) ?? samples
        return try detector.score(input, context: InferenceContext(seed: configuration.seed, device: try configuration.resolvedDevice()))
    }
}
