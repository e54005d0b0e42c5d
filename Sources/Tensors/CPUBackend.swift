import CKernels
import Foundation

/// The CPU backend: pointer loops the compiler vectorises, work split over the cores, GEMM from
/// OpenBLAS when the system has it (see `BLAS`) and our C kernels otherwise.
public struct CPUBackend: Backend {
    public static let shared = CPUBackend()

    // MARK: Element-wise

    public func unary(_ op: UnaryOp, _ x: Tensor, into out: Tensor) {
        let src = UnsafePointer(x.pointer), dst = out.pointer, n = x.count
        // Arithmetic ops run in the vectorised C kernel (same values as these Swift expressions).
        func kernel(_ code: Int, _ a: Float = 0, _ b: Float = 0) {
            CPUThreads.parallelRanges(n) { s, e in ak_unary(Int32(code), a, b, src, dst, s, e) }
        }
        switch op {
        case .neg: kernel(AK_UNARY_NEG)
        case .exp: map(src, dst, n, cost: 8) { Foundation.exp($0) }
        case .log: map(src, dst, n, cost: 8) { Foundation.log($0) }
        case .sqrt: map(src, dst, n) { $0.squareRoot() }
        case .rsqrt: map(src, dst, n) { 1 / $0.squareRoot() }
        case .abs: kernel(AK_UNARY_ABS)
        case .relu: kernel(AK_UNARY_RELU)
        case .sigmoid: map(src, dst, n, cost: 8) { 1 / (1 + Foundation.exp(-$0)) }
        case .tanh: map(src, dst, n, cost: 8) { Foundation.tanh($0) }
        case .softplus:
            map(src, dst, n, cost: 8) { v in v > 20 ? v : (v < -20 ? Foundation.exp(v) : Foundation.log1p(Foundation.exp(v))) }
        case .sin: map(src, dst, n, cost: 8) { Foundation.sin($0) }
        case .cos: map(src, dst, n, cost: 8) { Foundation.cos($0) }
        case .acos: map(src, dst, n, cost: 8) { Foundation.acos(Swift.min(Swift.max($0, -1), 1)) }
        case .square: kernel(AK_UNARY_SQUARE)
        case .reciprocal: kernel(AK_UNARY_RECIPROCAL)
        case .leakyRelu(let slope): kernel(AK_UNARY_LEAKY_RELU, slope)
        case .clamp(let lo, let hi): kernel(AK_UNARY_CLAMP, lo, hi)
        case .powScalar(let p):
            if p == 2 { kernel(AK_UNARY_SQUARE) } else { map(src, dst, n, cost: 8) { Foundation.pow($0, p) } }
        case .addScalar(let c): kernel(AK_UNARY_ADD_SCALAR, c)
        case .mulScalar(let c): kernel(AK_UNARY_MUL_SCALAR, c)
        case .positiveMask: kernel(AK_UNARY_POSITIVE_MASK)
        case .insideMask(let lo, let hi): kernel(AK_UNARY_INSIDE_MASK, lo, hi)
        case .sign: kernel(AK_UNARY_SIGN)
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
        let code: Int
        switch op {
        case .pow:
            forEachRun(a, b, out, cost: 8) { x, sx, y, sy, o, n in
                for i in 0..<n { o[i] = Foundation.pow(x[i * sx], y[i * sy]) }
            }
            return
        case .add: code = AK_BINARY_ADD
        case .sub: code = AK_BINARY_SUB
        case .mul: code = AK_BINARY_MUL
        case .div: code = AK_BINARY_DIV
        case .maximum: code = AK_BINARY_MAXIMUM
        case .minimum: code = AK_BINARY_MINIMUM
        case .equal: code = AK_BINARY_EQUAL
        case .notEqual: code = AK_BINARY_NOT_EQUAL
        case .less: code = AK_BINARY_LESS
        case .lessEqual: code = AK_BINARY_LESS_EQUAL
        case .greater: code = AK_BINARY_GREATER
        case .greaterEqual: code = AK_BINARY_GREATER_EQUAL
        }
        // The vectorised C kernel over runs where each operand's stride is 0 or 1.
        let op = Int32(code)
        forEachRun(a, b, out) { x, sx, y, sy, o, n in ak_binary(op, x, Int32(sx), y, Int32(sy), o, n) }
    }

    /// Calls `body(a, strideA, b, strideB, out, count)` over runs of the broadcast output in which
    /// each operand's stride is 0 or 1 (dimensions collapsed so runs are as long as possible),
    /// split over the cores.
    @inline(__always)
    private func forEachRun(
        _ a: Tensor, _ b: Tensor, _ out: Tensor, cost: Int = 1,
        _ body: (UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int) -> Void
    ) {
        let pa = UnsafePointer(a.pointer), pb = UnsafePointer(b.pointer), po = out.pointer
        let n = out.count
        if a.shape == b.shape || a.count == 1 || b.count == 1 {
            let sa = a.count == 1 && n != 1 ? 0 : 1, sb = b.count == 1 && n != 1 ? 0 : 1
            CPUThreads.parallelRanges(n, costPerItem: cost) { s, e in
                body(pa + s * sa, sa, pb + s * sb, sb, po + s, e - s)
            }
            return
        }
        let layout = BroadcastLayout(out: out.shape, a: a.shape, b: b.shape)
        let inner = layout.shape.last ?? 1
        let rows = n / max(inner, 1)
        let sa = layout.aStrides.last ?? 0, sb = layout.bStrides.last ?? 0
        CPUThreads.parallelRanges(rows, costPerItem: inner * cost) { r0, r1 in
            for r in r0..<r1 {
                let (oa, ob) = layout.offsets(row: r)
                body(pa + oa, sa, pb + ob, sb, po + r * inner, inner)
            }
        }
    }

    // MARK: Reductions

    public func reduce(_ op: ReduceOp, _ x: Tensor, outer: Int, axisSize: Int, inner: Int, into out: Tensor) {
        switch op {
        case .sum: reduceLoop(x, outer, axisSize, inner, out, code: 0, initial: 0) { $0 + $1 }
        case .max: reduceLoop(x, outer, axisSize, inner, out, code: 1, initial: -.infinity) { Swift.max($0, $1) }
        case .min: reduceLoop(x, outer, axisSize, inner, out, code: 2, initial: .infinity) { Swift.min($0, $1) }
        }
    }

    @inline(__always)
    private func reduceLoop(
        _ x: Tensor, _ outer: Int, _ axisSize: Int, _ inner: Int, _ out: Tensor, code: Int32, initial: Float,
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
        } else if axisSize == 0 {
            po.update(repeating: initial, count: outer * inner)
        } else if outer >= CPUThreads.count || inner < 64 {
            CPUThreads.parallelRanges(outer, costPerItem: axisSize * inner) { o0, o1 in
                for o in o0..<o1 {
                    ak_reduce_rows(code, px + o * axisSize * inner, axisSize, inner, po + o * inner, 0, inner)
                }
            }
        } else {
            for o in 0..<outer {
                let dst = po + o * inner
                let base = px + o * axisSize * inner
                CPUThreads.parallelRanges(inner, costPerItem: axisSize) { i0, i1 in
                    ak_reduce_rows(code, base, axisSize, inner, dst, i0, i1)
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

    public func scatterAlongAxis(
        _ x: Tensor, outer: Int, axisSize: Int, inner: Int, indices: [Int32], into out: Tensor
    ) {
        let px = x.pointer, po = out.pointer
        indices.withUnsafeBufferPointer { idx in
            for o in 0..<outer {
                for i in 0..<inner {
                    po[(o * axisSize + Int(idx[o * inner + i])) * inner + i] = px[o * inner + i]
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
