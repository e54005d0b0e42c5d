import CKernels
import Foundation

/// The CPU backend: pointer loops the compiler vectorises, work split over the cores, GEMM from
/// OpenBLAS when the system has it (see `BLAS`) and our C kernels otherwise.
public struct CPUBackend: Backend {
    public static let shared = CPUBackend()

    // MARK: Element-wise

    public func unary(_ op: UnaryOp, _ x: Tensor, into out: Tensor) {
        let src = UnsafePointer(x.pointer), dst = out.pointer, n = x.count
        switch op {
        case .neg: map(src, dst, n) { -$0 }
        case .exp: map(src, dst, n, cost: 8) { Foundation.exp($0) }
        case .log: map(src, dst, n, cost: 8) { Foundation.log($0) }
        case .sqrt: map(src, dst, n) { $0.squareRoot() }
        case .rsqrt: map(src, dst, n) { 1 / $0.squareRoot() }
        case .abs: map(src, dst, n) { Swift.abs($0) }
        case .relu: map(src, dst, n) { $0 > 0 ? $0 : 0 }
        case .sigmoid: map(src, dst, n, cost: 8) { 1 / (1 + Foundation.exp(-$0)) }
        case .tanh: map(src, dst, n, cost: 8) { Foundation.tanh($0) }
        case .softplus:
            map(src, dst, n, cost: 8) { v in v > 20 ? v : (v < -20 ? Foundation.exp(v) : Foundation.log1p(Foundation.exp(v))) }
        case .sin: map(src, dst, n, cost: 8) { Foundation.sin($0) }
        case .cos: map(src, dst, n, cost: 8) { Foundation.cos($0) }
        case .acos: map(src, dst, n, cost: 8) { Foundation.acos(Swift.min(Swift.max($0, -1), 1)) }
        case .square: map(src, dst, n) { $0 * $0 }
        case .reciprocal: map(src, dst, n) { 1 / $0 }
        case .leakyRelu(let slope): map(src, dst, n) { $0 > 0 ? $0 : $0 * slope }
        case .clamp(let lo, let hi): map(src, dst, n) { Swift.min(Swift.max($0, lo), hi) }
        case .powScalar(let p):
            if p == 2 { map(src, dst, n) { $0 * $0 } } else { map(src, dst, n, cost: 8) { Foundation.pow($0, p) } }
        case .addScalar(let c): map(src, dst, n) { $0 + c }
        case .mulScalar(let c): map(src, dst, n) { $0 * c }
        case .positiveMask: map(src, dst, n) { $0 > 0 ? 1 : 0 }
        case .insideMask(let lo, let hi): map(src, dst, n) { $0 >= lo && $0 <= hi ? 1 : 0 }
        case .sign: map(src, dst, n) { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
        }
    }

    @inline(__always)
    private func map(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int, cost: Int = 1,
        _ f: (Float) -> Float
    ) {
        CPUThreads.parallelRanges(n, costPerItem: cost) { start, end in
            for i in start..<end { dst[i] = f(src[i]) }
        }
    }

    public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, into out: Tensor) {
        switch op {
        case .add: zip(a, b, out) { $0 + $1 }
        case .sub: zip(a, b, out) { $0 - $1 }
        case .mul: zip(a, b, out) { $0 * $1 }
        case .div: zip(a, b, out) { $0 / $1 }
        case .pow: zip(a, b, out, cost: 8) { Foundation.pow($0, $1) }
        case .maximum: zip(a, b, out) { Swift.max($0, $1) }
        case .minimum: zip(a, b, out) { Swift.min($0, $1) }
        case .equal: zip(a, b, out) { $0 == $1 ? 1 : 0 }
        case .notEqual: zip(a, b, out) { $0 != $1 ? 1 : 0 }
        case .less: zip(a, b, out) { $0 < $1 ? 1 : 0 }
        case .lessEqual: zip(a, b, out) { $0 <= $1 ? 1 : 0 }
        case .greater: zip(a, b, out) { $0 > $1 ? 1 : 0 }
        case .greaterEqual: zip(a, b, out) { $0 >= $1 ? 1 : 0 }
        }
    }

