import Datasets
import Foundation
import Logging
import Tensors

/// Training data for a detector: unlabelled samples (possibly polluted with anomalies), plus
/// optional labelled normals and labelled anomalies (semi-supervised protocols).
public struct TrainingData: Sendable {
    public var unlabeled: Samples
    public var labeledNormal: Samples?
    public var labeledAnomalies: Samples?

    public init(unlabeled: Samples, labeledNormal: Samples? = nil, labeledAnomalies: Samples? = nil) {
        self.unlabeled = unlabeled
        self.labeledNormal = labeledNormal
        self.labeledAnomalies = labeledAnomalies
    }
}

/// Receives progress of long work (epochs, batches, trees…). The CLI draws a progress bar.
public protocol ProgressReporter: Sendable {
    /// Starts a phase of `total` units (for example the batches of one epoch).
    func begin(_ phase: String, total: Int)
    /// `completed` units of the current phase are done; `metrics` such as ["loss": 0.31].
    func update(completed: Int, metrics: [String: Double])
    /// The current phase is over.
    func end()
}

/// A reporter that ignores everything.
public struct SilentProgress: ProgressReporter {
    public init() {}
    public func begin(_ phase: String, total: Int) {}
    public func update(completed: Int, metrics: [String: Double]) {}
    public func end() {}
}

/// What a detector may use while fitting: no globals.
public struct TrainingContext: Sendable {
    public var seed: UInt64
    public var device: Device
    public var progress: any ProgressReporter
    public var logger: Logger
    /// Where training loops keep their resumable checkpoints (one file per phase); nil: none.
    /// A loop that finds its phase's checkpoint here continues from it (`--resume`).
    public var checkpointDirectory: URL?
    /// Epochs between checkpoints (the end of every phase is always saved).
    public var checkpointEvery: Int
    /// Runs every training step under `withNumericsCheck`, so a divergence also names the op
    /// that first produced a NaN or infinity (slower). Loss terms are always checked.
    public var checksNumerics: Bool
    /// Test-set monitoring: AUROC every few epochs, for the report's curve (nil: none).
    public var evaluation: TrainingEvaluation?
    /// Asked after every epoch; when it answers true the loop saves a checkpoint and throws
    /// `DetectorError.interrupted` (Ctrl-C in the tool; tests).
    public var stopRequested: @Sendable (_ phase: String, _ completedEpochs: Int) -> Bool
    /// Losses and evaluations per epoch, filled by the training loops.
    public var history: TrainingHistory

    public init(
        seed: UInt64 = 0, device: Device = .cpu, progress: any ProgressReporter = SilentProgress(),
        logger: Logger = Logger(label: "anomalykit"), checkpointDirectory: URL? = nil, checkpointEvery: Int = 1,
        checksNumerics: Bool = false, evaluation: TrainingEvaluation? = nil,
        stopRequested: @escaping @Sendable (String, Int) -> Bool = { _, _ in false },
        history: TrainingHistory = TrainingHistory()
    ) {
        self.seed = seed
        self.device = device
        self.progress = progress
        self.logger = logger
        self.checkpointDirectory = checkpointDirectory
        self.checkpointEvery = checkpointEvery
        self.checksNumerics = checksNumerics
        self.evaluation = evaluation
        self.stopRequested = stopRequested
        self.history = history
    }
}

/// What a detector may use while scoring.
public struct InferenceContext: Sendable {
    public var seed: UInt64
    public var device: Device
    public var batchSize: Int

    public init(seed: UInt64 = 0, device: Device = .cpu, batchSize: Int = 256) {
        self.seed = seed
        self.device = device
        self.batchSize = batchSize
    }
}

/// Errors a detector throws for input a user can get wrong.
public enum DetectorError: Error, CustomStringConvertible, Equatable {
    case notFitted(String)
    case emptyTrainingData(String)
    case shapeMismatch(detector: String, expected: [Int], got: [Int])
    case nonFiniteInput(detector: String, index: Int)
    case invalidConfiguration(String)
    /// An option outside its allowed range (`requirement` says what is allowed).
    case invalidOption(option: String, value: String, requirement: String)
    /// A loss term became NaN or infinite; the weights were not updated with it.
    case diverged(phase: String, epoch: Int, term: String, value: Float, cause: String?)
    /// Training stopped on request after `completedEpochs` epochs of `phase`, checkpoint saved.
    case interrupted(phase: String, completedEpochs: Int)
    /// A checkpoint that cannot resume this training (another configuration or model).
    case incompatibleCheckpoint(path: String, reason: String)

