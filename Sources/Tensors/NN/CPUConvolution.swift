import CKernels
import Dispatch
import Foundation

/// Tuning knobs of the CPU convolution (see `CPUConvolution`). Exposed for benchmarks.
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
    /// convolution's work on 4×4 maps), when they have at least `tapByTapMinimumChannels` input
    /// channels (with fewer, the per-tap GEMMs (K = C) are too small to pay: measured on
    /// ResNet-18/20 layer shapes).
    nonisolated(unsafe) public static var tapByTap = true
    nonisolated(unsafe) public static var tapByTapMinimumChannels = 256
    /// Convolutions whose weights have at most this many values split the batch over the cores
    /// (each core: its own samples, im2col and single-threaded GEMMs, and its own weight-gradient
    /// partial); larger ones split each GEMM instead.
    nonisolated(unsafe) public static var sampleParallelWeightLimit = 1 << 20
    /// Stride-1 convolutions with at least 8 input channels compute their input gradient as a
    /// convolution of the output gradient with the flipped, transposed weights
    /// (`ConvGeometry.inputGradientConvolution`; with fewer input channels, that convolution's
    /// GEMM is too thin: 2.7× slower on the 3-channel ResNet stem).
    nonisolated(unsafe) public static var stride1InputGradientAsConvolution = true

    public static func takesFlippedInputGradient(_ g: ConvGeometry) -> Bool {
        stride1InputGradientAsConvolution && g.inChannels >= 8 && g.inputGradientConvolution != nil
    }
    /// Convolutions that `takesImplicitGEMM` accepts run on the implicit-GEMM kernel (no im2col
    /// matrix); `implicitGEMMWeightLimit` bounds their weights (values).
    nonisolated(unsafe) public static var implicitGEMM = true
    nonisolated(unsafe) public static var implicitGEMMWeightLimit = 1 << 20

    /// Whether a convolution's forward pass and input gradient take the implicit-GEMM kernel
    /// (conv_igemm.c): AVX-512, width stride 1, output width a multiple of 8 and plane of 16, a
    /// kernel larger than 1×1 (pointwise convolutions already are one GEMM), at least 8 output
    /// channels, and at most `implicitGEMMWeightLimit` weights (every 32-pixel panel streams
    /// them from cache; ResNet-18's 256-channel 8×8 layers, 2.4 MB of weights, still gain 1.2×).
    public static func takesImplicitGEMM(_ g: ConvGeometry) -> Bool {
        (forced.implicitGEMM ?? implicitGEMM) && ak_igemm_available() != 0 && g.stride.width == 1 && g.outWidth % 8 == 0
            && (g.outHeight * g.outWidth) % 16 == 0 && g.outHeight > 0 && g.kernel.height * g.kernel.width > 1
            && g.outChannels >= 8 && g.outChannels * g.patchSize <= implicitGEMMWeightLimit
            && g.inChannels * (g.inHeight + 2 * g.padding.height) * (g.inWidth + 2 * g.padding.width) < Int(Int32.max)
    }

    /// Samples the implicit weight gradient takes at a time (their padded inputs and output
    /// gradients fit `implicitWeightGradientGroupBytes`, so they stay in L2), or nil when such a
    /// group has under `implicitWeightGradientMinimumVectors` 16-pixel vectors (each tile's lane
    /// sums would be reduced too often to beat im2col + GEMM) or the output channels are not a
    /// multiple of 4.
    public static func implicitWeightGradientGroup(_ g: ConvGeometry) -> Int? {
        guard takesImplicitGEMM(g), g.outChannels % 4 == 0 else { return nil }
        let padded = g.inChannels * (g.inHeight + 2 * g.padding.height) * (g.inWidth + 2 * g.padding.width)
        let plane = g.outHeight * g.outWidth
        let bytes = (padded + g.outChannels * plane) * MemoryLayout<Float>.stride
        let group = max(1, implicitWeightGradientGroupBytes / bytes)
        return group * plane / 16 >= (forced.implicitWeightGradientMinimumVectors ?? implicitWeightGradientMinimumVectors) ? group : nil
    }

    /// Kernel-path choices for the current task only, over the globals above: a test forces a
    /// path with `ConvolutionTuning.$forced.withValue(…)` while other tests keep running on the
    /// globals with their numerics unchanged. Read on the calling thread, before the work is
    /// split over the cores.
    public struct Forced: Sendable {
        public var implicitGEMM: Bool?
        public var implicitWeightGradientMinimumVectors: Int?

        public init(implicitGEMM: Bool? = nil, implicitWeightGradientMinimumVectors: Int? = nil) {
            self.implicitGEMM = implicitGEMM
            self.implicitWeightGradientMinimumVectors = implicitWeightGradientMinimumVectors
        }
    }
    @TaskLocal public static var forced = Forced()
    nonisolated(unsafe) public static var implicitWeightGradientGroupBytes = 1 << 20
    nonisolated(unsafe) public static var implicitWeightGradientMinimumVectors = 48
}

