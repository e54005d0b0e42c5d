import Tensors
import Testing

/// Large products are split over the cores (column or row blocks); every transpose case must
/// still equal a Float64 reference.
@Suite struct MatmulTests {
    func reference(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, ta: Bool, tb: Bool) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = ta ? a[p * m + i] : a[i * k + p]
                    let bv = tb ? b[j * k + p] : b[p * n + j]
                    s += Double(av) * Double(bv)
                }
                c[i * n + j] = Float(s)
            }
        }
        return c
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)], [(70, 300, 129), (301, 45, 140)])
    func splitProductsMatchReference(transposes: (Bool, Bool), size: (Int, Int, Int)) {
        let (m, n, k) = size
        let (ta, tb) = transposes
        var g = SeededGenerator(seed: 11)
        let a = Tensor.uniform(ta ? [k, m] : [m, k], low: -1, high: 1, using: &g)
        let b = Tensor.uniform(tb ? [n, k] : [k, n], low: -1, high: 1, using: &g)
        let c = matmul(a, b, transposeA: ta, transposeB: tb).toArray()
        let r = reference(a.toArray(), b.toArray(), m: m, n: n, k: k, ta: ta, tb: tb)
        let worst = zip(c, r).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-3, "max difference \(worst)")
    }
}
