import Datasets
import Foundation
import Layers
import Tensors

/// Autoencoder reconstruction-error detector (the "CAE"/"AE" baseline of Deep SVDD's and
/// CANCE's tables). Images of MNIST or CIFAR shape train Deep SVDD's LeNet autoencoder
/// (METHODS.md §3.1); other inputs (tables, other sizes) a fully connected autoencoder.
/// Training minimises the mean squared reconstruction error with Adam; the anomaly score of a
/// sample is its mean squared reconstruction error (higher = more anomalous).
public struct AutoencoderDetector: AnomalyDetector, CheckpointableDetector {
    public struct Configuration: Codable, Sendable, Equatable {
        public var epochs: Int = 20
        public var batchSize: Int = 128
        public var learningRate: Double = 1e-3
        /// L2 weight decay (Deep SVDD uses 5e-7 for its autoencoder pre-training).
        public var weightDecay: Double = 5e-7
        /// Size of the code; nil = 32 for MNIST-shaped images, 128 for CIFAR, 16 otherwise.
        public var codeSize: Int?
        /// Hidden width of the fully connected autoencoder.
        public var hiddenWidth: Int = 64

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Configuration()
            epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
            batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
            learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
            weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? d.weightDecay
            codeSize = try c.decodeIfPresent(Int.self, forKey: .codeSize)
            hiddenWidth = try c.decodeIfPresent(Int.self, forKey: .hiddenWidth) ?? d.hiddenWidth
        }
    }

    public let configuration: Configuration
    private var model: (any Layer)?
    private var sampleShape: [Int] = []

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The network for samples of `shape` (without the batch axis).
    static func makeModel(sampleShape shape: [Int], configuration: Configuration, using g: inout SeededGenerator) -> any Layer {
        switch shape {
        case [1, 28, 28]:
            return LeNetAutoencoder.mnist(codeSize: configuration.codeSize ?? 32, using: &g)
        case [3, 32, 32]:
            return LeNetAutoencoder.cifar10(codeSize: configuration.codeSize ?? 128, using: &g)
        default:
            let d = shape.reduce(1, *), h = configuration.hiddenWidth, code = configuration.codeSize ?? 16
            return Sequential(
                Lambda.flatten, Linear(d, h, using: &g), Lambda.leakyRelu(), Linear(h, code, using: &g), Lambda.leakyRelu(),
                Linear(code, h, using: &g), Lambda.leakyRelu(), Linear(h, d, using: &g),
                Lambda { [shape] in $0.reshaped([$0.shape[0]] + shape) })
        }
    }

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        let name = "autoencoder"
        var samples = data.unlabeled
        if let normals = data.labeledNormal { samples = Samples.concatenating([samples, normals]) }
        guard samples.count > 0 else { throw DetectorError.emptyTrainingData(name) }
        if let bad = samples.values.firstIndex(where: { !$0.isFinite }) {
            throw DetectorError.nonFiniteInput(detector: name, index: bad / max(samples.featureCount, 1))
        }
        guard configuration.epochs > 0, configuration.batchSize > 0, configuration.learningRate > 0 else {
            throw DetectorError.invalidConfiguration("\(name): epochs, batchSize and learningRate must be positive")
        }
        var generator = SeededGenerator(seed: context.seed)
        let model = Self.makeModel(sampleShape: samples.sampleShape, configuration: configuration, using: &generator)
        let optimizer = Adam(
            parameters: model.parameters(), learningRate: Float(configuration.learningRate),
            weightDecay: Float(configuration.weightDecay))
        let loader = BatchLoader(
            samples, batchSize: min(configuration.batchSize, samples.count), shuffle: true,
            dropLast: samples.count > configuration.batchSize, seed: context.seed)
        model.train()
        for epoch in 0..<configuration.epochs {
            context.progress.begin("autoencoder epoch \(epoch + 1)/\(configuration.epochs)", total: loader.batchCount)
            var total = 0.0
            for (i, batch) in loader.epoch(epoch).enumerated() {
                optimizer.zeroGradients()
                let loss = mse(model(batch.inputs), batch.inputs)
                let value = loss.item()
                guard value.isFinite else {
                    throw DetectorError.invalidConfiguration(
                        "\(name): the training loss became \(value) in epoch \(epoch + 1); lower learningRate")
                }
                loss.backward()
                optimizer.step()
                total += Double(value)
                context.progress.update(completed: i + 1, metrics: ["loss": total / Double(i + 1)])
            }
            context.progress.end()
        }
        model.eval()
        self.model = model
        sampleShape = samples.sampleShape
    }

    public func score(_ samples: Samples, context: InferenceContext) throws -> [Float] {
        guard let model else { throw DetectorError.notFitted("autoencoder") }
        guard samples.sampleShape == sampleShape else {
            throw DetectorError.shapeMismatch(detector: "autoencoder", expected: sampleShape, got: samples.sampleShape)
        }
        var scores: [Float] = []
        scores.reserveCapacity(samples.count)
        let width = samples.featureCount
        let batchSize = max(1, context.batchSize)
        try withoutGradients {
            var start = 0
            while start < samples.count {
                let end = min(start + batchSize, samples.count)
                let x = Tensor(Array(samples.values[(start * width)..<(end * width)]), shape: [end - start] + sampleShape)
                let error = (model(x) - x).squared().reshaped([end - start, width]).mean(axis: 1).toArray()
                if let bad = error.firstIndex(where: { !$0.isFinite }) {
                    throw DetectorError.nonFiniteInput(detector: "autoencoder", index: start + bad)
                }
                scores += error
                start = end
            }
        }
        return scores
    }

    // MARK: Checkpoints

    public func saveCheckpoint(to url: URL) throws {
        guard let model else { throw DetectorError.notFitted("autoencoder") }
        try Checkpoint.save(model, to: url, metadata: ["detector": "autoencoder", "sampleShape": sampleShape.map(String.init).joined(separator: ",")])
    }

    public mutating func loadCheckpoint(from url: URL, sampleShape shape: [Int], seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        let model = Self.makeModel(sampleShape: shape, configuration: configuration, using: &generator)
        try Checkpoint.load(into: model, from: url)
        model.eval()
        self.model = model
        sampleShape = shape
    }
}

/// A detector whose fitted state is a network saved as a safetensors checkpoint.
public protocol CheckpointableDetector {
    func saveCheckpoint(to url: URL) throws
    /// Restores the fitted state for samples of `sampleShape` (the architecture is rebuilt from
    /// the configuration; `seed` only matters for layers with random state).
    mutating func loadCheckpoint(from url: URL, sampleShape: [Int], seed: UInt64) throws
}