    /// Broadcast element-wise loop: dimensions are collapsed so the innermost loop is as long
    /// as possible, with each operand's inner stride 0 or 1.
    @inline(__always)
    private func zip(_ a: Tensor, _ b: Tensor, _ out: Tensor, cost: Int = 1, _ f: (Float, Float) -> Float) {
        let pa = UnsafePointer(a.pointer), pb = UnsafePointer(b.pointer), po = out.pointer
        let n = out.count
        if a.shape == b.shape {
            CPUThreads.parallelRanges(n, costPerItem: cost) { s, e in for i in s..<e { po[i] = f(pa[i], pb[i]) } }
            return
        }
        if b.count == 1 {
            let v = pb[0]
            CPUThreads.parallelRanges(n, costPerItem: cost) { s, e in for i in s..<e { po[i] = f(pa[i], v) } }
            return
        }
        if a.count == 1 {
            let v = pa[0]
            CPUThreads.parallelRanges(n, costPerItem: cost) { s, e in for i in s..<e { po[i] = f(v, pb[i]) } }
            return
        }
        let layout = BroadcastLayout(out: out.shape, a: a.shape, b: b.shape)
        let inner = layout.shape.last ?? 1
        let rows = n / max(inner, 1)
        let sa = layout.aStrides.last ?? 0, sb = layout.bStrides.last ?? 0
        CPUThreads.parallelRanges(rows, costPerItem: inner * cost) { r0, r1 in
            for r in r0..<r1 {
                let (oa, ob) = layout.offsets(row: r)
                let x = pa + oa, y = pb + ob, o = po + r * inner
                if sa == 1 && sb == 1 {
                    for i in 0..<inner { o[i] = f(x[i], y[i]) }
                } else if sa == 1 {
                    let v = y[0]
                    for i in 0..<inner { o[i] = f(x[i], v) }
                } else if sb == 1 {
                    let v = x[0]
                    for i in 0..<inner { o[i] = f(v, y[i]) }
                } else {
                    let v = f(x[0], y[0])
                    for i in 0..<inner { o[i] = v }
                }
            }
        }
    }

    // MARK: Reductions

    public func reduce(_ op: ReduceOp, _ x: Tensor, outer: Int, axisSize: Int, inner: Int, into out: Tensor) {
        switch op {
        case .sum: reduceLoop(x, outer, axisSize, inner, out, initial: 0) { $0 + $1 }
        case .max: reduceLoop(x, outer, axisSize, inner, out, initial: -.infinity) { Swift.max($0, $1) }
        case .min: reduceLoop(x, outer, axisSize, inner, out, initial: .infinity) { Swift.min($0, $1) }
        }
    }

    @inline(__always)
    private func reduceLoop(
        _ x: Tensor, _ outer: Int, _ axisSize: Int, _ inner: Int, _ out: Tensor, initial: Float,
        _ f: (Float, Float) -> Float
    ) {
        let px = UnsafePointer(x.pointer), po = out.pointer
        if inner == 1 {
            // Contiguous rows: 16 independent accumulators so the loop vectorises.
            CPUThreads.parallelRanges(outer, costPerItem: axisSize) { o0, o1 in
                for o in o0..<o1 {
                    let row = px + o * axisSize
                    var acc = SIMD16<Float>(repeating: initial)
                    var k = 0
                    while k + 16 <= axisSize {
                        let v = UnsafeRawPointer(row + k).loadUnaligned(as: SIMD16<Float>.self)
                        for l in 0..<16 { acc[l] = f(acc[l], v[l]) }
                        k += 16
                    }
                    var r = initial
                    for l in 0..<16 { r = f(r, acc[l]) }
                    while k < axisSize { r = f(r, row[k]); k += 1 }
                    po[o] = r
                }
            }
        } else if outer >= CPUThreads.count || inner < 64 {
            CPUThreads.parallelRanges(outer, costPerItem: axisSize * inner) { o0, o1 in
                for o in o0..<o1 {
                    let dst = po + o * inner
                    let base = px + o * axisSize * inner
                    for i in 0..<inner { dst[i] = base[i] }
                    for k in 1..<max(axisSize, 1) {
                        let src = base + k * inner
                        for i in 0..<inner { dst[i] = f(dst[i], src[i]) }
                    }
                    if axisSize == 0 { for i in 0..<inner { dst[i] = initial } }
                }
            }
        } else {
            for o in 0..<outer {
                let dst = po + o * inner
                let base = px + o * axisSize * inner
                CPUThreads.parallelRanges(inner, costPerItem: axisSize) { i0, i1 in
                    for i in i0..<i1 { dst[i] = axisSize == 0 ? initial : base[i] }
                    for k in 1..<max(axisSize, 1) {
                        let src = base + k * inner
                        for i in i0..<i1 { dst[i] = f(dst[i], src[i]) }
                    }
                }
            }
        }
    }

