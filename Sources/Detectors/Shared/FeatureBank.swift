import Datasets
import Foundation
import Layers
import Tensors

/// Nearest-neighbour similarity against a bank of training features, batched and memory-bounded:
/// the bank is read in chunks of `chunkRows`, so a query batch of N rows never holds more than an
/// N × chunkRows similarity matrix (10,000 test images against 6,000 features stay within a few
/// MiB per scoring batch).
public enum FeatureBank {
    /// `max_m ⟨q_n, bank_m⟩` for every row of `queries` [N, d] against `bank` [M, d]. With
    /// `selfOffset` s, query n is bank row s + n and is left out (leave-one-out training scores).
    public static func maxSimilarity(_ queries: Tensor, bank: Tensor, selfOffset: Int? = nil, chunkRows: Int = 4096)
        -> Tensor
    {
        precondition(queries.rank == 2 && bank.rank == 2 && queries.shape[1] == bank.shape[1], "FeatureBank: need [N, d] queries and an [M, d] bank, got \(queries.shape), \(bank.shape)")
        let n = queries.shape[0], m = bank.shape[0]
        precondition(m > (selfOffset == nil ? 0 : 1), "FeatureBank: the bank needs more rows than the one left out")
        var best: Tensor? = nil
        var start = 0
        while start < m {
            let end = min(start + chunkRows, m)
            var similarities = matmul(queries, bank.slice(start..<end), transposeB: true)
            if let s = selfOffset, s < end, s + n > start {
                // −∞ would survive only as long as another entry exists; −1e30 is below any product.
                var mask = [Float](repeating: 0, count: n * (end - start))
                for row in 0..<n where (start..<end).contains(s + row) { mask[row * (end - start) + s + row - start] = -1e30 }
                similarities = similarities + Tensor(mask, shape: [n, end - start]).to(queries.device)
            }
            let chunkBest = similarities.max(axis: 1)
            best = best.map { $0.maximum(chunkBest) } ?? chunkBest
            start = end
        }
        return best!
    }
}

/// CSI's score (METHODS.md §1.4, the code's feature-level ensemble): for every shift k, test
/// projections averaged over T augmented views z̄_k(x), the unit training axes a_{m,k}, and
///
///     s(x) = (1/K) Σ_k [ w^sim_k · max_m ⟨z̄_k(x), a_{m,k}⟩ + w^cls_k · ℓ̄_k(x) ],
///     w^sim_k = 1 / mean_m ‖z̄_k(x_m)‖,   w^cls_k = 1 / mean_m ℓ̄_k(x_m),
///
/// a normality score. With one shift and no shift head (SimCLR's "simclr" score) it is
/// max_m ⟨z̄(x), a_m⟩ (w^sim = 1, w^cls = 0).
public final class ShiftedFeatureBank: Module {
    /// [K, M, d] unit training projections.
    public let axes: Tensor
    /// [K] w^sim_k.
    public let similarityWeights: Tensor
    /// [K] w^cls_k (zeros without a shift head).
    public let shiftWeights: Tensor

    public init(shiftCount: Int, count: Int, dimension: Int) {
        axes = Tensor.zeros([shiftCount, count, dimension])
        similarityWeights = Tensor.ones([shiftCount])
        shiftWeights = Tensor.zeros([shiftCount])
    }

    public var shiftCount: Int { axes.shape[0] }

    /// The views' averaged projections z̄_k [N, d] and correct-shift logits ℓ̄_k [N] (empty
    /// without a shift head) of a batch, for k < `shiftCount`. View t of every batch draws its
    /// augmentation from a generator seeded with t (CSI's `set_random_seed(t)`), so scores do
    /// not depend on earlier batches.
    public static func averagedViews(
        _ inputs: Tensor, network: ContrastiveNetwork, shiftCount: Int, viewCount: Int, flips: Bool
    ) -> (projections: [Tensor], logits: [Tensor]) {
        var projectionSums = [Tensor?](repeating: nil, count: shiftCount)
        var logitSums = [Tensor?](repeating: nil, count: shiftCount)
        forEachTestView(inputs, network: network, shiftCount: shiftCount, viewCount: viewCount, flips: flips) {
            k, _, h, z in
            projectionSums[k] = projectionSums[k].map { $0 + z } ?? z
            if network.shiftHead != nil {
                let correct = network.shiftLogits(h).slice(axis: 1, k..<(k + 1)).reshaped([inputs.shape[0]])
                logitSums[k] = logitSums[k].map { $0 + correct } ?? correct
            }
        }
        let scale = 1 / Float(viewCount)
        return (projectionSums.map { $0! * scale }, logitSums.compactMap { $0.map { $0 * scale } })
    }

    /// Calls `body(k, t, h, z)` with the features h and projections z of test view t of shift k
    /// of a batch: `simclr_aug(R_k(hflip(x)))` (crop area 0.54; no flip unless `flips`), view t
    /// drawing from a generator seeded with (t, k) so scores do not depend on earlier batches.
    public static func forEachTestView(
        _ inputs: Tensor, network: ContrastiveNetwork, shiftCount: Int, viewCount: Int, flips: Bool,
        _ body: (_ shift: Int, _ view: Int, _ features: Tensor, _ projections: Tensor) -> Void
    ) {
        let augmentation = CSIAugmentation(
            simclr: .evaluation, viewCount: 1, rotationCount: shiftCount,
            flip: RandomHorizontalFlip(probability: flips ? 0.5 : 0))
        let images = inputs.to(.cpu)  // the augmentation kernels run on the host
        for k in 0..<shiftCount {
            for t in 0..<viewCount {
                var generator = SeededGenerator(seed: UInt64(t) &* 4 &+ UInt64(k))
                let view = augmentation.testView(images, rotation: k, using: &generator).to(inputs.device)
                let h = network.encode(view)
                body(k, t, h, network.projector(h))
            }
        }
    }

