import Datasets
import Foundation
import Layers
import Tensors

/// The fitted state of a deep detector: every network and buffer it needs to score (a centre,
/// a radius, input statistics, …) as one `Module`, exactly what the run folder stores.
open class DetectorState: Module {
    /// Shape of one sample the state was built for (recorded in the checkpoint's metadata).
    public let sampleShape: [Int]

    public init(sampleShape: [Int]) {
        self.sampleShape = sampleShape
    }
}

/// A detector whose fitted state is a `DetectorState`. Saving, loading and batched scoring come
/// from this protocol; a method file provides the architecture (`makeState`), `fit` and the
/// per-batch score.
public protocol DeepDetector: AnomalyDetector, PersistentDetector where Configuration: ValidatingConfiguration {
    associatedtype State: DetectorState
    /// The method's name in messages and checkpoint metadata.
    static var methodName: String { get }
    var configuration: Configuration { get }
    var state: State? { get set }
    /// An untrained state for samples of `sampleShape` (the architecture only).
    static func makeState(sampleShape: [Int], configuration: Configuration, using generator: inout SeededGenerator)
        throws -> State
    /// An untrained state sized like a stored one: detectors whose buffers grow with the
    /// training data (a feature bank) read their sizes from `storedShapes` (the checkpoint's
    /// tensor names and shapes). The default ignores them.
    static func makeState(
        sampleShape: [Int], configuration: Configuration, storedShapes: [String: [Int]],
        using generator: inout SeededGenerator
    ) throws -> State
    /// Anomaly scores of one batch `[B] + sampleShape`, as a `[B]` tensor (no gradients recorded).
    static func scoreBatch(_ inputs: Tensor, state: State, configuration: Configuration) -> Tensor
}

extension DeepDetector {
    public static func makeState(
        sampleShape: [Int], configuration: Configuration, storedShapes: [String: [Int]],
        using generator: inout SeededGenerator
    ) throws -> State {
        try makeState(sampleShape: sampleShape, configuration: configuration, using: &generator)
    }

    public func score(_ samples: Samples, context: InferenceContext) throws -> [Float] {
        guard let state else { throw DetectorError.notFitted(Self.methodName) }
        state.eval()
        return try BatchScorer.score(samples, sampleShape: state.sampleShape, detector: Self.methodName, context: context) {
            Self.scoreBatch($0, state: state, configuration: configuration)
        }
    }

    public func saveFittedState(to url: URL) throws {
        guard let state else { throw DetectorError.notFitted(Self.methodName) }
        try Checkpoint.save(
            state, to: url,
            metadata: FittedStateMetadata.make(detector: Self.methodName, sampleShape: state.sampleShape, configuration: configuration))
    }

    public mutating func loadFittedState(from url: URL) throws {
        state = try Self.loadState(from: Checkpoint.read(from: url), url: url, configuration: configuration)
    }

    /// The state stored in `contents` (read from `url`), built for `configuration`.
    public static func loadState(from contents: Checkpoint.Contents, url: URL, configuration: Configuration) throws -> State {
        let shape = try FittedStateMetadata.sampleShape(contents.metadata, detector: Self.methodName, url: url)
        var generator = SeededGenerator(seed: 0)
        let restored = try Self.makeState(
            sampleShape: shape, configuration: configuration, storedShapes: contents.tensors.mapValues(\.shape),
            using: &generator)
        try Checkpoint.assign(contents.tensors, names: contents.names, to: restored.namedTensors(), path: url.path)
        restored.eval()
        return restored
    }

    /// Scores test samples with `state` as it is now: the training loop's evaluation callback
    /// (the report's AUROC curve).
    public static func scorer(_ state: State, _ configuration: Configuration, _ context: TrainingContext)
        -> (Samples) throws -> [Float]
    {
        { samples in
            try BatchScorer.score(
                samples, sampleShape: state.sampleShape, detector: methodName,
                context: InferenceContext(device: context.device)
            ) { scoreBatch($0, state: state, configuration: configuration) }
        }
    }

    /// The checks every deep `fit` starts with: the configuration's ranges, then the training
    /// samples (unlabelled plus labelled normals), which are returned.
    public func validatedTrainingSamples(_ data: TrainingData) throws -> Samples {
        try configuration.validate()
        return try DetectorInput.trainingSamples(data, detector: Self.methodName)
    }
}

extension DeepDetector {
    /// The fitted state of another run of this method, named by an option (`option=path`, a
    /// model file or a run folder), read with the configuration recorded in it (over `defaults`
    /// for keys it lacks): for reusing its
    /// trained networks (CANCE's ablations on one autoencoder, NSA's scores on one encoder).
    /// Errors name the option and what is wrong with the file.
    public static func referencedState(option: String, path: String, sampleShape: [Int], defaults: Configuration) throws
        -> State
    {
        try referenced(option: option, path: path, sampleShape: sampleShape, defaults: defaults).state
    }

