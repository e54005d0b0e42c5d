import Datasets
import Detectors
import Foundation
import Logging

/// A finished run brought back to life: its configuration and manifest are read from the run
/// folder, the data files are checked against the manifest's hashes, the split is rebuilt and
/// must equal the recorded one, and the detector is fitted again. Fitting is deterministic in
/// the seed, so the detector is the one the run evaluated. Deep methods load the run's
/// checkpoint (`model.safetensors`) instead of training again.
public struct RunReplay {
    public let directory: URL
    public let configuration: RunConfiguration
    public let manifest: SplitManifest
    public let detector: AnyDetector
    public let prepared: ExperimentRunner.Prepared

    public init(directory: URL, dataRoot: URL, progress: any ProgressReporter = SilentProgress(), logger: Logger = Logger(label: "anomalykit")) throws {
        self.directory = directory
        let configURL = directory.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: configURL.path) else {
            throw ExperimentError.invalidArgument("\(configURL.path): no such file — is \(directory.path) a run folder?")
        }
        let record: RunConfigurationRecord
        do {
            record = try JSONDecoder().decode(RunConfigurationRecord.self, from: data)
        } catch {
            throw ExperimentError.invalidArgument("\(configURL.path): not a valid run configuration (\(error))")
        }
        configuration = record.configuration
        manifest = try SplitManifest.read(from: directory.appendingPathComponent("manifest.json"))
        let experimentData = try ExperimentData.load(
            configuration.dataset, root: dataRoot, anomalySources: manifest.split.testSourceNames.filter { $0 != SplitSource.test && $0 != SplitSource.table })
        let changed = manifest.mismatchedFiles(currentHashes: experimentData.fileHashes)
        guard changed.isEmpty else {
            throw ExperimentError.invalidArgument(
                "the data differs from the run's manifest (changed or missing: \(changed.joined(separator: ", "))); refusing to rebuild the model")
        }
        let runner = ExperimentRunner(outputRoot: directory, progress: progress, logger: logger)
        prepared = try runner.prepare(configuration, data: experimentData)
        guard prepared.split == manifest.split else {
            throw ExperimentError.invalidArgument("the rebuilt split differs from the manifest's; refusing to rebuild the model")
        }
        detector = try MethodRegistry.entry(named: configuration.method).make(options: configuration.methodOptions)
        let checkpoint = directory.appendingPathComponent(RunDirectory.checkpointName)
        if detector.savesCheckpoints && FileManager.default.fileExists(atPath: checkpoint.path) {
            try detector.loadCheckpoint(from: checkpoint, sampleShape: prepared.training.unlabeled.sampleShape, seed: configuration.seed)
        } else {
            try detector.fit(prepared.training, context: TrainingContext(seed: configuration.seed, progress: progress, logger: logger))
        }
    }

    /// Scores new samples (tables are standardised as the training data was).
    public func score(_ samples: Samples) throws -> [Float] {
        let expected = prepared.training.unlabeled.sampleShape
        guard samples.sampleShape == expected || samples.featureCount == prepared.training.unlabeled.featureCount else {
            throw ExperimentError.invalidArgument(
                "input samples have shape \(samples.sampleShape), the run's model was trained on samples of shape \(expected)")
        }
        let input = try prepared.standardizer?.apply(samples) ?? samples
        return try detector.score(input, context: InferenceContext(seed: configuration.seed))
    }
}
