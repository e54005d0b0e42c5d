import Foundation
import Tensors

/// One mini-batch from a `BatchLoader`.
public struct Batch: Sendable {
    /// The (transformed) inputs, `[B] + sample shape`.
    public let inputs: Tensor
    /// The labels of the batch's samples, in batch order; empty when the loader has no labels.
    public let labels: [Int]
    /// Positions of the batch's samples in the loader's `Samples`, in batch order.
    public let indices: [Int]
    /// The epoch this batch belongs to.
    public let epoch: Int
    /// The batch's position within its epoch.
    public let index: Int

    public init(inputs: Tensor, labels: [Int], indices: [Int], epoch: Int, index: Int) {
        self.inputs = inputs
        self.labels = labels
        self.indices = indices
        self.epoch = epoch
        self.index = index
    }
}

/// Mini-batches over `Samples` (with optional integer labels): a seeded shuffle per epoch,
/// optional drop-last, an optional per-batch transform, and background prefetching.
///
/// Everything random is a function of `seed`: epoch `e`'s order is the permutation drawn from a
/// generator seeded by (seed, e), and batch `b` of epoch `e` is transformed with a generator
/// seeded by (seed, e, b). Batches are therefore identical whether they are built ahead on the
/// prefetch thread or on demand.
///
/// ```swift
/// let loader = BatchLoader(train, batchSize: 64, dropLast: true, seed: 7) { x, g in
///     augmentation(x, using: &g)
/// }
/// for epoch in 0..<epochs {
///     for batch in loader.epoch(epoch) { … batch.inputs … }
/// }
/// ```
public final class BatchLoader: Sendable {
    /// A per-batch transform (augmentation) with its own seeded generator.
    public typealias Transform = @Sendable (_ inputs: Tensor, _ generator: inout SeededGenerator) -> Tensor

    public let samples: Samples
    public let labels: [Int]?
    public let batchSize: Int
    public let shuffle: Bool
    public let dropLast: Bool
    public let seed: UInt64
    /// How many batches the background thread builds ahead (0: build on demand, no thread).
    public let prefetchCount: Int
    public let transform: Transform?

    public init(
        _ samples: Samples, labels: [Int]? = nil, batchSize: Int, shuffle: Bool = true, dropLast: Bool = false,
        seed: UInt64, prefetch: Int = 2, transform: Transform? = nil
    ) {
        precondition(batchSize > 0, "BatchLoader: batch size \(batchSize) must be positive")
        precondition(prefetch >= 0, "BatchLoader: prefetch \(prefetch) must be non-negative")
        if let labels {
            precondition(
                labels.count == samples.count,
                "BatchLoader: \(labels.count) labels for \(samples.count) samples of shape \(samples.shape)")
        }
        self.samples = samples
        self.labels = labels
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.seed = seed
        self.prefetchCount = prefetch
        self.transform = transform
    }

    /// A loader over labelled samples (their class labels become `Batch.labels`).
    public convenience init(
        _ labeled: LabeledSamples, batchSize: Int, shuffle: Bool = true, dropLast: Bool = false, seed: UInt64,
        prefetch: Int = 2, transform: Transform? = nil
    ) {
        self.init(
            labeled.samples, labels: labeled.labels, batchSize: batchSize, shuffle: shuffle, dropLast: dropLast,
            seed: seed, prefetch: prefetch, transform: transform)
    }

    /// Batches per epoch.
    public var batchCount: Int {
        dropLast ? samples.count / batchSize : (samples.count + batchSize - 1) / batchSize
    }

    /// The sample order of `epoch`: a permutation seeded by (seed, epoch), or 0..<N without shuffling.
    public func order(epoch: Int) -> [Int] {
        guard shuffle else { return Array(0..<samples.count) }
        var generator = SeededGenerator(seed: Self.mix(seed, Self.orderStream, UInt64(bitPattern: Int64(epoch))))
        return generator.permutation(samples.count)
    }

    /// The generator that transforms batch `index` of `epoch`.
    public func transformGenerator(epoch: Int, index: Int) -> SeededGenerator {
        SeededGenerator(
            seed: Self.mix(
                seed, Self.transformStream, UInt64(bitPattern: Int64(epoch)), UInt64(bitPattern: Int64(index))))
    }

    /// Batch `index` of `epoch`, built on the calling thread.
    public func batch(epoch: Int, index: Int) -> Batch {
        makeBatch(epoch: epoch, index: index, order: order(epoch: epoch))
    }

    /// The batches of `epoch`, in order, built ahead on a background thread.
    public func epoch(_ epoch: Int) -> Epoch { Epoch(loader: self, epoch: epoch) }

    /// One epoch's batches as a sequence; each iterator starts its own prefetch thread.
    public struct Epoch: Sequence, Sendable {
        public let loader: BatchLoader
        public let epoch: Int

