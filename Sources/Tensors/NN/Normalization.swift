/// Batch normalisation (PyTorch's `F.batch_norm`) with one fused kernel per direction.

/// Batch normalisation of `input` [N, C], [N, C, L] or [N, C, H, W] per channel C.
///
/// Training (or no running statistics): normalises with the batch mean and biased variance
/// over every axis but C, and — when `runningMean`/`runningVariance` are given — updates them
/// in place: r ← (1 − momentum)·r + momentum·batch value, with the unbiased variance.
/// Evaluation: normalises with the running statistics. Then y = x̂·weight + bias (each optional,
/// [C]). With `fusedReLU` the result is max(y, 0), computed in the same pass (and its backward
/// folded into the batch-norm backward). Differentiable in input, weight and bias.
public func batchNorm(
    _ input: Tensor, runningMean: Tensor?, runningVariance: Tensor?, weight: Tensor? = nil, bias: Tensor? = nil,
    training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5, fusedReLU: Bool = false
) -> Tensor {
    precondition(input.rank >= 2, "batchNorm: input must be [N, C, …], got \(input.shape)")
    let layout = ChannelLayout(input.shape)
    let channels = layout.channels
    for (name, t) in [
        ("weight", weight), ("bias", bias), ("runningMean", runningMean), ("runningVariance", runningVariance),
    ] {
        if let t {
            precondition(
                t.shape == [channels],
                "batchNorm: \(name) \(t.shape) does not match the \(channels) channels of input \(input.shape)")
        }
    }
    precondition(
        (runningMean == nil) == (runningVariance == nil),
        "batchNorm: give both runningMean and runningVariance or neither")
    let batchStatistics = training || runningMean == nil
    precondition(
        !batchStatistics || layout.reductionSize > 1,
        "batchNorm: expected more than 1 value per channel when training, got input \(input.shape)")
    let backend = input.device.backend
    let out = Tensor(uninitializedShape: input.shape, device: input.device)
    let mean = Tensor(uninitializedShape: [channels], device: input.device)
    let invStd = Tensor(uninitializedShape: [channels], device: input.device)
    if batchStatistics {
        let variance = Tensor(uninitializedShape: [channels], device: input.device)
        backend.batchNormTraining(
            input, layout: layout, weight: weight, bias: bias, epsilon: epsilon, relu: fusedReLU,
            runningMean: training ? runningMean : nil, runningVariance: training ? runningVariance : nil,
            momentum: momentum, into: out, mean: mean, invStd: invStd, variance: variance)
    } else {
        // Fold the running statistics and the affine map into one scale and shift per channel
        // (tensor ops, so they run on the input's device).
        let (scale, shift) = withoutGradients {
            let rm = runningMean!.detached()
            let s = (runningVariance!.detached() + epsilon).rsqrt()
            backend.stridedCopy(
                shape: [channels], src: rm, srcOffset: rm.offset, srcStrides: [1], dst: mean, dstOffset: 0,
                dstStrides: [1], accumulate: false)
            backend.stridedCopy(
                shape: [channels], src: s, srcOffset: s.offset, srcStrides: [1], dst: invStd, dstOffset: 0,
                dstStrides: [1], accumulate: false)
            let scale = weight.map { $0.detached() * s } ?? s
            let shift = bias.map { $0.detached() - rm * scale } ?? -(rm * scale)
            return (scale, shift)
        }
        backend.channelAffine(input, layout: layout, scale: scale, shift: shift, relu: fusedReLU, into: out)
    }
    let x = input.detached()
    let w = weight?.detached()
    let b = bias?.detached()
    let needX = input.requiresGrad
    let needW = weight?.requiresGrad ?? false
    let needB = bias?.requiresGrad ?? false
    var inputs = [input]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    let hasWeight = weight != nil
    return Tensor.record(out, fusedReLU ? "batchNormReLU" : "batchNorm", inputs) { g in
        let gx = needX ? Tensor(uninitializedShape: x.shape, device: g.device) : nil
        let gw = needW ? Tensor(uninitializedShape: [channels], device: g.device) : nil
        let gb = needB ? Tensor(uninitializedShape: [channels], device: g.device) : nil
        backend.batchNormBackward(
            g, x: x, layout: layout, mean: mean, invStd: invStd, weight: w, bias: b, relu: fusedReLU,
            batchStatistics: batchStatistics, gradInput: gx, gradWeight: gw, gradBias: gb)
        var grads: [Tensor?] = [gx]
        if hasWeight { grads.append(gw) }
        if b != nil { grads.append(gb) }
        return grads
    }
}
