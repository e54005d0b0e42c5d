import CKernels
import Tensors
import Testing

/// The C element-wise kernels (vectorised, 16 lanes + tails) give exactly the values of the Swift
/// expressions they replace — including NaN, ±∞ and −0 inputs — at every CPU level (AVX-512,
/// AVX2, baseline), for each operand layout (vectors, scalar left/right, broadcast rows).
@Suite(.serialized) struct ElementwiseKernelTests {
    static let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 1e-30, -1e30, 0.5, -0.5, 2, -3, 7.25]
    static func values(_ n: Int, seed: Int) -> [Float] {
        (0..<n).map { i in i % 5 == 0 ? specials[(i / 5 + seed) % specials.count] : Float((i * 37 + seed * 11) % 23) / 4 - 2.5 }
    }

    /// Same float, treating all NaNs as equal.
    static func same(_ a: Float, _ b: Float) -> Bool { a.isNaN ? b.isNaN : a.bitPattern == b.bitPattern }

    static func levels(_ body: () -> Void) {
        for level: Int32 in [1, 2, 0] {
            ak_nn_set_cpu_level(level)
            body()
        }
        ak_nn_set_cpu_level(-1)
    }

    @Test func unaryMatchesSwift() {
        let x = Self.values(53, seed: 1)
        let cases: [(UnaryOp, (Float) -> Float)] = [
            (.neg, { -$0 }), (.abs, { Swift.abs($0) }), (.relu, { $0 > 0 ? $0 : 0 }), (.square, { $0 * $0 }),
            (.reciprocal, { 1 / $0 }), (.leakyRelu(slope: 0.1), { $0 > 0 ? $0 : $0 * 0.1 }),
            (.clamp(min: -1, max: 1.5), { Swift.min(Swift.max($0, -1), 1.5) }), (.addScalar(0.75), { $0 + 0.75 }),
            (.mulScalar(-3), { $0 * -3 }), (.positiveMask, { $0 > 0 ? 1 : 0 }),
            (.insideMask(min: -1, max: 2), { $0 >= -1 && $0 <= 2 ? 1 : 0 }), (.sign, { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }),
            (.powScalar(2), { $0 * $0 }),
        ]
        Self.levels {
            for (op, f) in cases {
                let out = Tensor.zeros([x.count])
                CPUBackend.shared.unary(op, Tensor(x), into: out)
                let got = out.toArray()
                for i in x.indices where !Self.same(got[i], f(x[i])) {
                    Issue.record("\(op) at \(x[i]): \(got[i]), expected \(f(x[i]))")
                    break
                }
            }
        }
    }

    @Test func binaryMatchesSwiftForEveryLayout() {
        let cases: [(BinaryOp, (Float, Float) -> Float)] = [
            (.add, { $0 + $1 }), (.sub, { $0 - $1 }), (.mul, { $0 * $1 }), (.div, { $0 / $1 }),
            (.maximum, { Swift.max($0, $1) }), (.minimum, { Swift.min($0, $1) }), (.equal, { $0 == $1 ? 1 : 0 }),
            (.notEqual, { $0 != $1 ? 1 : 0 }), (.less, { $0 < $1 ? 1 : 0 }), (.lessEqual, { $0 <= $1 ? 1 : 0 }),
            (.greater, { $0 > $1 ? 1 : 0 }), (.greaterEqual, { $0 >= $1 ? 1 : 0 }),
        ]
        // (shape of a, shape of b): same shape, scalar right, scalar left, row and column broadcasts.
        let layouts: [([Int], [Int])] = [([3, 19], [3, 19]), ([3, 19], [1]), ([1], [3, 19]), ([3, 19], [19]), ([3, 1], [3, 19])]
        Self.levels {
            for (sa, sb) in layouts {
                let a = Self.values(sa.reduce(1, *), seed: 2), b = Self.values(sb.reduce(1, *), seed: 3)
                let outShape = [3, 19]
                for (op, f) in cases {
                    let out = Tensor.zeros(outShape)
                    CPUBackend.shared.binary(op, Tensor(a, shape: sa), Tensor(b, shape: sb), into: out)
                    let got = out.toArray()
                    for r in 0..<3 {
                        for c in 0..<19 {
                            func at(_ v: [Float], _ s: [Int]) -> Float {
                                v.count == 1 ? v[0] : (s == [19] ? v[c] : (s == [3, 1] ? v[r] : v[r * 19 + c]))
                            }
                            let e = f(at(a, sa), at(b, sb))
                            if !Self.same(got[r * 19 + c], e) {
                                Issue.record("\(op) \(sa)∘\(sb) at [\(r), \(c)]: \(got[r * 19 + c]), expected \(e)")
                            }
                        }
                    }
                }
            }
        }
    }

    @Test func columnReductionsMatchSwift() {
        let x = Self.values(5 * 70, seed: 4)
        Self.levels {
            let cases: [(ReduceOp, (Float, Float) -> Float)] = [
                (.sum, { $0 + $1 }), (.max, { Swift.max($0, $1) }), (.min, { Swift.min($0, $1) }),
            ]
            for (op, f) in cases {
                let out = Tensor.zeros([70])
                CPUBackend.shared.reduce(op, Tensor(x, shape: [5, 70]), outer: 1, axisSize: 5, inner: 70, into: out)
                let got = out.toArray()
                for i in 0..<70 {
                    var e = x[i]
                    for k in 1..<5 { e = f(e, x[k * 70 + i]) }
                    if !Self.same(got[i], e) { Issue.record("\(op) column \(i): \(got[i]), expected \(e)") }
                }
            }
        }
    }
}