/// A few reusable scratch blocks for convolution (im2col columns, staged outputs, repacked
/// weights). Kept out of the tensor caching allocator so differently shaped layers share the
/// same warm pages instead of each pinning its own blocks. Thread-safe.
final class ScratchPool: @unchecked Sendable {
    static let shared = ScratchPool()
    private var free: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []
    private let lock = NSLock()
    private let keep = 6

    func withBuffer<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let n = max(count, 16)
        lock.lock()
        var block: (pointer: UnsafeMutablePointer<Float>, capacity: Int)?
        if let i = free.indices.filter({ free[$0].capacity >= n }).min(by: { free[$0].capacity < free[$1].capacity }) {
            block = free.remove(at: i)
        } else if free.count >= keep, let i = free.indices.max(by: { free[$0].capacity < free[$1].capacity }) {
            // Too small for this call: drop the largest smaller block, it is replaced below.
            Foundation.free(free.remove(at: i).pointer)
        }
        lock.unlock()
        if block == nil {
            var raw: UnsafeMutableRawPointer?
            guard posix_memalign(&raw, 64, n * MemoryLayout<Float>.stride) == 0, let raw else {
                OutOfMemory.handler(n * 4, "convolution scratch")
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

/// How a convolution walks its samples: chunks whose im2col matrix [C·kh·kw, chunk·P] fits the
/// workspace. `direct`: each sample is multiplied straight into NCHW; otherwise the chunk's
/// output [O, chunk·P] is staged after the columns and scattered; `byTaps`: tap by tap. The
/// path depends on the geometry only; the chunks on the number of samples.
struct ConvPlan {
    let patch: Int  // K = C·kh·kw
    let plane: Int  // P = Ho·Wo
    let inChannels: Int
    let outChannels: Int
    let chunk: Int
    let direct: Bool
    let byTaps: Bool
    let chunks: [(start: Int, count: Int)]
    var columnCount: Int { patch * chunk * plane }
    var stagingCount: Int { direct || chunk == 1 ? 0 : outChannels * chunk * plane }

    /// `like`: take the path chosen for another plan of the same call (the tuning knobs are read
    /// once per call).
    init(_ g: ConvGeometry, samples: Int, like other: ConvPlan? = nil) {
        patch = g.patchSize
        plane = g.outHeight * g.outWidth
        inChannels = g.inChannels
        outChannels = g.outChannels
        direct = other?.direct ?? (plane >= ConvolutionTuning.directPlaneSize)
        byTaps =
            other?.byTaps
            ?? (!direct && ConvolutionTuning.tapByTap && g.inChannels >= ConvolutionTuning.tapByTapMinimumChannels
                && g.kernel.height * g.kernel.width > 1 && (g.padding.height > 0 || g.padding.width > 0))
        let perSampleFloats =
            byTaps ? (g.inChannels + outChannels) * plane : patch * plane + (direct ? 0 : outChannels * plane)
        let perSample = max(1, perSampleFloats * MemoryLayout<Float>.stride)
        var most = ConvolutionTuning.workspaceBytes / perSample
        if !direct {
            let wanted = (ConvolutionTuning.minimumStagedColumns + plane - 1) / plane
            most = max(most, min(wanted, ConvolutionTuning.maximumWorkspaceBytes / perSample))
        }
        most = max(1, min(samples, most))
        // Balanced chunks: as few as the budget allows, sizes differing by at most one.
        let count = (samples + most - 1) / most
        var list: [(Int, Int)] = []
        for i in 0..<count {
            let s = samples * i / count
            let e = samples * (i + 1) / count
            if e > s { list.append((s, e - s)) }
        }
        chunks = list
        chunk = list.map(\.1).max() ?? 1
    }

    /// Scratch floats one pass over these samples needs.
    var scratchCount: Int {
        byTaps ? chunk * plane * (inChannels + outChannels) : columnCount + stagingCount
    }
}

/// The outputs at which kernel tap (ki, kj) reads inside the input rather than padding:
/// rows r0 ..< r0 + rows, columns c0 ..< c0 + columns.
struct TapRect {
    let tap: Int, ki: Int, kj: Int
    let r0: Int, rows: Int, c0: Int, columns: Int

    /// The taps that read any input.
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
                if rows > 0 && columns > 0 {
                    rects.append(
                        TapRect(
                            tap: ki * g.kernel.width + kj, ki: ki, kj: kj, r0: r0, rows: rows, c0: c0, columns: columns)
                    )
                }
            }
        }
        return rects
    }