    /// `referencedState` with the configuration the referenced run was fitted with (for building
    /// a network of the same architecture, as Elsa does from a CSI run).
    public static func referenced(option: String, path: String, sampleShape: [Int], defaults: Configuration) throws
        -> (state: State, configuration: Configuration)
    {
        var url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            url = url.appendingPathComponent("model.safetensors")
        }
        func refuse(_ reason: String) -> DetectorError { .invalidConfiguration("\(option)=\(path): \(reason)") }
        guard FileManager.default.fileExists(atPath: url.path) else { throw refuse("no such model file") }
        let metadata = try Checkpoint.read(from: url).metadata
        guard metadata["detector"] == methodName, let json = metadata["configuration"]?.data(using: .utf8),
            let configuration = try? ConfigurationDecoding.decode(Configuration.self, from: json, defaults: defaults)
        else { throw refuse("not a fitted \(methodName) model") }
        var source = Self(configuration)
        try source.loadFittedState(from: url)
        guard let fitted = source.state, fitted.sampleShape == sampleShape else {
            throw refuse("its model was fitted on another sample shape")
        }
        return (fitted, configuration)
    }
}

/// A deep detector whose state holds a bank sized by the training data (a feature bank): its
/// untrained state is built for `bankCount` rows, and a stored state is rebuilt at the size of
/// the stored tensor `bankShapeKey.name` along axis `bankShapeKey.axis`.
public protocol BankSizedDetector: DeepDetector {
    /// The stored tensor and axis that give the bank's size, and the size before fitting.
    static var bankShapeKey: (name: String, axis: Int, untrained: Int) { get }
    static func makeState(
        sampleShape: [Int], configuration: Configuration, bankCount: Int, using generator: inout SeededGenerator
    ) throws -> State
}

extension BankSizedDetector {
    public static func makeState(sampleShape: [Int], configuration: Configuration, using g: inout SeededGenerator)
        throws -> State
    {
        try makeState(sampleShape: sampleShape, configuration: configuration, bankCount: bankShapeKey.untrained, using: &g)
    }

    public static func makeState(
        sampleShape: [Int], configuration: Configuration, storedShapes: [String: [Int]], using g: inout SeededGenerator
    ) throws -> State {
        let key = bankShapeKey
        let count = storedShapes[key.name].flatMap { key.axis < $0.count ? $0[key.axis] : nil } ?? key.untrained
        return try makeState(sampleShape: sampleShape, configuration: configuration, bankCount: count, using: &g)
    }
}

/// Batched scoring without gradients: checks the samples against the fitted shape, feeds
/// `[batch] + sampleShape` tensors on the context's device to `body`, and checks every score.
public enum BatchScorer {
    public static func score(
        _ samples: Samples, sampleShape: [Int], detector: String, context: InferenceContext,
        _ body: (Tensor) throws -> Tensor
    ) throws -> [Float] {
        try DetectorInput.checkQuery(samples, fittedShape: sampleShape, detector: detector)
        var scores: [Float] = []
        scores.reserveCapacity(samples.count)
        try forEachBatch(samples, sampleShape: sampleShape, batchSize: context.batchSize, device: context.device) {
            start, inputs in
            let batchScores = try body(inputs).toArray()
            precondition(batchScores.count == inputs.shape[0], "\(detector): one score per sample expected")
            if let bad = batchScores.firstIndex(where: { !$0.isFinite }) {
                throw DetectorError.nonFiniteInput(detector: detector, index: start + bad)
            }
            scores += batchScores
        }
        return scores
    }

    /// Calls `body` with each batch `[≤ batchSize] + sampleShape` of `samples` on `device` (and the
    /// index of its first sample), without recording gradients: statistics over a training set
    /// (a centre, mixture moments, input scaling) use it as scoring does.
    public static func forEachBatch(
        _ samples: Samples, sampleShape: [Int], batchSize: Int, device: Device,
        _ body: (_ start: Int, _ inputs: Tensor) throws -> Void
    ) rethrows {
        let width = samples.featureCount
        let size = max(1, batchSize)
        try withoutGradients {
            var start = 0
            while start < samples.count {
                let end = min(start + size, samples.count)
                let inputs = Tensor(Array(samples.values[(start * width)..<(end * width)]), shape: [end - start] + sampleShape)
                try body(start, inputs.to(device))
                start = end
            }
        }
    }
}
