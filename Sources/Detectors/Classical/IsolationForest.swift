import Datasets
import Foundation
import Tensors

/// Isolation Forest (Liu, Ting & Zhou 2008; METHODS §3.6), as scikit-learn's `IsolationForest`.
///
/// Each tree is grown on `maxSamples` training samples drawn without replacement: at every node a
/// random feature that is not constant in the node is chosen and split at a threshold drawn
/// uniformly between its minimum and maximum there; a node becomes a leaf when it holds one
/// sample, when all its features are constant, or at depth `ceil(log2(ψ))`. The path length of `x`
/// in a tree is the depth of its leaf plus `c(size of that leaf)`, and the score is
///
///     s(x) = 2^(−E[h(x)] / c(ψ)),   c(n) = 2H(n−1) − 2(n−1)/n,   H(i) ≈ ln i + 0.5772156649,
///
/// in (0, 1], higher = more anomalous. scikit-learn's `decision_function` is `0.5 − s(x)`, so the
/// ordering equals `−decision_function`.
///
/// Trees are grown concurrently; tree `t` draws from its own generator, seeded by the `t`-th draw of
/// `SeededGenerator(seed: context.seed)`, so scores do not depend on thread scheduling.
public struct IsolationForest: AnomalyDetector, Sendable {
    public struct Configuration: Codable, Sendable, Equatable {
        /// Number of trees (scikit-learn `n_estimators`).
        public var treeCount: Int
        /// Samples per tree, ψ; at most the training-set size (scikit-learn `max_samples="auto"`).
        public var maxSamples: Int
        /// Depth limit; `nil` means `ceil(log2(ψ))` as in the paper and scikit-learn.
        public var maxDepth: Int?

        public init(treeCount: Int = 100, maxSamples: Int = 256, maxDepth: Int? = nil) {
            self.treeCount = treeCount
            self.maxSamples = maxSamples
            self.maxDepth = maxDepth
        }
    }

    /// All trees in flat arrays. Node `k` is internal when `feature[k] >= 0`: samples with
    /// `x[feature] <= threshold` go to `left[k]`, the others to `left[k] + 1`. For a leaf,
    /// `threshold[k]` holds its path length `depth + c(leaf size)`.
    struct Forest: Sendable {
        var feature: [Int32] = []
        var threshold: [Float] = []
        var left: [Int32] = []
        var roots: [Int] = []
    }

    public var configuration: Configuration
    private var forest = Forest()
    private var sampleShape: [Int]?
    /// ψ actually used (the configured `maxSamples` capped by the training-set size).
    public private(set) var samplesPerTree = 0

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    static let name = "IsolationForest"

    public mutating func fit(_ data: TrainingData, context: TrainingContext) throws {
        guard configuration.treeCount > 0, configuration.maxSamples > 0 else {
            throw DetectorError.invalidConfiguration(
                "\(Self.name): treeCount (\(configuration.treeCount)) and maxSamples (\(configuration.maxSamples)) must be positive"
            )
        }
        let training = try DetectorInput.trainingSamples(data, detector: Self.name)
        let rows = training.count
        let width = training.featureCount
        let psi = min(configuration.maxSamples, rows)
        let depthLimit = configuration.maxDepth ?? Int(ceil(log2(Double(max(psi, 2)))))
        var seeder = SeededGenerator(seed: context.seed)
        let treeSeeds = (0..<configuration.treeCount).map { _ in seeder.next() }

        context.progress.begin("IsolationForest: trees", total: treeSeeds.count)
        var trees = [Forest](repeating: Forest(), count: treeSeeds.count)
        let finished = ProgressCounter(context.progress)
        trees.withUnsafeMutableBufferPointer { trees in
            guard let output = trees.baseAddress else { return }
            training.values.withUnsafeBufferPointer { x in
                guard let x = x.baseAddress else { return }
                CPUThreads.parallelRanges(treeSeeds.count, costPerItem: psi * (depthLimit + rows / psi)) {
                    first, last in
                    for tree in first..<last {
                        var generator = SeededGenerator(seed: treeSeeds[tree])
                        output[tree] = Self.growTree(
                            x, rows: rows, width: width, samples: psi, depthLimit: depthLimit, generator: &generator)
                        finished.advance()
                    }
                }
            }
        }
        context.progress.end()

        var forest = Forest()
        for tree in trees {
            let offset = Int32(forest.feature.count)
            forest.roots.append(forest.feature.count)
            forest.feature += tree.feature
            forest.threshold += tree.threshold
            forest.left += tree.left.map { $0 + offset }
        }
        self.forest = forest
        self.samplesPerTree = psi
        self.sampleShape = training.sampleShape
    }

    public func score(_ samples: Samples, context: InferenceContext) throws -> [Float] {
        try DetectorInput.checkQuery(samples, fittedShape: sampleShape, detector: Self.name)
        let width = samples.featureCount
        // c(ψ) is 0 for ψ = 1 (a single training sample): every path is then 0 and every score 1.
        let normaliser = Double(forest.roots.count) * max(Self.averagePathLength(samplesPerTree), 1)
        return forest.feature.withUnsafeBufferPointer { feature in
            forest.threshold.withUnsafeBufferPointer { threshold in
                forest.left.withUnsafeBufferPointer { left in
                    samples.values.withUnsafeBufferPointer { x in
                        parallelFill(count: samples.count, repeating: Float(0), costPerItem: forest.roots.count * 8) {
                            range, out in
                            for sample in range {
                                let row = x.baseAddress! + sample * width
                                var total = 0.0
                                for root in forest.roots {
                                    var node = root
                                    while feature[node] >= 0 {
                                        node = Int(left[node]) + (row[Int(feature[node])] <= threshold[node] ? 0 : 1)
                                    }
                                    total += Double(threshold[node])
                                }
                                out[sample] = Float(pow(2, -total / normaliser))
                            }
                        }
                    }
                }
            }
        }
    }

