/// Up-sampling of NCHW tensors (PyTorch's `F.interpolate`).

/// Nearest-neighbour up-sampling by integer factors: output [N, C, H·sh, W·sw], each value
/// repeated over an sh × sw block (`F.interpolate(x, scale_factor=s, mode='nearest')`).
public func upsampleNearest(_ input: Tensor, scale: Size2D) -> Tensor {
    precondition(input.rank == 4, "upsampleNearest: input must be [N, C, H, W], got \(input.shape)")
    precondition(scale.height > 0 && scale.width > 0, "upsampleNearest: scale \(scale) must be positive")
    let backend = input.device.backend
    let s = input.shape
    let out = Tensor(uninitializedShape: [s[0], s[1], s[2] * scale.height, s[3] * scale.width], device: input.device)
    backend.upsampleNearest(input, scale: scale, into: out)
    return Tensor.record(out, "upsampleNearest", [input]) { g in
        let gx = Tensor(uninitializedShape: s, device: g.device)
        backend.upsampleNearestBackward(g, scale: scale, into: gx)
        return [gx]
    }
}

/// Bilinear up-sampling by an integer factor with `align_corners=False`
/// (`F.interpolate(x, scale_factor=s, mode='bilinear')`).
public func upsampleBilinear(_ input: Tensor, scale: Size2D) -> Tensor {
    precondition(input.rank == 4, "upsampleBilinear: input must be [N, C, H, W], got \(input.shape)")
    precondition(scale.height > 0 && scale.width > 0, "upsampleBilinear: scale \(scale) must be positive")
    let s = input.shape
    return resampleBilinear(
        input,
        ResamplePlan(
            planes: s[0] * s[1],
            rows: ResampleAxis(inSize: s[2], outSize: s[2] * scale.height, scale: 1 / Double(scale.height)),
            columns: ResampleAxis(inSize: s[3], outSize: s[3] * scale.width, scale: 1 / Double(scale.width))))
}

/// Bilinear resampling to `size` (height, width) with `align_corners=False`
/// (`F.interpolate(x, size=size, mode='bilinear')`); works for down-sampling too.
public func upsampleBilinear(_ input: Tensor, size: Size2D) -> Tensor {
    precondition(input.rank == 4, "upsampleBilinear: input must be [N, C, H, W], got \(input.shape)")
    precondition(size.height > 0 && size.width > 0, "upsampleBilinear: size \(size) must be positive")
    let s = input.shape
    return resampleBilinear(
        input,
        ResamplePlan(
            planes: s[0] * s[1],
            rows: ResampleAxis(inSize: s[2], outSize: size.height, scale: Double(s[2]) / Double(size.height)),
            columns: ResampleAxis(inSize: s[3], outSize: size.width, scale: Double(s[3]) / Double(size.width))))
}

private func resampleBilinear(_ input: Tensor, _ plan: ResamplePlan) -> Tensor {
    let backend = input.device.backend
    let s = input.shape
    let out = Tensor(uninitializedShape: [s[0], s[1], plan.rows.outSize, plan.columns.outSize], device: input.device)
    backend.upsampleBilinear(input, plan: plan, into: out)
    return Tensor.record(out, "upsampleBilinear", [input]) { g in
        let gx = Tensor(uninitializedShape: s, device: g.device)
        backend.upsampleBilinearBackward(g, plan: plan, into: gx)
        return [gx]
    }
}