    /// First input row/column read, for the rectangle's first output.
    func inputRow(_ g: ConvGeometry) -> Int { r0 * g.stride.height - g.padding.height + ki }
    func inputColumn(_ g: ConvGeometry) -> Int { c0 * g.stride.width - g.padding.width + kj }
}

/// The CPU convolution. On AVX-512 machines, convolutions with width stride 1 and output rows
/// that are multiples of 8 wide (most 3×3 layers of the CIFAR ResNets) run on the implicit-GEMM
/// kernels of conv_igemm.c (`ConvolutionTuning.takesImplicitGEMM`): no im2col matrix, forward and
/// weight gradient, and stride-1 input gradients as a convolution with flipped weights. The rest
/// use im2col + GEMM (OpenBLAS), or tap by tap for small padded planes:
///
/// The batch is split over the cores when the weights are small enough (each worker runs its
/// own samples with single-threaded kernels and GEMMs: no synchronisation inside the call);
/// otherwise one pass runs with each GEMM and kernel split over the cores. Within a pass the
/// samples go in chunks (`ConvPlan`) so scratch stays bounded and in cache.
struct CPUConvolution {
    let g: ConvGeometry
    let plan: ConvPlan
    /// Inside a worker: kernels and GEMMs run on the calling thread only.
    let serial: Bool

    init(_ g: ConvGeometry, samples: Int, serial: Bool, like path: ConvPlan) {
        self.g = g
        self.plan = ConvPlan(g, samples: samples, like: path)
        self.serial = serial
    }

    // MARK: Drivers

    /// Contiguous sample ranges, one per worker; a single range means "split each GEMM".
    static func sampleRanges(_ g: ConvGeometry) -> [Range<Int>] {
        let workers = min(CPUThreads.count, g.batch)
        if workers <= 1 || g.outChannels * g.patchSize > ConvolutionTuning.sampleParallelWeightLimit {
            return [0..<g.batch]
        }
        return (0..<workers).map { (g.batch * $0 / workers)..<(g.batch * ($0 + 1) / workers) }
    }