    /// `c(n)`: the average path length of an unsuccessful search in a binary search tree of `n`
    /// keys, `2H(n−1) − 2(n−1)/n` for `n > 2`, 1 for `n = 2`, 0 for `n ≤ 1` (as scikit-learn).
    public static func averagePathLength(_ n: Int) -> Double {
        if n <= 1 { return 0 }
        if n == 2 { return 1 }
        let m = Double(n)
        return 2 * (log(m - 1) + eulerGamma) - 2 * (m - 1) / m
    }

    /// Grows one isolation tree on a subsample of `samples` rows; children of a node are stored
    /// next to each other so that a node needs only its left child's index.
    static func growTree(
        _ x: UnsafePointer<Float>, rows: Int, width: Int, samples: Int, depthLimit: Int,
        generator: inout SeededGenerator
    ) -> Forest {
        // Subsample without replacement: a partial Fisher–Yates shuffle of the row indices.
        var indices = Array(0..<rows)
        for position in 0..<samples {
            indices.swapAt(position, position + generator.nextInt(below: rows - position))
        }
        var tree = Forest()
        tree.feature.reserveCapacity(2 * samples)
        var features = Array(0..<width)
        // Pending nodes: (node index, range of `indices`, depth).
        var pending: [(node: Int, start: Int, end: Int, depth: Int)] = [(0, 0, samples, 0)]
        tree.feature.append(-1)
        tree.threshold.append(0)
        tree.left.append(-1)

        indices.withUnsafeMutableBufferPointer { indices in
            while let (node, start, end, depth) = pending.popLast() {
                let size = end - start
                var split: (feature: Int, threshold: Float)?
                if size > 1 && depth < depthLimit {
                    split = drawSplit(
                        x, width: width, indices: indices, start: start, end: end,
                        features: &features, generator: &generator)
                }
                guard let (feature, threshold) = split else {
                    tree.threshold[node] = Float(Double(depth) + averagePathLength(size))
                    continue
                }
                // Partition the node's samples: x[feature] <= threshold first.
                var middle = start
                for position in start..<end where x[indices[position] * width + feature] <= threshold {
                    indices.swapAt(position, middle)
                    middle += 1
                }
                let leftChild = tree.feature.count
                tree.feature[node] = Int32(feature)
                tree.threshold[node] = threshold
                tree.left[node] = Int32(leftChild)
                tree.feature += [-1, -1]
                tree.threshold += [0, 0]
                tree.left += [-1, -1]
                pending.append((leftChild + 1, middle, end, depth + 1))
                pending.append((leftChild, start, middle, depth + 1))
            }
        }
        return tree
    }

    /// Draws features in random order (without replacement, as scikit-learn's random splitter)
    /// until one is not constant over the node, and a threshold uniform in its [min, max).
    /// `nil` when every feature is constant in the node.
    private static func drawSplit(
        _ x: UnsafePointer<Float>, width: Int, indices: UnsafeMutableBufferPointer<Int>, start: Int, end: Int,
        features: inout [Int], generator: inout SeededGenerator
    ) -> (feature: Int, threshold: Float)? {
        for drawn in 0..<width {
            features.swapAt(drawn, drawn + generator.nextInt(below: width - drawn))
            let feature = features[drawn]
            var low = Float.infinity
            var high = -Float.infinity
            for position in start..<end {
                let value = x[indices[position] * width + feature]
                low = min(low, value)
                high = max(high, value)
            }
            guard high > low else { continue }
            var threshold = Float(Double(low) + generator.nextDouble() * (Double(high) - Double(low)))
            if threshold >= high { threshold = low }  // keep both children non-empty
            return (feature, threshold)
        }
        return nil
    }
}

extension IsolationForest: PersistentDetector {
    public func saveFittedState(to url: URL) throws {
        guard let sampleShape else { throw DetectorError.notFitted(Self.name) }
        var arrays = FittedArrays()
        arrays.add("feature", integers: forest.feature)
        arrays.add("threshold", forest.threshold)
        arrays.add("left", integers: forest.left)
        arrays.add("roots", integers: forest.roots)
        arrays.add("samplesPerTree", scalar: Double(samplesPerTree))
        try arrays.save(to: url, detector: Self.name, sampleShape: sampleShape, configuration: configuration)
    }

    /// Loads a forest, checking that every walk stays inside it and ends (children come after
    /// their parent, split features inside the sample).
    public mutating func loadFittedState(from url: URL) throws {
        let stored = try FittedArrays.Stored(url: url, detector: Self.name)
        let width = stored.sampleShape.reduce(1, *)
        let feature = try stored.integers("feature"), left = try stored.integers("left")
        let threshold = try stored.floats("threshold"), roots = try stored.integers("roots")
        let nodes = feature.count
        let valid =
            left.count == nodes && threshold.count == nodes && !roots.isEmpty && roots.allSatisfy { (0..<nodes).contains($0) }
            && (0..<nodes).allSatisfy { i in
                feature[i] < 0 || (feature[i] < width && left[i] > i && left[i] + 1 < nodes)
            }
        guard valid else { throw DetectorError.incompatibleCheckpoint(path: url.path, reason: "its trees are malformed") }
        forest = Forest(feature: feature.map(Int32.init), threshold: threshold, left: left.map(Int32.init), roots: roots)
        samplesPerTree = try stored.integer("samplesPerTree")
        sampleShape = stored.sampleShape
    }
}
