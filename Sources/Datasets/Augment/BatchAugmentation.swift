import Tensors

/// A random transformation of a whole NCHW image batch (values in [0, 1]).
///
/// Conforming types draw every sample's random parameters up front, in sample order, from the
/// generator they are given, and only then run the (parallel) kernel, so the output depends on
/// the generator's state alone — never on thread timing. Inputs are data: no autodiff.
public protocol BatchAugmentation: Sendable {
    func callAsFunction(_ batch: Tensor, using generator: inout SeededGenerator) -> Tensor
}

/// Stages applied one after another, each with the same generator (so each stage's draws
/// follow the previous stage's).
public struct AugmentationPipeline: BatchAugmentation {
    public var stages: [any BatchAugmentation]

    public init(_ stages: [any BatchAugmentation]) { self.stages = stages }

    public func callAsFunction(_ batch: Tensor, using generator: inout SeededGenerator) -> Tensor {
        var x = batch
        for stage in stages { x = stage(x, using: &generator) }
        return x
    }
}

/// A deterministic image operation applied to each image of a batch with probability
/// `probability` (one coin per image, drawn in order).
public protocol RandomlyAppliedAugmentation: BatchAugmentation {
    var probability: Float { get }
    /// The operation applied to the images whose flag is set; the others are copied.
    func apply(_ batch: Tensor, where flags: [Bool]) -> Tensor
}

extension RandomlyAppliedAugmentation {
    /// One flag per image, in order.
    public func sampleFlags(count: Int, using generator: inout SeededGenerator) -> [Bool] {
        (0..<count).map { _ in generator.bernoulli(probability) }
    }

    public func callAsFunction(_ batch: Tensor, using generator: inout SeededGenerator) -> Tensor {
        let count = BatchDimensions(batch, op: "\(Self.self)").count
        return apply(batch, where: sampleFlags(count: count, using: &generator))
    }
}

/// Height and width of an image.
public struct ImageSize: Sendable, Hashable, CustomStringConvertible {
    public var height: Int
    public var width: Int

    public init(height: Int, width: Int) {
        precondition(height > 0 && width > 0, "ImageSize: \(height)×\(width) must be positive")
        self.height = height
        self.width = width
    }

    public var description: String { "\(height)×\(width)" }
}

/// The dimensions of an NCHW batch, checked once per op.
struct BatchDimensions {
    let count: Int, channels: Int, height: Int, width: Int

    init(_ batch: Tensor, op: String) {
        precondition(batch.rank == 4, "\(op): expects an image batch [N, C, H, W], got shape \(batch.shape)")
        precondition(batch.device == .cpu, "\(op): augmentations run on CPU tensors, got \(batch.device)")
        count = batch.shape[0]
        channels = batch.shape[1]
        height = batch.shape[2]
        width = batch.shape[3]
    }

    var plane: Int { height * width }
    var sampleSize: Int { channels * height * width }
    var shape: [Int] { [count, channels, height, width] }
    var size: ImageSize { ImageSize(height: height, width: width) }

    func requireParameters(_ n: Int, _ op: String) {
        precondition(n == count, "\(op): \(n) per-sample parameters for a batch of \(count)")
    }
}

/// Runs `body(i)` for every sample index `i` in `0..<count`, in parallel chunks over the cores.
/// `costPerSample` (values touched per sample, roughly) decides whether threads pay off.
@inline(__always)
func forEachSample(_ count: Int, costPerSample: Int, _ body: (Int) -> Void) {
    CPUThreads.parallelRanges(count, costPerItem: max(1, costPerSample)) { start, end in
        for i in start..<end { body(i) }
    }
}

/// A fresh tensor holding a copy of `batch`'s values.
func copyOf(_ batch: Tensor) -> Tensor {
    let out = Tensor.zeros(batch.shape)
    out.pointer.update(from: batch.pointer, count: batch.count)
    return out
}

extension SeededGenerator {
    /// Uniform Float in [low, high] (exactly `low` when the range is a single point).
    mutating func uniform(_ range: ClosedRange<Float>) -> Float {
        range.lowerBound + (range.upperBound - range.lowerBound) * nextUniform()
    }

    /// Uniform Double in [low, high].
    mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * nextDouble()
    }

    /// `true` with probability `p` (a Bernoulli draw, like `torch.bernoulli(p)`).
    mutating func bernoulli(_ p: Float) -> Bool { nextUniform() < p }
}
