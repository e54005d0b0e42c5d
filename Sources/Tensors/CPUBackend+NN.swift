import CKernels
import Foundation

extension CPUBackend {
    // MARK: Convolution (im2col/tap-by-tap + GEMM; see NN/CPUConvolution.swift)

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvGeometry, into out: Tensor) {
        CPUConvolution.forward(UnsafePointer(x.pointer), UnsafePointer(weight.pointer), out.pointer, g)
        if let bias {
            addChannelBias(
                bias, to: out,
                layout: ChannelLayout(outer: g.batch, channels: g.outChannels, inner: g.outHeight * g.outWidth))
        }
    }

    public func conv2dBackwardInput(
        _ gradOutput: Tensor, weight: Tensor, geometry g: ConvGeometry, into gradInput: Tensor
    ) {
        CPUConvolution.backwardInput(
            UnsafePointer(gradOutput.pointer), UnsafePointer(weight.pointer), gradInput.pointer, g)
    }

    public func conv2dBackwardWeight(_ x: Tensor, gradOutput: Tensor, geometry g: ConvGeometry, into gradWeight: Tensor)
    {
        CPUConvolution.backwardWeight(
            UnsafePointer(x.pointer), UnsafePointer(gradOutput.pointer), gradWeight.pointer, g)
    }

    public func addChannelBias(_ bias: Tensor, to x: Tensor, layout: ChannelLayout) {
        let px = x.pointer
        let pb = UnsafePointer(bias.pointer)
        CPUThreads.parallelRanges(layout.outer * layout.channels, costPerItem: layout.inner) { i0, i1 in
            ak_add_channel_bias(px, pb, layout.channels, layout.inner, i0, i1)
        }
    }

    public func channelSum(_ x: Tensor, layout: ChannelLayout, into out: Tensor) {
        let px = UnsafePointer(x.pointer)
        let po = out.pointer
        CPUThreads.parallelRanges(layout.channels, costPerItem: layout.reductionSize) { c0, c1 in
            ak_channel_sum(px, layout.outer, layout.channels, layout.inner, po, c0, c1)
        }
    }

    // MARK: Pooling

    public func maxPool2d(_ x: Tensor, windows: PoolWindows, into out: Tensor, indices: Tensor) {
        let px = UnsafePointer(x.pointer)
        let po = out.pointer
        let pi = UnsafeMutableRawPointer(indices.pointer).assumingMemoryBound(to: Int32.self)
        let H = Int32(windows.inHeight)
        let W = Int32(windows.inWidth)
        let Ho = Int32(windows.outHeight)
        let Wo = Int32(windows.outWidth)
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
        let pg = UnsafePointer(gradOutput.pointer)
        let pd = gradInput.pointer
        let pi = UnsafeRawPointer(indices.pointer).assumingMemoryBound(to: Int32.self)
        CPUThreads.parallelRanges(windows.planes, costPerItem: windows.inHeight * windows.inWidth) { p0, p1 in
            ak_maxpool2d_backward(
                pg, pi, Int32(windows.inHeight), Int32(windows.inWidth), Int32(windows.outHeight),
                Int32(windows.outWidth), pd, p0, p1)
        }
    }

    public func avgPool2d(_ x: Tensor, windows: PoolWindows, into out: Tensor) {
        let px = UnsafePointer(x.pointer)
        let po = out.pointer
        withWindows(windows) { hs, he, ws, we, rh, rw in
            CPUThreads.parallelRanges(windows.planes, costPerItem: windows.inHeight * windows.inWidth) { p0, p1 in
                ak_avgpool2d(
                    px, Int32(windows.inHeight), Int32(windows.inWidth), Int32(windows.outHeight),
                    Int32(windows.outWidth), hs, he, ws, we, rh, rw, po, p0, p1)
            }
        }
    }

    public func avgPool2dBackward(_ gradOutput: Tensor, windows: PoolWindows, into gradInput: Tensor) {
        let pg = UnsafePointer(gradOutput.pointer)
        let pd = gradInput.pointer
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
        _ body: (
            UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Int32>,
            UnsafePointer<Float>, UnsafePointer<Float>
        ) -> R
    ) -> R {
        withTables([w.rows.start, w.rows.end, w.columns.start, w.columns.end], [w.rows.scale, w.columns.scale]) {
            i, f in
            body(i[0], i[1], i[2], i[3], f[0], f[1])
        }
    }

    // MARK: Batch normalisation

    public func batchNormTraining(
        _ x: Tensor, layout: ChannelLayout, weight: Tensor?, bias: Tensor?, epsilon: Float, relu: Bool,
        runningMean: Tensor?, runningVariance: Tensor?, momentum: Float,
        into out: Tensor, mean: Tensor, invStd: Tensor, variance: Tensor
    ) {
        let px = UnsafePointer(x.pointer)
        let py = out.pointer
        let pw = weight.map { UnsafePointer($0.pointer) }
        let pb = bias.map { UnsafePointer($0.pointer) }
        let pm = mean.pointer
        let ps = invStd.pointer
        let pv = variance.pointer
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

    public func channelAffine(
        _ x: Tensor, layout: ChannelLayout, scale: Tensor, shift: Tensor, relu: Bool, into out: Tensor
    ) {
        let px = UnsafePointer(x.pointer)
        let py = out.pointer
        let pa = UnsafePointer(scale.pointer)
        let pb = UnsafePointer(shift.pointer)
        CPUThreads.parallelRanges(layout.outer * layout.channels, costPerItem: layout.inner) { i0, i1 in
            ak_bn_apply(px, layout.channels, layout.inner, pa, pb, relu ? 1 : 0, py, i0, i1)
        }
    }

    public func batchNormBackward(
        _ gradOutput: Tensor, x: Tensor, layout: ChannelLayout, mean: Tensor, invStd: Tensor,
        weight: Tensor?, bias: Tensor?, relu: Bool, batchStatistics: Bool,
        gradInput: Tensor?, gradWeight: Tensor?, gradBias: Tensor?
    ) {
        let px = UnsafePointer(x.pointer)
        let pg = UnsafePointer(gradOutput.pointer)
        let pm = UnsafePointer(mean.pointer)
        let ps = UnsafePointer(invStd.pointer)
        let pw = weight.map { UnsafePointer($0.pointer) }
        let pb = bias.map { UnsafePointer($0.pointer) }
        let pdx = gradInput?.pointer
        let pdw = gradWeight?.pointer
        let pdb = gradBias?.pointer
        CPUThreads.parallelRanges(layout.channels, costPerItem: layout.reductionSize * 4) { c0, c1 in
            ak_bn_backward(
                px, pg, layout.outer, layout.channels, layout.inner, pm, ps, pw, pb, relu ? 1 : 0,
                batchStatistics ? 1 : 0, pdx, pdw, pdb, c0, c1)
        }
    }

    // MARK: Resampling

    public func upsampleNearest(_ x: Tensor, scale: Size2D, into out: Tensor) {
        let px = UnsafePointer(x.pointer)
        let po = out.pointer
        let (planes, H, W) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        CPUThreads.parallelRanges(planes, costPerItem: out.count / max(planes, 1)) { p0, p1 in
            ak_upsample_nearest(px, Int32(H), Int32(W), Int32(scale.height), Int32(scale.width), po, p0, p1)
        }
    }

    public func upsampleNearestBackward(_ gradOutput: Tensor, scale: Size2D, into gradInput: Tensor) {
        let pg = UnsafePointer(gradOutput.pointer)
        let pd = gradInput.pointer
        let s = gradInput.shape
        let (planes, H, W) = (s[0] * s[1], s[2], s[3])
        CPUThreads.parallelRanges(planes, costPerItem: gradOutput.count / max(planes, 1)) { p0, p1 in
            ak_upsample_nearest_backward(pg, Int32(H), Int32(W), Int32(scale.height), Int32(scale.width), pd, p0, p1)
        }
    }

    public func upsampleBilinear(_ x: Tensor, plan: ResamplePlan, into out: Tensor) {
        let px = UnsafePointer(x.pointer)
        let po = out.pointer
        withPlan(plan) { h0, h1, lh, w0, w1, lw in
            CPUThreads.parallelRanges(plan.planes, costPerItem: plan.rows.outSize * plan.columns.outSize * 4) {
                p0, p1 in
                ak_resample_linear(
                    px, Int32(plan.rows.inSize), Int32(plan.columns.inSize), Int32(plan.rows.outSize),
                    Int32(plan.columns.outSize), h0, h1, lh, w0, w1, lw, po, p0, p1)
            }
        }
    }

    public func upsampleBilinearBackward(_ gradOutput: Tensor, plan: ResamplePlan, into gradInput: Tensor) {
        let pg = UnsafePointer(gradOutput.pointer)
        let pd = gradInput.pointer
        withPlan(plan) { h0, h1, lh, w0, w1, lw in
            CPUThreads.parallelRanges(plan.planes, costPerItem: plan.rows.outSize * plan.columns.outSize * 4) {
                p0, p1 in
                ak_resample_linear_backward(
                    pg, Int32(plan.rows.inSize), Int32(plan.columns.inSize), Int32(plan.rows.outSize),
                    Int32(plan.columns.outSize), h0, h1, lh, w0, w1, lw, pd, p0, p1)
            }
        }
    }

    private func withPlan<R>(
        _ p: ResamplePlan,
        _ body: (
            UnsafePointer<Int32>, UnsafePointer<Int32>, UnsafePointer<Float>, UnsafePointer<Int32>,
            UnsafePointer<Int32>, UnsafePointer<Float>
        ) -> R
    ) -> R {
        withTables(
            [p.rows.index0, p.rows.index1, p.columns.index0, p.columns.index1], [p.rows.weight, p.columns.weight]
        ) { i, f in
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
        var intPointers: [UnsafePointer<Int32>] = []
        var floatPointers: [UnsafePointer<Float>] = []
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
        let pa = UnsafePointer(a.pointer)
        let pb = UnsafePointer(b.pointer)
        let po = out.pointer
        CPUThreads.parallelRanges(out.count) { s, e in ak_add_relu(pa, pb, po, s, e) }
    }

    public func reluBackward(_ gradOutput: Tensor, output: Tensor, into out: Tensor) {
        let pg = UnsafePointer(gradOutput.pointer)
        let py = UnsafePointer(output.pointer)
        let po = out.pointer
        CPUThreads.parallelRanges(out.count) { s, e in ak_relu_backward(pg, py, po, s, e) }
    }
}
