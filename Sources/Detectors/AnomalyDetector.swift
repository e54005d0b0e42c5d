import Datasets
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

    public init(
        seed: UInt64 = 0, device: Device = .cpu, progress: any ProgressReporter = SilentProgress(),
        logger: Logger = Logger(label: "anomalykit")
    ) {
        self.seed = seed
        self.device = device
        self.progress = progress
        self.logger = logger
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

    public var description: String {
        switch self {
        case .notFitted(let name): return "\(name): score() called before fit()"
        case .emptyTrainingData(let name): return "\(name): no training samples"
        case .shapeMismatch(let name, let expected, let got):
            return "\(name): samples have shape \(got) but the detector was fitted on sample shape \(expected)"
        case .nonFiniteInput(let name, let index): return "\(name): sample \(index) contains NaN or infinity"
        case .invalidConfiguration(let message): return "invalid configuration: \(message)"
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
