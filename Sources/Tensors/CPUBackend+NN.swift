import CKernels
import Foundation

/// Tuning knobs of the CPU convolution (see `CPUBackend.conv2d`). Exposed for benchmarks.
public enum ConvolutionTuning {
    /// Bytes of im2col scratch a convolution aims for: the batch is processed in chunks of
    /// samples whose columns fit, so they are still in cache when the GEMM reads them (a chunk
    /// of one 32×32×64-channel sample is 2.4 MB, so such layers go one sample at a time).
    nonisolated(unsafe) public static var workspaceBytes = 2 << 20
    /// Output planes with at least this many pixels are multiplied one sample at a time straight
    /// into NCHW; smaller planes are batched into one wide GEMM per chunk (staged and scattered),
    /// so the GEMM's N stays large for 8×8 and 4×4 feature maps.
    nonisolated(unsafe) public static var directPlaneSize = 256
    /// Staged chunks get at least this many GEMM columns (chunk × plane) when the batch has
    /// them, even past `workspaceBytes`, but never past `maximumWorkspaceBytes`.
    nonisolated(unsafe) public static var minimumStagedColumns = 512
    nonisolated(unsafe) public static var maximumWorkspaceBytes = 16 << 20
    /// Small padded planes (8×8, 4×4) are convolved one kernel tap at a time over the outputs
    /// where the tap reads real input, so no multiply-adds are spent on padding (30% of a 3×3
    /// convolution's work on 4×4 maps).
    nonisolated(unsafe) public static var tapByTap = true
}

/// A few reusable scratch blocks for convolution (im2col columns, staged outputs). Kept out of
/// the tensor caching allocator so differently shaped layers share the same warm pages instead
/// of each pinning its own blocks. Thread-safe.
final class ScratchPool: @unchecked Sendable {
    static let shared = ScratchPool()
    private var free: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []
    private let lock = NSLock()
    private let keep = 3

    func withBuffer<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let n = max(count, 16)
        lock.lock()
        var block: (pointer: UnsafeMutablePointer<Float>, capacity: Int)?
        if let i = free.indices.filter({ free[$0].capacity >= n }).min(by: { free[$0].capacity < free[$1].capacity }) {
            block = free.remove(at: i)
        } else if let i = free.indices.max(by: { free[$0].capacity < free[$1].capacity }) {
            // Too small for this call: drop the largest smaller block, it is replaced below.
            Foundation.free(free.remove(at: i).pointer)
        }
        lock.unlock()
        if block == nil {
            var raw: UnsafeMutableRawPointer?
            guard posix_memalign(&raw, 64, n * MemoryLayout<Float>.stride) == 0, let raw else {
                fatalError("out of memory allocating \(n * 4) bytes of convolution scratch")
            }
            block = (raw.bindMemory(to: Float.self, capacity: n), n)
        }
        defer {
            lock.lock()
            free.append(block!)
            if free.count > keep, let i = free.indices.min(by: { free[$0].capacity < free[$1].capacity }) {
                Foundation.free(free.remove(at: i).pointer)
            }
            lock.unlock()
        }
        return body(block!.pointer)
    }
}

/// How a convolution walks the batch: chunks of samples whose im2col matrix [C·kh·kw, chunk·P]
/// fits the workspace; `direct` multiplies each sample into NCHW; otherwise the chunk's output
/// [O, chunk·P] is staged after the columns and scattered.
struct ConvPlan {
    let patch: Int  // K = C·kh·kw
    let plane: Int  // P = Ho·Wo
    let outChannels: Int
    let chunk: Int
    let direct: Bool
    /// Tap by tap (small padded planes, see `CPUBackend.conv2dByTaps`).
    let byTaps: Bool
    let chunks: [(start: Int, count: Int)]
    var columnCount: Int { patch * chunk * plane }
    var stagingCount: Int { direct || chunk == 1 ? 0 : outChannels * chunk * plane }

    init(_ g: ConvGeometry) {
        patch = g.patchSize
        plane = g.outHeight * g.outWidth
        outChannels = g.outChannels
        direct = plane >= ConvolutionTuning.directPlaneSize
        byTaps = !direct && ConvolutionTuning.tapByTap && g.inChannels >= 32 && g.kernel.height * g.kernel.width > 1
            && (g.padding.height > 0 || g.padding.width > 0)
        let perSampleFloats =
            byTaps
            ? (g.inChannels + outChannels) * plane
            : patch * plane + (direct ? 0 : outChannels * plane)
        let perSample = max(1, perSampleFloats * MemoryLayout<Float>.stride)
        var most = ConvolutionTuning.workspaceBytes / perSample
        if !direct {
            let wanted = (ConvolutionTuning.minimumStagedColumns + plane - 1) / plane
            most = max(most, min(wanted, ConvolutionTuning.maximumWorkspaceBytes / perSample))
        }
        most = max(1, min(g.batch, most))
        // Balanced chunks: as few as the budget allows, sizes differing by at most one.
        let count = (g.batch + most - 1) / most
        var list: [(Int, Int)] = []
        for i in 0..<count {
            let s = g.batch * i / count, e = g.batch * (i + 1) / count
            if e > s { list.append((s, e - s)) }
        }
        chunks = list
        chunk = list.map(\.1).max() ?? 1
    }
}

