import Foundation
import Layers
import Tensors

/// Spherical k-means on unit vectors (METHODS.md §1.5, soyclustering's `SphericalKMeans` as Elsa
/// calls it): assign every point to the centroid of largest cosine, set each centroid to the
/// normalised sum of its points, for a fixed number of iterations. Seeding is spherical
/// k-means++ [A]: the first seed uniform, each next one drawn with probability proportional to
/// 1 − (largest cosine to the seeds so far), which, like soyclustering's `similar_cut`, keeps
/// near-duplicate seeds out. A cluster left empty keeps its previous centroid.
public enum SphericalKMeans {
    /// `clusterCount` unit centroids [K, d] of the rows of `points` [N, d] (normalised here).
    public static func fit(
        _ points: Tensor, clusterCount k: Int, iterations: Int = 10, using generator: inout SeededGenerator
    ) -> Tensor {
        withoutGradients {
            let x = l2Normalize(points.to(.cpu), axis: 1)
            let (n, d) = (x.shape[0], x.shape[1])
            precondition(n >= 1 && k >= 1, "SphericalKMeans: need points and at least one cluster")
            let values = x.toArray()
            var centroids = seeds(values, count: n, dimension: d, clusterCount: k, using: &generator)
            for _ in 0..<iterations {
                let assignment = matmul(x, Tensor(centroids, shape: [k, d]), transposeB: true).argmax(axis: 1)
                var sums = [Float](repeating: 0, count: k * d)
                var members = [Int](repeating: 0, count: k)
                for (i, cluster) in assignment.enumerated() {
                    members[cluster] += 1
                    for j in 0..<d { sums[cluster * d + j] += values[i * d + j] }
                }
                for cluster in 0..<k where members[cluster] > 0 {
                    let row = sums[(cluster * d)..<((cluster + 1) * d)]
                    let norm = max(row.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
                    for j in 0..<d { centroids[cluster * d + j] = sums[cluster * d + j] / norm }
                }
            }
            return Tensor(centroids, shape: [k, d])
        }
    }

    /// Spherical k-means++ seeds (rows of the unit `values`), flattened [K·d].
    static func seeds(_ values: [Float], count n: Int, dimension d: Int, clusterCount k: Int, using g: inout SeededGenerator)
        -> [Float]
    {
        var chosen = [g.nextInt(below: n)]
        var nearest = [Float](repeating: -1, count: n)
        while chosen.count < k {
            let last = chosen[chosen.count - 1]
            var total = 0.0
            for i in 0..<n {
                var dot: Float = 0
                for j in 0..<d { dot += values[i * d + j] * values[last * d + j] }
                nearest[i] = max(nearest[i], dot)
                total += Double(max(0, 1 - nearest[i]))
            }
            guard total > 0 else {
                chosen.append(g.nextInt(below: n))  // every point coincides with a seed
                continue
            }
            var target = g.nextDouble() * total
            var pick = n - 1
            for i in 0..<n {
                target -= Double(max(0, 1 - nearest[i]))
                if target < 0 {
                    pick = i
                    break
                }
            }
            chosen.append(pick)
        }
        return chosen.flatMap { values[($0 * d)..<(($0 + 1) * d)] }
    }
}
