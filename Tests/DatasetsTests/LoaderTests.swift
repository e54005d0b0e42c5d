import Datasets
import Foundation
import Tensors
import Testing

/// A thread-safe counter for transforms running on the prefetch thread.
final class CallCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() { lock.withLock { value += 1 } }
    var count: Int { lock.withLock { value } }
}

@Suite struct LoaderTests {
    /// 103 samples of shape [2, 3]; sample i holds the values 6i ..< 6i + 6.
    static let samples = Samples(values: (0..<(103 * 6)).map { Float($0) }, shape: [103, 2, 3])
    static let labels = (0..<103).map { ($0 * 7) % 13 }

    @Test func everyIndexOncePerEpoch() {
        let loader = BatchLoader(Self.samples, labels: Self.labels, batchSize: 10, seed: 1)
        #expect(loader.batchCount == 11)
        var seen = [Int]()
        var sizes = [Int]()
        for (position, batch) in loader.epoch(0).enumerated() {
            #expect(batch.index == position && batch.epoch == 0)
            sizes.append(batch.indices.count)
            #expect(batch.inputs.shape == [batch.indices.count, 2, 3])
            #expect(batch.labels == batch.indices.map { Self.labels[$0] })
            for (row, index) in batch.indices.enumerated() {
                #expect(Array(image(batch.inputs, row).toArray()) == Array(Self.samples.row(index)))
            }
            seen += batch.indices
        }
        #expect(sizes == Array(repeating: 10, count: 10) + [3])
        #expect(seen.sorted() == Array(0..<103))
        #expect(seen != Array(0..<103), "shuffled")
    }

    @Test func dropLastSizes() {
        let loader = BatchLoader(Self.samples, batchSize: 10, dropLast: true, seed: 2)
        #expect(loader.batchCount == 10)
        let batches = Array(loader.epoch(3))
        #expect(batches.count == 10)
        #expect(batches.allSatisfy { $0.indices.count == 10 && $0.labels.isEmpty })
        #expect(Set(batches.flatMap(\.indices)).count == 100)
        let exact = BatchLoader(
            Samples(values: Array(repeating: 0, count: 40), shape: [20, 2]), batchSize: 5, dropLast: true, seed: 2)
        #expect(Array(exact.epoch(0)).count == 4)
        let small = BatchLoader(
            Samples(values: Array(repeating: 0, count: 8), shape: [4, 2]), batchSize: 5, dropLast: true, seed: 2)
        #expect(Array(small.epoch(0)).isEmpty)
    }

    @Test func ordersDependOnSeedAndEpoch() {
        let loader = BatchLoader(Self.samples, batchSize: 16, seed: 3)
        #expect(loader.order(epoch: 0) == loader.order(epoch: 0))
        #expect(loader.order(epoch: 0) != loader.order(epoch: 1))
        #expect(loader.order(epoch: 1) != loader.order(epoch: 2))
        #expect(BatchLoader(Self.samples, batchSize: 16, seed: 4).order(epoch: 0) != loader.order(epoch: 0))
        let first = Array(loader.epoch(5)).flatMap(\.indices)
        let second = Array(loader.epoch(6)).flatMap(\.indices)
        #expect(first == loader.order(epoch: 5) && second == loader.order(epoch: 6) && first != second)
        let ordered = BatchLoader(Self.samples, batchSize: 16, shuffle: false, seed: 3)
        #expect(Array(ordered.epoch(2)).flatMap(\.indices) == Array(0..<103))
    }

    /// A transform that uses its generator: outputs depend on (seed, epoch, batch) only.
    static let noisy: BatchLoader.Transform = { x, generator in
        let noise = Tensor.uniform(x.shape, using: &generator)
        let out = Tensor.zeros(x.shape)
        for i in 0..<x.count { out.pointer[i] = x.pointer[i] + noise.pointer[i] }
        return out
    }