    /// Sets the axes and weights from the training samples' averaged views (evaluation mode).
    public func fit(
        _ samples: Samples, network: ContrastiveNetwork, viewCount: Int, flips: Bool, context: TrainingContext
    ) {
        let views = Self.averagedViews(
            of: samples, network: network, shiftCount: shiftCount, viewCount: viewCount, flips: flips, context: context)
        fit(projections: views.projections, logits: views.logits)
    }

    /// `averagedViews` of every sample (evaluation mode, batches of 256): z̄_k [M, d] and ℓ̄_k [M]
    /// (empty without a shift head), one entry per shift.
    public static func averagedViews(
        of samples: Samples, network: ContrastiveNetwork, shiftCount k: Int, viewCount: Int, flips: Bool,
        context: TrainingContext
    ) -> (projections: [Tensor], logits: [Tensor]) {
        var projections = [[Tensor]](repeating: [], count: k), logits = [[Tensor]](repeating: [], count: k)
        network.eval()
        context.progress.begin("feature bank", total: (samples.count + 255) / 256)
        var done = 0
        BatchScorer.forEachBatch(samples, sampleShape: samples.sampleShape, batchSize: 256, device: context.device) { _, x in
            let views = Self.averagedViews(x, network: network, shiftCount: k, viewCount: viewCount, flips: flips)
            for s in 0..<k {
                projections[s].append(views.projections[s])
                if !views.logits.isEmpty { logits[s].append(views.logits[s]) }
            }
            done += 1
            context.progress.update(completed: done, metrics: [:])
        }
        context.progress.end()
        return (projections.map { Tensor.concat($0) }, logits.compactMap { $0.isEmpty ? nil : Tensor.concat($0) })
    }

    /// CSI's weights from the training images' averaged views: w^sim_k = 1 / mean_m ‖z̄_k(x_m)‖,
    /// w^cls_k = 1 / mean_m ℓ̄_k(x_m) (zeros when `logits` is empty).
    public static func weights(projections: [Tensor], logits: [Tensor]) -> (similarity: [Float], shift: [Float]) {
        withoutGradients {
            let similarity = projections.map { 1 / $0.squared().sum(axis: 1).sqrt().mean().item() }
            let shift = logits.isEmpty ? [Float](repeating: 0, count: projections.count) : logits.map { 1 / $0.mean().item() }
            return (similarity, shift)
        }
    }

    /// Sets the axes and weights from the training images' averaged projections z̄_k [M, d] and
    /// correct-shift logits ℓ̄_k [M] (empty without a shift head), one entry per shift.
    public func fit(projections: [Tensor], logits: [Tensor]) {
        precondition(projections.count == shiftCount && (logits.isEmpty || logits.count == shiftCount), "ShiftedFeatureBank: one entry per shift")
        let weights = Self.weights(projections: projections, logits: logits)
        withoutGradients {
            axes.assign(Tensor.stack(projections.map { l2Normalize($0, axis: 1) }))
            similarityWeights.assign(Tensor(weights.similarity))
            shiftWeights.assign(Tensor(weights.shift))
        }
    }

    /// s_CSI from the averaged projections z̄_k [N, d] and logits ℓ̄_k [N] of N images.
    public func normality(projections: [Tensor], logits: [Tensor]) -> Tensor {
        let simWeights = similarityWeights.toArray(), clsWeights = shiftWeights.toArray()
        var total: Tensor? = nil
        for s in 0..<shiftCount {
            let bank = axes.slice(s..<(s + 1)).reshaped([axes.shape[1], axes.shape[2]])
            var term = FeatureBank.maxSimilarity(projections[s], bank: bank) * simWeights[s]
            if !logits.isEmpty { term = term + logits[s] * clsWeights[s] }
            total = total.map { $0 + term } ?? term
        }
        return total! * (1 / Float(shiftCount))
    }

    /// Eq. 11 of the synthetic-inlier method (METHODS.md §2.3), a normality score:
    /// M(x) = max_m Σ_k ⟨z̄_k(x), a_{m,k}⟩ for averaged projections z̄_k [N, d] (one per shift) and
    /// unit training axes [K, M, d] — one nearest training image shared by all shifts, no weights,
    /// no shift logits. The bank is read in chunks of `chunkRows` (an N × chunkRows matrix at a time).
    public static func sharedNeighbourNormality(projections: [Tensor], axes: Tensor, chunkRows: Int = 4096) -> Tensor {
        precondition(projections.count == axes.shape[0], "sharedNeighbourNormality: one projection per shift")
        let (m, d) = (axes.shape[1], axes.shape[2])
        var best: Tensor? = nil
        var start = 0
        while start < m {
            let end = min(start + chunkRows, m)
            var total: Tensor? = nil
            for (k, z) in projections.enumerated() {
                let chunk = axes.slice(k..<(k + 1)).reshaped([m, d]).slice(start..<end)
                let s = matmul(z, chunk, transposeB: true)
                total = total.map { $0 + s } ?? s
            }
            let chunkBest = total!.max(axis: 1)
            best = best.map { $0.maximum(chunkBest) } ?? chunkBest
            start = end
        }
        return best!
    }
}