    public var description: String {
        switch self {
        case .notFitted(let name): return "\(name): score() called before fit()"
        case .emptyTrainingData(let name): return "\(name): no training samples"
        case .shapeMismatch(let name, let expected, let got):
            return "\(name): samples have shape \(got) but the detector was fitted on sample shape \(expected)"
        case .nonFiniteInput(let name, let index): return "\(name): sample \(index) contains NaN or infinity"
        case .invalidConfiguration(let message): return "invalid configuration: \(message)"
        case .invalidOption(let option, let value, let requirement):
            return "option \(option)=\(value) is out of range: \(requirement)"
        case .diverged(let phase, let epoch, let term, let value, let cause):
            return "training diverged in \(phase) epoch \(epoch): loss term '\(term)' became \(value)"
                + (cause.map { " (\($0))" } ?? "") + "; lower the learning rate"
        case .interrupted(let phase, let epochs):
            return "training stopped after \(phase) epoch \(epochs)"
        case .incompatibleCheckpoint(let path, let reason):
            return "checkpoint \(path) cannot resume this training: \(reason)"
        }
    }
}

/// PyOD's contract: fit, then score; a higher score is more anomalous.
public protocol AnomalyDetector {
    associatedtype Configuration: Codable & Sendable
    init(_ configuration: Configuration)
    /// Unlabelled data (possibly polluted), plus optional labelled normals and anomalies.
    mutating func fit(_ data: TrainingData, context: TrainingContext) throws
    /// One anomaly score per sample; higher means more anomalous.
    func score(_ samples: Samples, context: InferenceContext) throws -> [Float]
}

/// A detector whose fitted state can be written to a file and read back, so a run folder
/// scores new samples without the training data.
public protocol PersistentDetector {
    /// Writes the fitted state (safetensors, atomically).
    func saveFittedState(to url: URL) throws
    /// Replaces the state with the one stored at `url`; the file says which sample shape it fits.
    mutating func loadFittedState(from url: URL) throws
}

/// Titled images a detector made, for the run's report: `images` has the samples' shape with
/// values in [0, 1], one caption per image.
public struct ReportImages: Sendable {
    public let title: String
    public let images: Samples
    public let captions: [String]

    public init(title: String, images: Samples, captions: [String]) {
        self.title = title
        self.images = images
        self.captions = captions
    }
}

/// A fitted detector with a generative part whose images are worth a look next to its scores
/// (CSI with synthetic inliers: its generator's samples and its reconstructions). The report
/// shows them; nothing is scored or saved from them.
public protocol ImageReporting {
    /// At most `count` images a set; `samples` are test images (reconstructed where the method
    /// reconstructs). Draws use `context.seed`, so a run's report shows the same images again.
    func reportImages(of samples: Samples, count: Int, context: InferenceContext) throws -> [ReportImages]
}

/// A configuration that knows its allowed ranges. `validate()` throws
/// `DetectorError.invalidOption` naming the first option out of range (dotted path for nested
/// options); the tool calls it before any training starts, and `fit` calls it again.
public protocol ValidatingConfiguration {
    func validate() throws
}

/// Range checks for `ValidatingConfiguration.validate()`.
public enum OptionCheck {
    /// `value` must lie in `range`.
    public static func require<T: Comparable & CustomStringConvertible>(
        _ option: String, _ value: T, in range: ClosedRange<T>
    ) throws {
        if let f = value as? any BinaryFloatingPoint, !(Double(f)).isFinite {
            throw DetectorError.invalidOption(option: option, value: "\(value)", requirement: "must be a finite number")
        }
        guard range.contains(value) else {
            throw DetectorError.invalidOption(
                option: option, value: "\(value)", requirement: "must be in \(range.lowerBound)...\(range.upperBound)")
        }
    }

    /// `value` must be at least `minimum` (and finite).
    public static func require<T: Comparable & CustomStringConvertible>(_ option: String, _ value: T, atLeast minimum: T)
        throws
    {
        if let f = value as? any BinaryFloatingPoint, !(Double(f)).isFinite {
            throw DetectorError.invalidOption(option: option, value: "\(value)", requirement: "must be a finite number")
        }
        guard value >= minimum else {
            throw DetectorError.invalidOption(option: option, value: "\(value)", requirement: "must be at least \(minimum)")
        }
    }

    /// `value` must be strictly positive (and finite).
    public static func requirePositive(_ option: String, _ value: Double) throws {
        guard value.isFinite, value > 0 else {
            throw DetectorError.invalidOption(option: option, value: "\(value)", requirement: "must be a positive number")
        }
    }
}