/// The outputs at which kernel tap (ki, kj) reads inside the input rather than padding:
/// rows r0 ..< r0 + rows, columns c0 ..< c0 + columns.
struct TapRect {
    let tap: Int, ki: Int, kj: Int
    let r0: Int, rows: Int, c0: Int, columns: Int

    static func all(_ g: ConvGeometry) -> [TapRect] {
        func valid(_ inSize: Int, _ outSize: Int, _ stride: Int, _ padding: Int, _ k: Int) -> (Int, Int) {
            let a = padding - k  // first valid: o·stride ≥ a
            let lo = a > 0 ? (a + stride - 1) / stride : 0
            let b = inSize - 1 + padding - k  // last valid: o·stride ≤ b
            let hi = b < 0 ? 0 : min(outSize, b / stride + 1)
            return (lo, max(0, hi - lo))
        }
        var rects: [TapRect] = []
        for ki in 0..<g.kernel.height {
            let (r0, rows) = valid(g.inHeight, g.outHeight, g.stride.height, g.padding.height, ki)
            for kj in 0..<g.kernel.width {
                let (c0, columns) = valid(g.inWidth, g.outWidth, g.stride.width, g.padding.width, kj)
                rects.append(TapRect(tap: ki * g.kernel.width + kj, ki: ki, kj: kj, r0: r0, rows: rows, c0: c0, columns: columns))
            }
        }
        return rects
    }

    /// First input row/column read, for the rectangle's first output.
    func inputRow(_ g: ConvGeometry) -> Int { r0 * g.stride.height - g.padding.height + ki }
    func inputColumn(_ g: ConvGeometry) -> Int { c0 * g.stride.width - g.padding.width + kj }
}

extension CPUBackend {
    // MARK: Convolution