    /// Runs `body(pass, range, worker)` over `ranges`, in parallel when there are several; every
    /// pass takes the path of `path`. (Tuning knobs should be set before convolutions run; each
    /// call reads them once.)
    static func run(
        _ g: ConvGeometry, _ path: ConvPlan, _ ranges: [Range<Int>], _ body: (CPUConvolution, Range<Int>, Int) -> Void
    ) {
        if ranges.count == 1 {
            body(CPUConvolution(g, samples: g.batch, serial: false, like: path), ranges[0], 0)
            return
        }
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let work = body
            let level = ak_nn_thread_cpu_level()
            DispatchQueue.concurrentPerform(iterations: ranges.count) { i in
                CPUThreads.inheritingKernelLevel(level) {
                    work(CPUConvolution(g, samples: ranges[i].count, serial: true, like: path), ranges[i], i)
                }
            }
        }
    }

    /// The weights as the passes of `path` read them: repacked to [tap, O, C] tap by tap.
    static func withPreparedWeights<R>(
        _ w: UnsafePointer<Float>, _ g: ConvGeometry, _ path: ConvPlan, _ body: (UnsafePointer<Float>) -> R
    ) -> R {
        guard path.byTaps else { return body(w) }
        return ScratchPool.shared.withBuffer(g.outChannels * g.patchSize) { packed in
            repackTaps(w, packed, g, inverse: false)
            return body(packed)
        }
    }

    static func forward(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ g: ConvGeometry
    ) {
        if ConvolutionTuning.takesImplicitGEMM(g) { return implicitGEMMForward(x, w, out, g) }
        let path = ConvPlan(g, samples: 1)
        withPreparedWeights(w, g, path) { w in
            nonisolated(unsafe) let (x, w, out) = (x, w, out)
            run(g, path, sampleRanges(g)) { pass, range, _ in pass.forward(x, w, out, range) }
        }
    }

    static func backwardInput(
        _ gy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>, _ g: ConvGeometry
    ) {
        if ConvolutionTuning.takesFlippedInputGradient(g), let t = g.inputGradientConvolution {
            // dX = dY ⋆ flip(Wᵀ): im2col of dY and a GEMM with K = O·kh·kw, instead of a GEMM with
            // K = O (low arithmetic intensity) writing C·kh·kw columns per pixel and a col2im.
            let taps = g.kernel.height * g.kernel.width
            ScratchPool.shared.withBuffer(g.outChannels * g.patchSize) { flipped in
                CPUThreads.parallelRanges(g.outChannels, costPerItem: g.patchSize) { o0, o1 in
                    for o in o0..<o1 {
                        for c in 0..<g.inChannels {
                            let src = w + (o * g.inChannels + c) * taps
                            let dst = flipped + (c * g.outChannels + o) * taps
                            for k in 0..<taps { dst[k] = src[taps - 1 - k] }
                        }
                    }
                }
                forward(gy, UnsafePointer(flipped), gx, t)
            }
            return
        }
        let path = ConvPlan(g, samples: 1)
        withPreparedWeights(w, g, path) { w in
            nonisolated(unsafe) let (gy, w, gx) = (gy, w, gx)
            run(g, path, sampleRanges(g)) { pass, range, _ in pass.backwardInput(gy, w, gx, range) }
        }
    }

    /// gradWeight [O, C, kh, kw] = Σ over the batch; each worker fills its own partial in the
    /// layout its pass accumulates in, then the partials are summed and laid out.
    static func backwardWeight(
        _ x: UnsafePointer<Float>, _ gy: UnsafePointer<Float>, _ gw: UnsafeMutablePointer<Float>, _ g: ConvGeometry
    ) {
        let count = g.outChannels * g.patchSize
        if g.batch == 0 {
            gw.update(repeating: 0, count: count)
            return
        }
        if let group = ConvolutionTuning.implicitWeightGradientGroup(g) {
            return implicitGEMMBackwardWeight(x, gy, gw, g, group: group)
        }
        let ranges = sampleRanges(g)
        let workers = ranges.count
        let path = ConvPlan(g, samples: 1)
        ScratchPool.shared.withBuffer(workers * count) { partials in
            nonisolated(unsafe) let (x, gy, partials) = (x, gy, partials)
            run(g, path, ranges) { pass, range, worker in
                pass.backwardWeight(x, gy, range, into: partials + worker * count)
            }
            for w in 1..<max(workers, 1) {
                let p = partials + w * count
                for i in 0..<count { partials[i] += p[i] }
            }
            if path.byTaps {
                repackTaps(partials, gw, g, inverse: true)
            } else if path.direct {
                // Accumulated as [K, O].
                let O = g.outChannels
                let K = g.patchSize
                for k in 0..<K {
                    for o in 0..<O { gw[o * K + k] = partials[k * O + o] }
                }
            } else {
                gw.update(from: partials, count: count)
            }
        }
    }

    // MARK: Implicit GEMM

    static func implicitGEMMForward(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ g: ConvGeometry
    ) {
        let K = g.patchSize
        let O = g.outChannels
        let items = g.batch * ((g.outHeight * g.outWidth + 31) / 32)
        let packedCount = (O + 7) / 8 * 8 * K
        let workspace = ak_igemm_conv_workspace(
            Int32(g.inChannels), Int32(g.inHeight), Int32(g.inWidth), Int32(g.kernel.height), Int32(g.kernel.width),
            Int32(g.padding.height), Int32(g.padding.width))
        let workers = max(1, min(CPUThreads.count, items))
        // Packed weights, then one workspace per worker (each a multiple of 16 floats: aligned).
        ScratchPool.shared.withBuffer((packedCount + 15) / 16 * 16 + workers * workspace) { buffer in
            ak_igemm_pack_weights(w, O, K, buffer)
            nonisolated(unsafe) let (x, out, buffer) = (x, out, buffer)
            let spaces = buffer + (packedCount + 15) / 16 * 16
            CPUThreads.parallelRanges(workers, costPerItem: 1 << 20) { w0, w1 in
                for w in w0..<w1 {
                    ak_igemm_conv(
                        x, buffer, out, Int32(g.inChannels), Int32(g.inHeight), Int32(g.inWidth), Int32(O),
                        Int32(g.kernel.height), Int32(g.kernel.width), Int32(g.stride.height), Int32(g.padding.height),
                        Int32(g.padding.width), Int32(g.outHeight), Int32(g.outWidth), spaces + w * workspace,
                        items * w / workers, items * (w + 1) / workers)
                }
            }
        }
    }

    /// Each core sums its samples' weight gradients into its own partial; the partials are added.
    static func implicitGEMMBackwardWeight(
        _ x: UnsafePointer<Float>, _ gy: UnsafePointer<Float>, _ gw: UnsafeMutablePointer<Float>, _ g: ConvGeometry,
        group: Int
    ) {
        let count = g.outChannels * g.patchSize
        let workers = max(1, min(CPUThreads.count, g.batch))
        let workspace = ak_igemm_wgrad_workspace(
            Int32(g.inChannels), Int32(g.inHeight), Int32(g.inWidth), Int32(g.kernel.height), Int32(g.kernel.width),
            Int32(g.padding.height), Int32(g.padding.width), Int32(g.outHeight), Int32(g.outWidth), group)
        let partialCount = (count + 15) / 16 * 16
        // One partial and one workspace per worker.
        ScratchPool.shared.withBuffer(workers * (partialCount + workspace)) { buffer in
            nonisolated(unsafe) let (x, gy, buffer) = (x, gy, buffer)
            let spaces = buffer + workers * partialCount
            CPUThreads.parallelRanges(workers, costPerItem: 1 << 20) { w0, w1 in
                for w in w0..<w1 {
                    ak_igemm_conv_wgrad(
                        x, gy, buffer + w * partialCount, Int32(g.inChannels), Int32(g.inHeight), Int32(g.inWidth),
                        Int32(g.outChannels), Int32(g.kernel.height), Int32(g.kernel.width), Int32(g.stride.height),
                        Int32(g.padding.height), Int32(g.padding.width), Int32(g.outHeight), Int32(g.outWidth),
                        group, spaces + w * workspace, g.batch * w / workers, g.batch * (w + 1) / workers)
                }
            }
            gw.update(from: buffer, count: count)
            for w in 1..<workers {
                let p = buffer + w * partialCount
                for i in 0..<count { gw[i] += p[i] }
            }
        }
    }

    // MARK: Helpers

    func gemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if serial {
            BLAS.sgemmSingle(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b,
                ldb: ldb,
                beta: beta, c: c, ldc: ldc)
        } else {
            BLAS.sgemm(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a, lda: lda, b: b,
                ldb: ldb,
                beta: beta, c: c, ldc: ldc)
        }
    }

    func parallel(_ n: Int, cost: Int, _ body: (Int, Int) -> Void) {
        if serial { body(0, n) } else { CPUThreads.parallelRanges(n, costPerItem: cost, body) }
    }

    /// im2col of samples [n0, n0 + count) into `col` [K, count·P].
    func im2col(_ x: UnsafePointer<Float>, _ n0: Int, _ count: Int, _ col: UnsafeMutablePointer<Float>) {
        let sample = g.inChannels * g.inHeight * g.inWidth
        let P = plan.plane
        let g = self.g
        parallel(count * g.inChannels, cost: g.kernel.height * g.kernel.width * P) { i0, i1 in
            ak_im2col(
                x + n0 * sample, Int32(g.inChannels), Int32(g.inHeight), Int32(g.inWidth),
                Int32(g.kernel.height), Int32(g.kernel.width), Int32(g.stride.height), Int32(g.stride.width),
                Int32(g.padding.height), Int32(g.padding.width), Int32(g.outHeight), Int32(g.outWidth),
                col, count * P, i0, i1)
        }
    }

    /// col2im of `col` [K, count·P] into samples [n0, n0 + count) of `x` (overwritten).
    func col2im(_ col: UnsafePointer<Float>, _ n0: Int, _ count: Int, _ x: UnsafeMutablePointer<Float>) {
        let sample = g.inChannels * g.inHeight * g.inWidth
        let P = plan.plane
        let g = self.g
        parallel(count * g.inChannels, cost: g.kernel.height * g.kernel.width * P) { i0, i1 in
            ak_col2im(
                col, count * P, Int32(g.inChannels), Int32(g.inHeight), Int32(g.inWidth),
                Int32(g.kernel.height), Int32(g.kernel.width), Int32(g.stride.height), Int32(g.stride.width),
                Int32(g.padding.height), Int32(g.padding.width), Int32(g.outHeight), Int32(g.outWidth),
                x + n0 * sample, i0, i1)
        }
    }

    /// NCHW samples [n0, n0 + count) of `nchw` ([N, O, P]) ⇄ staging [O, count·P].
    func stage(
        _ nchw: UnsafeMutablePointer<Float>, _ staging: UnsafeMutablePointer<Float>, n0: Int, count: Int,
        toStaging: Bool
    ) {
        let channels = g.outChannels
        let plane = plan.plane
        parallel(count * channels, cost: plane) { i0, i1 in
            for item in i0..<i1 {
                let s = item / channels
                let o = item % channels
                let a = nchw + (n0 + s) * channels * plane + o * plane
                let b = staging + o * count * plane + s * plane
                if toStaging { b.update(from: a, count: plane) } else { a.update(from: b, count: plane) }
            }
        }
    }

    // MARK: Passes over samples `range`

    func forward(
        _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ range: Range<Int>
    ) {
        let O = g.outChannels
        let K = plan.patch
        let P = plan.plane
        let C = g.inChannels
        if plan.byTaps { return forwardByTaps(x, w, out, range) }
        if g.isPointwise && plan.direct {
            for n in range {
                gemm(m: O, n: P, k: C, a: w, lda: C, b: x + n * C * P, ldb: P, c: out + n * O * P, ldc: P)
            }
            return
        }
        ScratchPool.shared.withBuffer(plan.scratchCount) { col in
            let staging = col + plan.columnCount
            for (c0, cs) in plan.chunks {
                let n0 = range.lowerBound + c0
                let ld = cs * P
                im2col(x, n0, cs, col)
                if plan.direct || cs == 1 {
                    for s in 0..<cs {
                        gemm(m: O, n: P, k: K, a: w, lda: K, b: col + s * P, ldb: ld, c: out + (n0 + s) * O * P, ldc: P)
                    }
                } else {
                    gemm(m: O, n: ld, k: K, a: w, lda: K, b: col, ldb: ld, c: staging, ldc: ld)
                    stage(out, staging, n0: n0, count: cs, toStaging: false)
                }
            }
        }
    }

    func backwardInput(
        _ gy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>, _ range: Range<Int>
    ) {
        let O = g.outChannels
        let K = plan.patch
        let P = plan.plane
        let C = g.inChannels
        if plan.byTaps { return backwardInputByTaps(gy, w, gx, range) }
        if g.isPointwise && plan.direct {
            for n in range {
                gemm(
                    transposeA: true, m: C, n: P, k: O, a: w, lda: C, b: gy + n * O * P, ldb: P, c: gx + n * C * P,
                    ldc: P)
            }
            return
        }
        ScratchPool.shared.withBuffer(plan.scratchCount) { col in
            let staging = col + plan.columnCount
            for (c0, cs) in plan.chunks {
                let n0 = range.lowerBound + c0
                let ld = cs * P
                if plan.direct || cs == 1 {
                    for s in 0..<cs {
                        gemm(
                            transposeA: true, m: K, n: P, k: O, a: w, lda: K, b: gy + (n0 + s) * O * P, ldb: P,
                            c: col + s * P, ldc: ld)
                    }
                } else {
                    stage(UnsafeMutablePointer(mutating: gy), staging, n0: n0, count: cs, toStaging: true)
                    gemm(transposeA: true, m: K, n: ld, k: O, a: w, lda: K, b: staging, ldb: ld, c: col, ldc: ld)
                }
                col2im(col, n0, cs, gx)
            }
        }
    }

    /// The weight gradient of samples `range`, overwriting `partial`: [K, O] on the direct
    /// path (OpenBLAS runs col·dYᵀ faster than dY·colᵀ there), [tap, O, C] tap by tap,
    /// [O, K] otherwise.
    func backwardWeight(
        _ x: UnsafePointer<Float>, _ gy: UnsafePointer<Float>, _ range: Range<Int>,
        into partial: UnsafeMutablePointer<Float>
    ) {
        let O = g.outChannels
        let K = plan.patch
        let P = plan.plane
        let C = g.inChannels
        if plan.byTaps { return backwardWeightByTaps(x, gy, range, into: partial) }
        var first = true
        if plan.direct {
            let columnCount = g.isPointwise ? 0 : plan.columnCount
            ScratchPool.shared.withBuffer(columnCount) { col in
                for (c0, cs) in plan.chunks {
                    let n0 = range.lowerBound + c0
                    if !g.isPointwise { im2col(x, n0, cs, col) }
                    let ld = g.isPointwise ? P : cs * P
                    for s in 0..<cs {
                        let b = g.isPointwise ? x + (n0 + s) * C * P : UnsafePointer(col + s * P)
                        gemm(
                            transposeB: true, m: K, n: O, k: P, a: b, lda: ld, b: gy + (n0 + s) * O * P, ldb: P,
                            beta: first ? 0 : 1, c: partial, ldc: O)
                        first = false
                    }
                }
            }
            return
        }
        ScratchPool.shared.withBuffer(plan.scratchCount) { col in
            let staging = col + plan.columnCount
            for (c0, cs) in plan.chunks {
                let n0 = range.lowerBound + c0
                let ld = cs * P
                im2col(x, n0, cs, col)
                let a: UnsafePointer<Float>
                if cs == 1 {
                    a = gy + n0 * O * P
                } else {
                    stage(UnsafeMutablePointer(mutating: gy), staging, n0: n0, count: cs, toStaging: true)
                    a = UnsafePointer(staging)
                }
                gemm(
                    transposeB: true, m: O, n: K, k: ld, a: a, lda: ld, b: col, ldb: ld, beta: first ? 0 : 1,
                    c: partial, ldc: K)
                first = false
            }
        }
    }

    // MARK: Tap by tap

    // For small padded planes: out += W[:, :, ki, kj] · (x shifted by the tap), over only the
    // outputs where the tap reads real input (`TapRect`): each tap is a GEMM with K = C on
    // gathered rectangles, so nothing is multiplied by padding. Weights come repacked to
    // [tap, O, C].

    func gatherRect(
        _ src: UnsafePointer<Float>, sampleStride: Int, channelStride: Int, height: Int, width: Int, samples: Int,
        row0: Int, rows: Int, rowStep: Int, column0: Int, columns: Int, columnStep: Int, channels: Int,
        into dst: UnsafeMutablePointer<Float>
    ) {
        let ld = samples * rows * columns
        parallel(channels, cost: ld) { c0, c1 in
            ak_gather_rect(
                src, sampleStride, channelStride, Int32(height), Int32(width), Int32(samples), Int32(row0), Int32(rows),
                Int32(rowStep), Int32(column0), Int32(columns), Int32(columnStep), dst, ld, c0, c1)
        }
    }

    func scatterAddRect(
        _ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, sampleStride: Int, channelStride: Int,
        height: Int, width: Int, samples: Int, row0: Int, rows: Int, rowStep: Int, column0: Int, columns: Int,
        columnStep: Int, channels: Int
    ) {
        let ld = samples * rows * columns
        parallel(channels, cost: ld) { c0, c1 in
            ak_scatter_add_rect(
                src, ld, dst, sampleStride, channelStride, Int32(height), Int32(width), Int32(samples), Int32(row0),
                Int32(rows), Int32(rowStep), Int32(column0), Int32(columns), Int32(columnStep), c0, c1)
        }
    }

    /// Weights [O, C, taps] ⇄ [taps, O, C].
    static func repackTaps(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ g: ConvGeometry, inverse: Bool
    ) {
        let taps = g.kernel.height * g.kernel.width
        CPUThreads.parallelRanges(g.outChannels, costPerItem: g.inChannels * taps) { o0, o1 in
            ak_repack_taps(src, g.outChannels, g.inChannels, taps, dst, inverse ? 1 : 0, o0, o1)
        }
    }

    /// The input values tap `r` reads for samples [n0, n0 + count), as [C, n].
    func gatherInput(
        _ x: UnsafePointer<Float>, _ r: TapRect, _ n0: Int, _ count: Int, into dst: UnsafeMutablePointer<Float>
    ) {
        let plane = g.inHeight * g.inWidth
        gatherRect(
            x + n0 * g.inChannels * plane, sampleStride: g.inChannels * plane, channelStride: plane, height: g.inHeight,
            width: g.inWidth, samples: count, row0: r.inputRow(g), rows: r.rows, rowStep: g.stride.height,
            column0: r.inputColumn(g), columns: r.columns, columnStep: g.stride.width, channels: g.inChannels, into: dst
        )
    }

    /// The outputs tap `r` covers, as [O, n], from NCHW `y`.
    func gatherOutput(
        _ y: UnsafePointer<Float>, _ r: TapRect, _ n0: Int, _ count: Int, into dst: UnsafeMutablePointer<Float>
    ) {
        let plane = plan.plane
        gatherRect(
            y + n0 * g.outChannels * plane, sampleStride: g.outChannels * plane, channelStride: plane,
            height: g.outHeight,
            width: g.outWidth, samples: count, row0: r.r0, rows: r.rows, rowStep: 1, column0: r.c0, columns: r.columns,
            columnStep: 1, channels: g.outChannels, into: dst)
    }

    func forwardByTaps(
        _ x: UnsafePointer<Float>, _ wt: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ range: Range<Int>
    ) {
        let O = g.outChannels
        let C = g.inChannels
        let P = plan.plane
        let rects = TapRect.all(g)
        ScratchPool.shared.withBuffer(plan.scratchCount) { buffer in
            let gathered = buffer
            let products = buffer + plan.chunk * P * C
            for (c0, cs) in plan.chunks {
                let n0 = range.lowerBound + c0
                let outChunk = out + n0 * O * P
                outChunk.update(repeating: 0, count: cs * O * P)
                for r in rects {
                    let n = cs * r.rows * r.columns
                    gatherInput(x, r, n0, cs, into: gathered)
                    gemm(m: O, n: n, k: C, a: wt + r.tap * O * C, lda: C, b: gathered, ldb: n, c: products, ldc: n)
                    scatterAddRect(
                        products, into: outChunk, sampleStride: O * P, channelStride: P, height: g.outHeight,
                        width: g.outWidth, samples: cs, row0: r.r0, rows: r.rows, rowStep: 1, column0: r.c0,
                        columns: r.columns, columnStep: 1, channels: O)
                }
            }
        }
    }

    func backwardInputByTaps(
        _ gy: UnsafePointer<Float>, _ wt: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>, _ range: Range<Int>
    ) {
        let O = g.outChannels
        let C = g.inChannels
        let P = plan.plane
        let inPlane = g.inHeight * g.inWidth
        let rects = TapRect.all(g)
        ScratchPool.shared.withBuffer(plan.scratchCount) { buffer in
            let gathered = buffer
            let products = buffer + plan.chunk * P * C
            for (c0, cs) in plan.chunks {
                let n0 = range.lowerBound + c0
                let inChunk = gx + n0 * C * inPlane
                inChunk.update(repeating: 0, count: cs * C * inPlane)
                for r in rects {
                    let n = cs * r.rows * r.columns
                    gatherOutput(gy, r, n0, cs, into: products)
                    gemm(
                        transposeA: true, m: C, n: n, k: O, a: wt + r.tap * O * C, lda: C, b: products, ldb: n,
                        c: gathered, ldc: n)
                    scatterAddRect(
                        gathered, into: inChunk, sampleStride: C * inPlane, channelStride: inPlane, height: g.inHeight,
                        width: g.inWidth, samples: cs, row0: r.inputRow(g), rows: r.rows, rowStep: g.stride.height,
                        column0: r.inputColumn(g), columns: r.columns, columnStep: g.stride.width, channels: C)
                }
            }
        }
    }

    func backwardWeightByTaps(
        _ x: UnsafePointer<Float>, _ gy: UnsafePointer<Float>, _ range: Range<Int>,
        into partial: UnsafeMutablePointer<Float>
    ) {
        let O = g.outChannels
        let C = g.inChannels
        let P = plan.plane
        partial.update(repeating: 0, count: O * plan.patch)  // taps that never read input keep zero gradients
        let rects = TapRect.all(g)
        ScratchPool.shared.withBuffer(plan.scratchCount) { buffer in
            let gathered = buffer
            let products = buffer + plan.chunk * P * C
            for (c0, cs) in plan.chunks {
                let n0 = range.lowerBound + c0
                for r in rects {
                    let n = cs * r.rows * r.columns
                    gatherInput(x, r, n0, cs, into: gathered)
                    gatherOutput(gy, r, n0, cs, into: products)
                    gemm(
                        transposeB: true, m: O, n: C, k: n, a: products, lda: n, b: gathered, ldb: n, beta: 1,
                        c: partial + r.tap * O * C, ldc: C)
                }
            }
        }
    }
}
