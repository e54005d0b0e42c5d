/// Random tensors, always from an explicit seeded generator.
extension Tensor {
    /// Uniform values in [low, high).
    public static func uniform(
        _ shape: [Int], low: Float = 0, high: Float = 1, using generator: inout SeededGenerator
    ) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        let p = t.pointer, span = high - low
        for i in 0..<t.count { p[i] = low + span * generator.nextUniform() }
        return t
    }

    /// Normal values with the given mean and standard deviation.
    public static func normal(
        _ shape: [Int], mean: Float = 0, std: Float = 1, using generator: inout SeededGenerator
    ) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        let p = t.pointer
        for i in 0..<t.count { p[i] = mean + std * generator.nextNormal() }
        return t
    }

    /// Normal values redrawn until they fall within `bound` standard deviations of the mean
    /// (PyTorch's `trunc_normal_` with a = mean − bound·std, b = mean + bound·std).
    public static func truncatedNormal(
        _ shape: [Int], mean: Float = 0, std: Float = 1, bound: Float = 2, using generator: inout SeededGenerator
    ) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        let p = t.pointer
        for i in 0..<t.count {
            var v = generator.nextNormal()
            while Swift.abs(v) > bound { v = generator.nextNormal() }
            p[i] = mean + std * v
        }
        return t
    }

    /// 1 with probability `probability`, else 0.
    public static func bernoulli(
        _ shape: [Int], probability: Float, using generator: inout SeededGenerator
    ) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        let p = t.pointer
        for i in 0..<t.count { p[i] = generator.nextUniform() < probability ? 1 : 0 }
        return t
    }

    /// A random permutation of 0..<n as a Float tensor (use `generator.permutation(n)` for `[Int]`).
    public static func randomPermutation(_ n: Int, using generator: inout SeededGenerator) -> Tensor {
        Tensor(generator.permutation(n).map { Float($0) })
    }
}