    /// im2col of samples [n0, n0 + count) into `col` [K, count·P] (parallel over sample×channel).
    private func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, _ n0: Int, _ count: Int, _ col: UnsafeMutablePointer<Float>) {
        let sample = g.inChannels * g.inHeight * g.inWidth
        let plane = g.outHeight * g.outWidth
        let items = count * g.inChannels
        CPUThreads.parallelRanges(items, costPerItem: g.kernel.height * g.kernel.width * plane) { i0, i1 in
            ak_im2col(
                x + n0 * sample, Int32(g.inChannels), Int32(g.inHeight), Int32(g.inWidth),
                Int32(g.kernel.height), Int32(g.kernel.width), Int32(g.stride.height), Int32(g.stride.width),
                Int32(g.padding.height), Int32(g.padding.width), Int32(g.outHeight), Int32(g.outWidth),
                col, count * plane, i0, i1)
        }
    }

    /// col2im of `col` [K, count·P] into samples [n0, n0 + count) of `x` (overwritten).
    private func col2im(_ col: UnsafePointer<Float>, _ g: ConvGeometry, _ n0: Int, _ count: Int, _ x: UnsafeMutablePointer<Float>) {
        let sample = g.inChannels * g.inHeight * g.inWidth
        let plane = g.outHeight * g.outWidth
        CPUThreads.parallelRanges(count * g.inChannels, costPerItem: g.kernel.height * g.kernel.width * plane) { i0, i1 in
            ak_col2im(
                col, count * plane, Int32(g.inChannels), Int32(g.inHeight), Int32(g.inWidth),
                Int32(g.kernel.height), Int32(g.kernel.width), Int32(g.stride.height), Int32(g.stride.width),
                Int32(g.padding.height), Int32(g.padding.width), Int32(g.outHeight), Int32(g.outWidth),
                x + n0 * sample, i0, i1)
        }
    }

    /// NCHW samples [n0, n0 + count) of `src` ([N, O, P]) ⇄ staging [O, count·P].
    private func stage(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, channels: Int, plane: Int,
        n0: Int, count: Int, toStaging: Bool
    ) {
        CPUThreads.parallelRanges(count * channels, costPerItem: plane) { i0, i1 in
            for item in i0..<i1 {
                let s = item / channels, o = item % channels
                let nchw = (n0 + s) * channels * plane + o * plane
                let staged = o * count * plane + s * plane
                if toStaging {
                    (dst + staged).update(from: src + nchw, count: plane)
                } else {
                    (dst + nchw).update(from: src + staged, count: plane)
                }
            }
        }
    }

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry, into out: Tensor) {
        let px = UnsafePointer(x.pointer), pw = UnsafePointer(weight.pointer), po = out.pointer
        let plan = ConvPlan(g)
        let O = g.outChannels, K = plan.patch, P = plan.plane, C = g.inChannels
        if plan.byTaps {
            conv2dByTaps(px, pw, po, g, plan)
        } else if g.isPointwise && plan.direct {
            for n in 0..<g.batch {
                BLAS.sgemm(
                    transposeA: false, transposeB: false, m: O, n: P, k: C, alpha: 1, a: pw, lda: C,
                    b: px + n * C * P, ldb: P, beta: 0, c: po + n * O * P, ldc: P)
            }
        } else {
            ScratchPool.shared.withBuffer(plan.columnCount + plan.stagingCount) { col in
                let staging = col + plan.columnCount
                for (n0, cs) in plan.chunks {
                    im2col(px, g, n0, cs, col)
                    let ld = cs * P
                    if plan.direct || cs == 1 {
                        for s in 0..<cs {
                            BLAS.sgemm(
                                transposeA: false, transposeB: false, m: O, n: P, k: K, alpha: 1, a: pw, lda: K,
                                b: col + s * P, ldb: ld, beta: 0, c: po + (n0 + s) * O * P, ldc: P)
                        }
                    } else {
                        BLAS.sgemm(
                            transposeA: false, transposeB: false, m: O, n: ld, k: K, alpha: 1, a: pw, lda: K,
                            b: col, ldb: ld, beta: 0, c: staging, ldc: ld)
                        stage(staging, po, channels: O, plane: P, n0: n0, count: cs, toStaging: false)
                    }
                }
            }
        }
        if let bias { addChannelBias(bias, to: out, layout: ChannelLayout(outer: g.batch, channels: O, inner: P)) }
    }

    public func conv2dBackwardInput(_ gradOutput: Tensor, weight: Tensor, geometry g: ConvGeometry, into gradInput: Tensor) {
        let pg = UnsafePointer(gradOutput.pointer), pw = UnsafePointer(weight.pointer), pd = gradInput.pointer
        let plan = ConvPlan(g)
        let O = g.outChannels, K = plan.patch, P = plan.plane, C = g.inChannels
        if plan.byTaps {
            conv2dBackwardInputByTaps(pg, pw, pd, g, plan)
            return
        }
        if g.isPointwise && plan.direct {
            for n in 0..<g.batch {
                BLAS.sgemm(
                    transposeA: true, transposeB: false, m: C, n: P, k: O, alpha: 1, a: pw, lda: C,
                    b: pg + n * O * P, ldb: P, beta: 0, c: pd + n * C * P, ldc: P)
            }
            return
        }
        ScratchPool.shared.withBuffer(plan.columnCount + plan.stagingCount) { col in
            let staging = col + plan.columnCount
            for (n0, cs) in plan.chunks {
                let ld = cs * P
                if plan.direct || cs == 1 {
                    for s in 0..<cs {
                        BLAS.sgemm(
                            transposeA: true, transposeB: false, m: K, n: P, k: O, alpha: 1, a: pw, lda: K,
                            b: pg + (n0 + s) * O * P, ldb: P, beta: 0, c: col + s * P, ldc: ld)
                    }
                } else {
                    stage(pg, staging, channels: O, plane: P, n0: n0, count: cs, toStaging: true)
                    BLAS.sgemm(
                        transposeA: true, transposeB: false, m: K, n: ld, k: O, alpha: 1, a: pw, lda: K,
                        b: staging, ldb: ld, beta: 0, c: col, ldc: ld)
                }
                col2im(col, g, n0, cs, pd)
            }
        }
    }

    public func conv2dBackwardWeight(_ x: Tensor, gradOutput: Tensor, geometry g: ConvGeometry, into gradWeight: Tensor) {
        let px = UnsafePointer(x.pointer), pg = UnsafePointer(gradOutput.pointer), pd = gradWeight.pointer
        let plan = ConvPlan(g)
        let O = g.outChannels, K = plan.patch, P = plan.plane, C = g.inChannels
        if g.batch == 0 {
            pd.update(repeating: 0, count: gradWeight.count)
            return
        }
        if plan.byTaps {
            conv2dBackwardWeightByTaps(px, pg, pd, g, plan)
            return
        }
        if !plan.direct {
            // Small planes: dW[O, K] += dY_chunk[O, chunk·P] · col[K, chunk·P]ᵀ, one GEMM per chunk.
            ScratchPool.shared.withBuffer(plan.columnCount + plan.stagingCount) { col in
                let staging = col + plan.columnCount
                for (i, (n0, cs)) in plan.chunks.enumerated() {
                    im2col(px, g, n0, cs, col)
                    let ld = cs * P
                    let a: UnsafePointer<Float>
                    if cs == 1 {
                        a = pg + n0 * O * P
                    } else {
                        stage(pg, staging, channels: O, plane: P, n0: n0, count: cs, toStaging: true)
                        a = UnsafePointer(staging)
                    }
                    BLAS.sgemm(
                        transposeA: false, transposeB: true, m: O, n: K, k: ld, alpha: 1, a: a, lda: ld,
                        b: col, ldb: ld, beta: i == 0 ? 0 : 1, c: pd, ldc: K)
                }
            }
            return
        }
        // Large planes, one sample at a time: dWᵀ[K, O] += col[K, P] · dY[n][O, P]ᵀ (OpenBLAS runs
        // this shape faster than dW = dY·colᵀ), then one transpose.
        let columnCount = g.isPointwise ? 0 : plan.columnCount
        ScratchPool.shared.withBuffer(columnCount + K * O) { col in
            let transposed = col + columnCount
            var first = true
            for (n0, cs) in plan.chunks {
                if !g.isPointwise { im2col(px, g, n0, cs, col) }
                let ld = g.isPointwise ? P : cs * P
                for s in 0..<cs {
                    let b = g.isPointwise ? px + (n0 + s) * C * P : UnsafePointer(col + s * P)
                    BLAS.sgemm(
                        transposeA: false, transposeB: true, m: K, n: O, k: P, alpha: 1, a: b, lda: ld,
                        b: pg + (n0 + s) * O * P, ldb: P, beta: first ? 0 : 1, c: transposed, ldc: O)
                    first = false
                }
            }
            for k in 0..<K {
                for o in 0..<O { pd[o * K + k] = transposed[k * O + o] }
            }
        }
    }

    // MARK: Convolution tap by tap

    // For small padded planes: out += W[:, :, ki, kj] · x shifted by the tap, over only the
    // outputs where the tap reads real input (`TapRect`). Each tap is a GEMM with K = C on
    // gathered rectangles, so nothing is multiplied by padding; weights are repacked once per
    // call to [tap, O, C].

    private func gatherRect(
        _ src: UnsafePointer<Float>, sampleStride: Int, channelStride: Int, height: Int, width: Int, samples: Int,
        row0: Int, rows: Int, rowStep: Int, column0: Int, columns: Int, columnStep: Int, channels: Int,
        into dst: UnsafeMutablePointer<Float>
    ) {
        let ld = samples * rows * columns
        CPUThreads.parallelRanges(channels, costPerItem: ld) { c0, c1 in
            ak_gather_rect(
                src, sampleStride, channelStride, Int32(height), Int32(width), Int32(samples), Int32(row0), Int32(rows), Int32(rowStep),
                Int32(column0), Int32(columns), Int32(columnStep), dst, ld, c0, c1)
        }
    }

    private func scatterAddRect(
        _ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, sampleStride: Int, channelStride: Int,
        height: Int, width: Int, samples: Int, row0: Int, rows: Int, rowStep: Int, column0: Int, columns: Int, columnStep: Int,
        channels: Int
    ) {
        let ld = samples * rows * columns
        CPUThreads.parallelRanges(channels, costPerItem: ld) { c0, c1 in
            ak_scatter_add_rect(
                src, ld, dst, sampleStride, channelStride, Int32(height), Int32(width), Int32(samples), Int32(row0), Int32(rows),
                Int32(rowStep), Int32(column0), Int32(columns), Int32(columnStep), c0, c1)
        }
    }

    /// Weights [O, C, taps] ⇄ [taps, O, C].
    private func repackTaps(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ g: ConvGeometry, inverse: Bool) {
        let taps = g.kernel.height * g.kernel.width
        CPUThreads.parallelRanges(g.outChannels, costPerItem: g.inChannels * taps) { o0, o1 in
            ak_repack_taps(src, g.outChannels, g.inChannels, taps, dst, inverse ? 1 : 0, o0, o1)
        }
    }

    /// Gathers, for samples [n0, n0 + count), the input values tap `r` reads ([C, n]).
    private func gatherInput(_ x: UnsafePointer<Float>, _ g: ConvGeometry, _ r: TapRect, _ n0: Int, _ count: Int, into dst: UnsafeMutablePointer<Float>) {
        let plane = g.inHeight * g.inWidth
        gatherRect(
            x + n0 * g.inChannels * plane, sampleStride: g.inChannels * plane, channelStride: plane, height: g.inHeight, width: g.inWidth,
            samples: count, row0: r.inputRow(g), rows: r.rows, rowStep: g.stride.height, column0: r.inputColumn(g),
            columns: r.columns, columnStep: g.stride.width, channels: g.inChannels, into: dst)
    }

    /// Gathers the outputs tap `r` covers ([O, n]) from NCHW `y`.
    private func gatherOutput(_ y: UnsafePointer<Float>, _ g: ConvGeometry, _ r: TapRect, _ n0: Int, _ count: Int, into dst: UnsafeMutablePointer<Float>) {
        let plane = g.outHeight * g.outWidth
        gatherRect(
            y + n0 * g.outChannels * plane, sampleStride: g.outChannels * plane, channelStride: plane, height: g.outHeight, width: g.outWidth,
            samples: count, row0: r.r0, rows: r.rows, rowStep: 1, column0: r.c0, columns: r.columns, columnStep: 1,
            channels: g.outChannels, into: dst)
    }

    private func conv2dByTaps(_ px: UnsafePointer<Float>, _ pw: UnsafePointer<Float>, _ po: UnsafeMutablePointer<Float>, _ g: ConvGeometry, _ plan: ConvPlan) {
        let O = g.outChannels, C = g.inChannels, P = plan.plane, weights = O * C * g.kernel.height * g.kernel.width
        let rects = TapRect.all(g).filter { $0.rows * $0.columns > 0 }
        ScratchPool.shared.withBuffer(weights + plan.chunk * P * (C + O)) { buffer in
            let wt = buffer, gathered = buffer + weights, products = gathered + plan.chunk * P * C
            repackTaps(pw, wt, g, inverse: false)
            for (n0, cs) in plan.chunks {
                let outChunk = po + n0 * O * P
                outChunk.update(repeating: 0, count: cs * O * P)
                for r in rects {
                    let n = cs * r.rows * r.columns
                    gatherInput(px, g, r, n0, cs, into: gathered)
                    BLAS.sgemm(
                        transposeA: false, transposeB: false, m: O, n: n, k: C, alpha: 1, a: wt + r.tap * O * C, lda: C,
                        b: gathered, ldb: n, beta: 0, c: products, ldc: n)
                    scatterAddRect(
                        products, into: outChunk, sampleStride: O * P, channelStride: P, height: g.outHeight, width: g.outWidth, samples: cs,
                        row0: r.r0, rows: r.rows, rowStep: 1, column0: r.c0, columns: r.columns, columnStep: 1, channels: O)
                }
            }
        }
    }

    private func conv2dBackwardInputByTaps(_ pg: UnsafePointer<Float>, _ pw: UnsafePointer<Float>, _ pd: UnsafeMutablePointer<Float>, _ g: ConvGeometry, _ plan: ConvPlan) {
        let O = g.outChannels, C = g.inChannels, P = plan.plane, weights = O * C * g.kernel.height * g.kernel.width
        let inPlane = g.inHeight * g.inWidth
        let rects = TapRect.all(g).filter { $0.rows * $0.columns > 0 }
        ScratchPool.shared.withBuffer(weights + plan.chunk * P * (C + O)) { buffer in
            let wt = buffer, gathered = buffer + weights, products = gathered + plan.chunk * P * C
            repackTaps(pw, wt, g, inverse: false)
            for (n0, cs) in plan.chunks {
                let inChunk = pd + n0 * C * inPlane
                inChunk.update(repeating: 0, count: cs * C * inPlane)
                for r in rects {
                    let n = cs * r.rows * r.columns
                    gatherOutput(pg, g, r, n0, cs, into: products)
                    BLAS.sgemm(
                        transposeA: true, transposeB: false, m: C, n: n, k: O, alpha: 1, a: wt + r.tap * O * C, lda: C,
                        b: products, ldb: n, beta: 0, c: gathered, ldc: n)
                    scatterAddRect(
                        gathered, into: inChunk, sampleStride: C * inPlane, channelStride: inPlane, height: g.inHeight, width: g.inWidth,
                        samples: cs, row0: r.inputRow(g), rows: r.rows, rowStep: g.stride.height, column0: r.inputColumn(g),
                        columns: r.columns, columnStep: g.stride.width, channels: C)
                }
            }
        }
    }

    private func conv2dBackwardWeightByTaps(_ px: UnsafePointer<Float>, _ pg: UnsafePointer<Float>, _ pd: UnsafeMutablePointer<Float>, _ g: ConvGeometry, _ plan: ConvPlan) {
        let O = g.outChannels, C = g.inChannels, P = plan.plane, weights = O * C * g.kernel.height * g.kernel.width
        let rects = TapRect.all(g).filter { $0.rows * $0.columns > 0 }
        ScratchPool.shared.withBuffer(weights + plan.chunk * P * (C + O)) { buffer in
            let wt = buffer, gathered = buffer + weights, products = gathered + plan.chunk * P * C
            wt.update(repeating: 0, count: weights)  // taps that never read input keep zero gradients
            for (n0, cs) in plan.chunks {
                for r in rects {
                    let n = cs * r.rows * r.columns
                    gatherInput(px, g, r, n0, cs, into: gathered)
                    gatherOutput(pg, g, r, n0, cs, into: products)
                    BLAS.sgemm(
                        transposeA: false, transposeB: true, m: O, n: C, k: n, alpha: 1, a: products, lda: n,
                        b: gathered, ldb: n, beta: 1, c: wt + r.tap * O * C, ldc: C)
                }
            }
            repackTaps(wt, pd, g, inverse: true)
        }
    }

    public func addChannelBias(_ bias: Tensor, to x: Tensor, layout: ChannelLayout) {
        let px = x.pointer, pb = UnsafePointer(bias.pointer)
        CPUThreads.parallelRanges(layout.outer * layout.channels, costPerItem: layout.inner) { i0, i1 in
            ak_add_channel_bias(px, pb, layout.channels, layout.inner, i0, i1)
        }
    }

    public func channelSum(_ x: Tensor, layout: ChannelLayout, into out: Tensor) {
        let px = UnsafePointer(x.pointer), po = out.pointer
        CPUThreads.parallelRanges(layout.channels, costPerItem: layout.reductionSize) { c0, c1 in
            ak_channel_sum(px, layout.outer, layout.channels, layout.inner, po, c0, c1)
        }
    }

    // MARK: Pooling

    public func maxPool2d(_ x: Tensor, windows: PoolWindows, into out: Tensor, indices: Tensor) {
        let px = UnsafePointer(x.pointer), po = out.pointer
        let pi = UnsafeMutableRawPointer(indices.pointer).assumingMemoryBound(to: Int32.self)
        let H = Int32(windows.inHeight), W = Int32(windows.inWidth)
        let Ho = Int32(windows.outHeight), Wo = Int32(windows.outWidth)
        let cost = windows.outHeight * windows.outWidth * 4
        if windows.isTwoByTwo {
            CPUThreads.parallelRanges(windows.planes, costPerItem: cost) { p0, p1 in
                ak_maxpool2x2(px, H, W, Ho, Wo, po, pi, p0, p1)
            }
            return
        }
        withWindows(windows) { hs, he, ws, we, _, _ in
            CPUThreads.parallelRanges(windows.planes, costPerItem: cost) { p0, p1 in
                ak_maxpool2d(px, H, W, Ho, Wo, hs, he, ws, we, po, pi, p0, p1)
            }
        }
    }

    public func maxPool2dBackward(_ gradOutput: Tensor, indices: Tensor, windows: PoolWindows, into gradInput: Tensor) {
        let pg = UnsafePointer(gradOutput.pointer), pd = gradInput.pointer
        let pi = UnsafeRawPointer(indices.pointer).assumingMemoryBound(to: Int32.self)
        CPUThreads.parallelRanges(windows.planes, costPerItem: windows.inHeight * windows.inWidth) { p0, p1 in
            ak_maxpool2d_backward(
                pg, pi, Int32(windows.inHeight), Int32(windows.inWidth), Int32(windows.outHeight),
                Int32(windows.outWidth), pd, p0, p1)
        }
    }

    public func avgPool2d(_ x: Tensor, windows: PoolWindows, into out: Tensor) {
        let px = UnsafePointer(x.pointer), po = out.pointer
        withWindows(windows) { hs, he, ws, we, rh, rw in
            CPUThreads.parallelRanges(windows.planes, costPerItem: windows.inHeight * windows.inWidth) { p0, p1 in
                ak_avgpool2d(
                    px, Int32(windows.inHeight), Int32(windows.inWidth), Int32(windows.outHeight),
                    Int32(windows.outWidth), hs, he, ws, we, rh, rw, po, p0, p1)
            }
        }
    }

    public func avgPool2dBackward(_ gradOutput: Tensor, windows: PoolWindows, into gradInput: Tensor) {
        let pg = UnsafePointer(gradOutput.pointer), pd = gradInput.pointer
        withWindows(windows) { hs, he, ws, we, rh, rw in
            CPUThreads.parallelRanges(windows.planes, costPerItem: windows.inHeight * windows.inWidth) { p0, p1 in
                ak_avgpool2d_backward(
                    pg, Int32(windows.inHeight), Int32(windows.inWidth), Int32(windows.outHeight),
                    Int32(windows.outWidth), hs, he, ws, we, rh, rw, pd, p0, p1)
            }
        }
    }

    private func withWindows<R>(
        _ w: PoolWindows,
        _ body: (UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Int32>,
                 UnsafePointer<Float>, UnsafePointer<Float>) -> R
    ) -> R {
        withTables([w.rows.start, w.rows.end, w.columns.start, w.columns.end], [w.rows.scale, w.columns.scale]) { i, f in
            body(i[0], i[1], i[2], i[3], f[0], f[1])
        }
    }

    // MARK: Batch normalisation

    public func batchNormTraining(
        _ x: Tensor, layout: ChannelLayout, weight: Tensor?, bias: Tensor?, epsilon: Float, relu: Bool,
        runningMean: Tensor?, runningVariance: Tensor?, momentum: Float,
        into out: Tensor, mean: Tensor, invStd: Tensor, variance: Tensor
    ) {
        let px = UnsafePointer(x.pointer), py = out.pointer
        let pw = weight.map { UnsafePointer($0.pointer) }, pb = bias.map { UnsafePointer($0.pointer) }
        let pm = mean.pointer, ps = invStd.pointer, pv = variance.pointer
        CPUThreads.parallelRanges(layout.channels, costPerItem: layout.reductionSize * 3) { c0, c1 in
            ak_bn_forward_train(
                px, layout.outer, layout.channels, layout.inner, pw, pb, epsilon, relu ? 1 : 0, py, pm, ps, pv, c0, c1)
        }
        let m = Float(layout.reductionSize)
        let unbias = m > 1 ? m / (m - 1) : 1
        if let runningMean {
            let r = runningMean.pointer
            for c in 0..<layout.channels { r[c] = (1 - momentum) * r[c] + momentum * pm[c] }
        }
        if let runningVariance {
            let r = runningVariance.pointer
            for c in 0..<layout.channels { r[c] = (1 - momentum) * r[c] + momentum * pv[c] * unbias }
        }
    }

    public func channelAffine(_ x: Tensor, layout: ChannelLayout, scale: Tensor, shift: Tensor, relu: Bool, into out: Tensor) {
        let px = UnsafePointer(x.pointer), py = out.pointer
        let pa = UnsafePointer(scale.pointer), pb = UnsafePointer(shift.pointer)
        CPUThreads.parallelRanges(layout.outer * layout.channels, costPerItem: layout.inner) { i0, i1 in
            ak_bn_apply(px, layout.channels, layout.inner, pa, pb, relu ? 1 : 0, py, i0, i1)
        }
    }

    public func batchNormBackward(
        _ gradOutput: Tensor, x: Tensor, layout: ChannelLayout, mean: Tensor, invStd: Tensor,
        weight: Tensor?, bias: Tensor?, relu: Bool, batchStatistics: Bool,
        gradInput: Tensor?, gradWeight: Tensor?, gradBias: Tensor?
    ) {
        let px = UnsafePointer(x.pointer), pg = UnsafePointer(gradOutput.pointer)
        let pm = UnsafePointer(mean.pointer), ps = UnsafePointer(invStd.pointer)
        let pw = weight.map { UnsafePointer($0.pointer) }, pb = bias.map { UnsafePointer($0.pointer) }
        let pdx = gradInput?.pointer, pdw = gradWeight?.pointer, pdb = gradBias?.pointer
        CPUThreads.parallelRanges(layout.channels, costPerItem: layout.reductionSize * 4) { c0, c1 in
            ak_bn_backward(
                px, pg, layout.outer, layout.channels, layout.inner, pm, ps, pw, pb, relu ? 1 : 0,
                batchStatistics ? 1 : 0, pdx, pdw, pdb, c0, c1)
        }
    }

    // MARK: Resampling

    public func upsampleNearest(_ x: Tensor, scale: Size2D, into out: Tensor) {
        let px = UnsafePointer(x.pointer), po = out.pointer
        let (planes, H, W) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        CPUThreads.parallelRanges(planes, costPerItem: out.count / max(planes, 1)) { p0, p1 in
            ak_upsample_nearest(px, Int32(H), Int32(W), Int32(scale.height), Int32(scale.width), po, p0, p1)
        }
    }

    public func upsampleNearestBackward(_ gradOutput: Tensor, scale: Size2D, into gradInput: Tensor) {
        let pg = UnsafePointer(gradOutput.pointer), pd = gradInput.pointer
        let s = gradInput.shape
        let (planes, H, W) = (s[0] * s[1], s[2], s[3])
        CPUThreads.parallelRanges(planes, costPerItem: gradOutput.count / max(planes, 1)) { p0, p1 in
            ak_upsample_nearest_backward(pg, Int32(H), Int32(W), Int32(scale.height), Int32(scale.width), pd, p0, p1)
        }
    }

    public func upsampleBilinear(_ x: Tensor, plan: ResamplePlan, into out: Tensor) {
        let px = UnsafePointer(x.pointer), po = out.pointer
        withPlan(plan) { h0, h1, lh, w0, w1, lw in
            CPUThreads.parallelRanges(plan.planes, costPerItem: plan.rows.outSize * plan.columns.outSize * 4) { p0, p1 in
                ak_resample_linear(
                    px, Int32(plan.rows.inSize), Int32(plan.columns.inSize), Int32(plan.rows.outSize),
                    Int32(plan.columns.outSize), h0, h1, lh, w0, w1, lw, po, p0, p1)
            }
        }
    }

    public func upsampleBilinearBackward(_ gradOutput: Tensor, plan: ResamplePlan, into gradInput: Tensor) {
        let pg = UnsafePointer(gradOutput.pointer), pd = gradInput.pointer
        withPlan(plan) { h0, h1, lh, w0, w1, lw in
            CPUThreads.parallelRanges(plan.planes, costPerItem: plan.rows.outSize * plan.columns.outSize * 4) { p0, p1 in
                ak_resample_linear_backward(
                    pg, Int32(plan.rows.inSize), Int32(plan.columns.inSize), Int32(plan.rows.outSize),
                    Int32(plan.columns.outSize), h0, h1, lh, w0, w1, lw, pd, p0, p1)
            }
        }
    }

    private func withPlan<R>(
        _ p: ResamplePlan,
        _ body: (UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Float>, UnsafePointer<Int32>,
                 UnsafePointer<Int32>, UnsafePointer<Float>) -> R
    ) -> R {
        withTables([p.rows.index0, p.rows.index1, p.columns.index0, p.columns.index1], [p.rows.weight, p.columns.weight]) { i, f in
            body(i[0], i[1], f[0], i[2], i[3], f[1])
        }
    }

    /// Calls `body` with pointers to copies of small per-axis tables (window bounds, source
    /// indices, weights), valid for the call.
    private func withTables<R>(
        _ ints: [[Int32]], _ floats: [[Float]], _ body: ([UnsafePointer<Int32>], [UnsafePointer<Float>]) -> R
    ) -> R {
        let intBlock = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, ints.reduce(0) { $0 + $1.count }))
        let floatBlock = UnsafeMutablePointer<Float>.allocate(capacity: max(1, floats.reduce(0) { $0 + $1.count }))
        defer {
            intBlock.deallocate()
            floatBlock.deallocate()
        }
        var intPointers: [UnsafePointer<Int32>] = [], floatPointers: [UnsafePointer<Float>] = []
        var offset = 0
        for table in ints {
            (intBlock + offset).initialize(from: table, count: table.count)
            intPointers.append(UnsafePointer(intBlock + offset))
            offset += table.count
        }
        offset = 0
        for table in floats {
            (floatBlock + offset).initialize(from: table, count: table.count)
            floatPointers.append(UnsafePointer(floatBlock + offset))
            offset += table.count
        }
        return body(intPointers, floatPointers)
    }

    // MARK: Fused element-wise

    public func addReLU(_ a: Tensor, _ b: Tensor, into out: Tensor) {
        let pa = UnsafePointer(a.pointer), pb = UnsafePointer(b.pointer), po = out.pointer
        CPUThreads.parallelRanges(out.count) { s, e in
            for i in s..<e {
                let v = pa[i] + pb[i]
                po[i] = v > 0 ? v : 0
            }
        }
    }

    public func reluBackward(_ gradOutput: Tensor, output: Tensor, into out: Tensor) {
        let pg = UnsafePointer(gradOutput.pointer), py = UnsafePointer(output.pointer), po = out.pointer
        CPUThreads.parallelRanges(out.count) { s, e in
            for i in s..<e { po[i] = py[i] > 0 ? pg[i] : 0 }
        }
    }
}