    public func argReduce(max: Bool, _ x: Tensor, outer: Int, axisSize: Int, inner: Int) -> [Int] {
        let px = x.pointer
        var result = [Int](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = px[o * axisSize * inner + i]
                var bestIndex = 0
                for k in 1..<Swift.max(axisSize, 1) {
                    let v = px[(o * axisSize + k) * inner + i]
                    if max ? (v > best || (best.isNaN == false && v.isNaN)) : (v < best || (best.isNaN == false && v.isNaN)) {
                        best = v
                        bestIndex = k
                    }
                }
                result[o * inner + i] = bestIndex
            }
        }
        return result
    }

    // MARK: Matrix products

    public func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: Tensor, aBatchStride: Int, b: Tensor, bBatchStride: Int, beta: Float,
        out: Tensor, outBatchStride: Int, batch: Int
    ) {
        let lda = transposeA ? m : k
        let ldb = transposeB ? k : n
        for i in 0..<batch {
            BLAS.sgemm(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                a: a.pointer + i * aBatchStride, lda: lda, b: b.pointer + i * bBatchStride, ldb: ldb,
                beta: beta, c: out.pointer + i * outBatchStride, ldc: n)
        }
    }

    // MARK: Data movement

    public func stridedCopy(
        shape: [Int], src: Tensor, srcOffset: Int, srcStrides: [Int],
        dst: Tensor, dstOffset: Int, dstStrides: [Int], accumulate: Bool
    ) {
        // Collapse adjacent dimensions that are contiguous in both operands.
        var dims: [Int] = [], ss: [Int] = [], ds: [Int] = []
        for i in 0..<shape.count where shape[i] != 1 {
            if let last = dims.indices.last, ss[last] == srcStrides[i] * shape[i], ds[last] == dstStrides[i] * shape[i] {
                dims[last] *= shape[i]
                ss[last] = srcStrides[i]
                ds[last] = dstStrides[i]
            } else {
                dims.append(shape[i]); ss.append(srcStrides[i]); ds.append(dstStrides[i])
            }
        }
        if dims.isEmpty { dims = [1]; ss = [1]; ds = [1] }
        let inner = dims.last!, si = ss.last!, di = ds.last!
        let outerDims = Array(dims.dropLast()), outerSS = Array(ss.dropLast()), outerDS = Array(ds.dropLast())
        let rows = outerDims.reduce(1, *)
        let ps = UnsafePointer(src.storage.pointer) + srcOffset, pd = dst.storage.pointer + dstOffset
        CPUThreads.parallelRanges(rows, costPerItem: inner) { r0, r1 in
            var index = [Int](repeating: 0, count: outerDims.count)
            // Decompose r0 into a multi-index.
            var rem = r0
            for d in stride(from: outerDims.count - 1, through: 0, by: -1) {
                index[d] = rem % outerDims[d]
                rem /= outerDims[d]
            }
            for _ in r0..<r1 {
                var so = 0, dO = 0
                for d in 0..<outerDims.count { so += index[d] * outerSS[d]; dO += index[d] * outerDS[d] }
                let s = ps + so, t = pd + dO
                if accumulate {
                    if si == 1 && di == 1 { for i in 0..<inner { t[i] += s[i] } } else { for i in 0..<inner { t[i * di] += s[i * si] } }
                } else if si == 1 && di == 1 {
                    t.update(from: s, count: inner)
                } else if si == 0 && di == 1 {
                    t.update(repeating: s[0], count: inner)
                } else {
                    for i in 0..<inner { t[i * di] = s[i * si] }
                }
                var d = outerDims.count - 1
                while d >= 0 {
                    index[d] += 1
                    if index[d] < outerDims[d] { break }
                    index[d] = 0
                    d -= 1
                }
            }
        }
    }

    public func gather(_ x: Tensor, outer: Int, axisSize: Int, inner: Int, indices: [Int32], into out: Tensor) {
        let px = x.pointer, po = out.pointer, m = indices.count
        indices.withUnsafeBufferPointer { idx in
            for o in 0..<outer {
                for j in 0..<m {
                    let src = px + (o * axisSize + Int(idx[j])) * inner
                    (po + (o * m + j) * inner).update(from: src, count: inner)
                }
            }
        }
    }

    public func scatterAdd(_ x: Tensor, outer: Int, axisSize: Int, inner: Int, indices: [Int32], into out: Tensor) {
        let px = x.pointer, po = out.pointer, m = indices.count
        indices.withUnsafeBufferPointer { idx in
            for o in 0..<outer {
                for j in 0..<m {
                    let dst = po + (o * axisSize + Int(idx[j])) * inner
                    let src = px + (o * m + j) * inner
                    for i in 0..<inner { dst[i] += src[i] }
                }
            }
        }
    }

    public func softmax(_ x: Tensor, rows: Int, columns: Int, log: Bool, into out: Tensor) {
        let px = x.pointer, po = out.pointer
        CPUThreads.parallelRanges(rows, costPerItem: columns * 8) { r0, r1 in
            for r in r0..<r1 {
                let s = px + r * columns, d = po + r * columns
                var m = -Float.infinity
                for j in 0..<columns { m = Swift.max(m, s[j]) }
                if m == -.infinity { m = 0 }
                var total: Float = 0
                for j in 0..<columns {
                    let e = Foundation.exp(s[j] - m)
                    d[j] = e
                    total += e
                }
                if log {
                    let lse = Foundation.log(total) + m
                    for j in 0..<columns { d[j] = s[j] - lse }
                } else {
                    let inv = 1 / total
                    for j in 0..<columns { d[j] *= inv }
                }
            }
        }
    }

    public func logSumExp(_ x: Tensor, rows: Int, columns: Int, into out: Tensor) {
        let px = x.pointer, po = out.pointer
        CPUThreads.parallelRanges(rows, costPerItem: columns * 8) { r0, r1 in
            for r in r0..<r1 {
                let s = px + r * columns
                var m = -Float.infinity
                for j in 0..<columns { m = Swift.max(m, s[j]) }
                if m == -.infinity || m == .infinity {
                    po[r] = m
                    continue
                }
                var total: Float = 0
                for j in 0..<columns { total += Foundation.exp(s[j] - m) }
                po[r] = Foundation.log(total) + m
            }
        }
    }

    public func fill(_ out: Tensor, value: Float) {
        out.pointer.update(repeating: value, count: out.count)
    }
}