    @Test func deterministicAcrossRunsWithPrefetch() {
        func run(prefetch: Int, seed: UInt64 = 5) -> [[Float]] {
            let loader = BatchLoader(Self.samples, batchSize: 8, seed: seed, prefetch: prefetch, transform: Self.noisy)
            return (0..<3).flatMap { epoch in loader.epoch(epoch).map { $0.inputs.toArray() } }
        }
        let reference = run(prefetch: 0)
        #expect(run(prefetch: 1) == reference)
        #expect(run(prefetch: 4) == reference)
        #expect(run(prefetch: 4) == reference)
        #expect(run(prefetch: 2, seed: 6) != reference)
        // Batches rebuilt on their own match the streamed ones.
        let loader = BatchLoader(Self.samples, batchSize: 8, seed: 5, prefetch: 3, transform: Self.noisy)
        #expect(loader.batch(epoch: 1, index: 4).inputs.toArray() == reference[13 + 4])
    }

    @Test func augmentationAsTransform() {
        let images = Samples(values: randomImages([20, 3, 8, 8], seed: 50).toArray(), shape: [20, 3, 8, 8])
        let simclr = SimCLRAugmentation.evaluation
        let loader = BatchLoader(images, batchSize: 6, seed: 8) { x, g in simclr(x, using: &g) }
        let batches = Array(loader.epoch(0))
        #expect(batches.map { $0.inputs.shape[0] } == [6, 6, 6, 2])
        #expect(batches.allSatisfy { allInUnitInterval($0.inputs) })
        var generator = loader.transformGenerator(epoch: 0, index: 2)
        let raw = Tensor(Array(images.selecting(batches[2].indices).values), shape: [6, 3, 8, 8])
        #expect(batches[2].inputs.toArray() == simclr(raw, using: &generator).toArray())
    }

    /// A 20 ms transform and a consumer that works 20 ms per batch: with prefetch the two
    /// overlap (≈ 220 ms for 10 batches); without, they add up (≥ 400 ms).
    @Test func prefetchOverlapsTransformAndConsumer() {
        let samples = Samples(values: Array(repeating: 1, count: 10 * 4), shape: [10, 4])
        let slow: BatchLoader.Transform = { x, _ in
            Thread.sleep(forTimeInterval: 0.02)
            return x
        }
        func elapsed(prefetch: Int) -> Double {
            let loader = BatchLoader(samples, batchSize: 1, seed: 1, prefetch: prefetch, transform: slow)
            let start = Date()
            var count = 0
            for _ in loader.epoch(0) {
                Thread.sleep(forTimeInterval: 0.02)
                count += 1
            }
            #expect(count == 10)
            return Date().timeIntervalSince(start)
        }
        let overlapped = elapsed(prefetch: 2)
        #expect(overlapped < 0.33, "10 batches took \(overlapped) s with prefetch")
        let serial = elapsed(prefetch: 0)
        #expect(serial >= 0.4, "10 batches took \(serial) s without prefetch")
    }

    @Test func abandonedEpochStopsItsProducer() {
        let counter = CallCounter()
        let loader = BatchLoader(Self.samples, batchSize: 4, seed: 1, prefetch: 2) { x, _ in
            counter.increment()
            return x
        }
        do {
            var iterator = loader.epoch(0).makeIterator()
            _ = iterator.next()
            _ = iterator.next()
        }
        Thread.sleep(forTimeInterval: 0.1)
        // Two taken, at most two buffered and one in flight.
        #expect(counter.count <= 5)
        #expect(loader.batchCount == 26)
        // The loader is still usable.
        #expect(Array(loader.epoch(1)).count == 26)
    }

    @Test func labeledSamplesLoader() {
        let labeled = LabeledSamples(samples: Self.samples, labels: Self.labels)
        let loader = BatchLoader(labeled, batchSize: 50, shuffle: false, seed: 0, prefetch: 1)
        let batches = Array(loader.epoch(0))
        #expect(batches.flatMap(\.labels) == Self.labels)
    }
}