        public var underestimatedCount: Int { loader.batchCount }

        public func makeIterator() -> Iterator { Iterator(loader: loader, epoch: epoch) }
    }

    /// Hands out an epoch's batches in order. With prefetching, a background thread keeps up to
    /// `prefetchCount` finished batches ready; dropping the iterator stops that thread.
    public struct Iterator: IteratorProtocol {
        private let loader: BatchLoader
        private let epoch: Int
        private let order: [Int]
        private var nextIndex = 0
        private let prefetcher: Prefetcher?

        init(loader: BatchLoader, epoch: Int) {
            self.loader = loader
            self.epoch = epoch
            self.order = loader.order(epoch: epoch)
            if loader.prefetchCount > 0 && loader.batchCount > 0 {
                prefetcher = Prefetcher(loader: loader, epoch: epoch, order: order)
            } else {
                prefetcher = nil
            }
        }

        public mutating func next() -> Batch? {
            guard nextIndex < loader.batchCount else { return nil }
            defer { nextIndex += 1 }
            if let prefetcher { return prefetcher.queue.take() }
            return loader.makeBatch(epoch: epoch, index: nextIndex, order: order)
        }
    }

    /// Gathers the rows of batch `index` and applies the transform.
    func makeBatch(epoch: Int, index: Int, order: [Int]) -> Batch {
        let start = index * batchSize
        let end = Swift.min(start + batchSize, order.count)
        precondition(start < end, "BatchLoader: batch \(index) is past the end of epoch \(epoch)")
        let indices = Array(order[start..<end])
        let width = samples.featureCount
        let inputs = Tensor.zeros([indices.count] + samples.sampleShape)
        if width > 0 {
            let dst = inputs.pointer
            samples.values.withUnsafeBufferPointer { src in
                guard let base = src.baseAddress else { return }
                for (row, sample) in indices.enumerated() {
                    (dst + row * width).update(from: base + sample * width, count: width)
                }
            }
        }
        var transformed = inputs
        if let transform {
            var generator = transformGenerator(epoch: epoch, index: index)
            transformed = transform(inputs, &generator)
        }
        let batchLabels = labels.map { all in indices.map { all[$0] } } ?? []
        return Batch(inputs: transformed, labels: batchLabels, indices: indices, epoch: epoch, index: index)
    }

    // Stream tags keep the shuffle and augmentation generators apart.
    static let orderStream: UInt64 = 0x6F72_6465_72
    static let transformStream: UInt64 = 0x7472_616E_73

    /// Hashes seed parts into one 64-bit seed (SplitMix64 finaliser, chained).
    static func mix(_ parts: UInt64...) -> UInt64 {
        func splitMix(_ value: UInt64) -> UInt64 {
            var z = value &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var h: UInt64 = 0x243F_6A88_85A3_08D3
        for part in parts { h = splitMix(h ^ splitMix(part)) }
        return h
    }
}

/// Owns the background producer of one epoch iterator; when the last copy of the iterator
/// goes away the producer is told to stop.
final class Prefetcher: Sendable {
    let queue: BoundedBatchQueue

    init(loader: BatchLoader, epoch: Int, order: [Int]) {
        let queue = BoundedBatchQueue(capacity: loader.prefetchCount)
        self.queue = queue
        let count = loader.batchCount
        // A thread of its own rather than a Dispatch worker: it blocks while the buffer is full,
        // and a blocked worker would take a slot from the kernels' `concurrentPerform`.
        let thread = Thread {
            for index in 0..<count {
                if queue.isCancelled { return }
                let batch = loader.makeBatch(epoch: epoch, index: index, order: order)
                if !queue.put(batch) { return }
            }
        }
        thread.name = "BatchLoader prefetch (epoch \(epoch))"
        thread.qualityOfService = .userInitiated
        thread.start()
    }

    deinit { queue.cancel() }
}

/// A FIFO of finished batches holding at most `capacity`; `put` blocks while full, `take` while
/// empty.
final class BoundedBatchQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Batch] = []
    private var head = 0
    private var cancelled = false
    let capacity: Int

    init(capacity: Int) { self.capacity = Swift.max(1, capacity) }

    var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }

    /// Appends `batch`, waiting for room; `false` when the consumer has gone.
    func put(_ batch: Batch) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count - head >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        items.append(batch)
        condition.broadcast()
        return true
    }

    /// The oldest batch, waiting until one is there.
    func take() -> Batch {
        condition.lock()
        defer { condition.unlock() }
        while items.count == head { condition.wait() }
        let batch = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
        condition.broadcast()
        return batch
    }

    func cancel() {
        condition.lock()
        cancelled = true
        items.removeAll()
        head = 0
        condition.broadcast()
        condition.unlock()
    }
}