/// Strides of two operands broadcast to an output shape, with dimensions collapsed where both
/// operands are contiguous across them.
struct BroadcastLayout {
    var shape: [Int] = []
    var aStrides: [Int] = []
    var bStrides: [Int] = []
    private var outerShape: [Int] = []

    init(out: [Int], a: [Int], b: [Int]) {
        let r = out.count
        func strides(_ s: [Int]) -> [Int] {
            let padded = [Int](repeating: 1, count: r - s.count) + s
            let cs = contiguousStrides(padded)
            return (0..<r).map { padded[$0] == 1 && out[$0] != 1 ? 0 : cs[$0] }
        }
        let sa = strides(a), sb = strides(b)
        for i in 0..<r where out[i] != 1 {
            if let last = shape.indices.last, aStrides[last] == sa[i] * out[i], bStrides[last] == sb[i] * out[i] {
                shape[last] *= out[i]
                aStrides[last] = sa[i]
                bStrides[last] = sb[i]
            } else {
                shape.append(out[i]); aStrides.append(sa[i]); bStrides.append(sb[i])
            }
        }
        if shape.isEmpty { shape = [1]; aStrides = [0]; bStrides = [0] }
        outerShape = Array(shape.dropLast())
    }

    /// Offsets into a and b of the first element of output row `row` (row = all but the last dim).
    @inline(__always)
    func offsets(row: Int) -> (Int, Int) {
        var rem = row, oa = 0, ob = 0
        var d = outerShape.count - 1
        while d >= 0 {
            let i = rem % outerShape[d]
            rem /= outerShape[d]
            oa += i * aStrides[d]
            ob += i * bStrides[d]
            d -= 1
        }
        return (oa, ob)
    }
}
