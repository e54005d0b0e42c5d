/// 2-D pooling of NCHW tensors: max (with saved arg-max indices), average and adaptive average.

/// Max over kernel windows (PyTorch's `F.max_pool2d`, dilation 1, floor mode): output
/// ⌊(H + 2·padding − kernel)/stride⌋ + 1 per axis; padding counts as −∞. `stride` defaults to
/// the kernel size. The gradient goes to each window's (first) maximum.
public func maxPool2d(_ input: Tensor, kernel: Size2D, stride: Size2D? = nil, padding: Size2D = 0) -> Tensor {
    let stride = stride ?? kernel
    let windows = slidingWindows(
        input, kernel: kernel, stride: stride, padding: padding, countPadding: true, op: "maxPool2d")
    var w = windows
    w.isTwoByTwo = kernel == 2 && stride == 2 && padding == 0
    let backend = input.device.backend
    let outShape = [input.shape[0], input.shape[1], w.outHeight, w.outWidth]
    let out = Tensor(uninitializedShape: outShape, device: input.device)
    let indices = Tensor(uninitializedShape: outShape, device: input.device)
    backend.maxPool2d(input, windows: w, into: out, indices: indices)
    let inShape = input.shape
    return Tensor.record(out, "maxPool2d", [input]) { g in
        let gx = Tensor(uninitializedShape: inShape, device: g.device)
        backend.maxPool2dBackward(g, indices: indices, windows: w, into: gx)
        return [gx]
    }
}

/// Mean over kernel windows (PyTorch's `F.avg_pool2d`, floor mode). With `countIncludePad`
/// (PyTorch's default) zero padding counts in the divisor.
public func avgPool2d(
    _ input: Tensor, kernel: Size2D, stride: Size2D? = nil, padding: Size2D = 0, countIncludePad: Bool = true
) -> Tensor {
    let windows = slidingWindows(
        input, kernel: kernel, stride: stride ?? kernel, padding: padding, countPadding: countIncludePad,
        op: "avgPool2d")
    return averagePool(input, windows, "avgPool2d")
}

/// Mean over adaptive windows giving exactly `outputSize` (PyTorch's `F.adaptive_avg_pool2d`):
/// output row i averages input rows ⌊i·H/outH⌋ ..< ⌈(i+1)·H/outH⌉, likewise columns.
/// `adaptiveAvgPool2d(x, outputSize: 1)` is global average pooling, [N, C, 1, 1].
public func adaptiveAvgPool2d(_ input: Tensor, outputSize: Size2D) -> Tensor {
    precondition(input.rank == 4, "adaptiveAvgPool2d: input must be [N, C, H, W], got \(input.shape)")
    precondition(
        outputSize.height > 0 && outputSize.width > 0,
        "adaptiveAvgPool2d: output size \(outputSize) must be positive (input \(input.shape))")
    let windows = PoolWindows(
        planes: input.shape[0] * input.shape[1],
        rows: PoolAxis(inSize: input.shape[2], adaptiveOutSize: outputSize.height),
        columns: PoolAxis(inSize: input.shape[3], adaptiveOutSize: outputSize.width))
    return averagePool(input, windows, "adaptiveAvgPool2d")
}

private func averagePool(_ input: Tensor, _ windows: PoolWindows, _ name: String) -> Tensor {
    let backend = input.device.backend
    let out = Tensor(
        uninitializedShape: [input.shape[0], input.shape[1], windows.outHeight, windows.outWidth], device: input.device)
    backend.avgPool2d(input, windows: windows, into: out)
    let inShape = input.shape
    return Tensor.record(out, name, [input]) { g in
        let gx = Tensor(uninitializedShape: inShape, device: g.device)
        backend.avgPool2dBackward(g, windows: windows, into: gx)
        return [gx]
    }
}

private func slidingWindows(
    _ input: Tensor, kernel: Size2D, stride: Size2D, padding: Size2D, countPadding: Bool, op: String
) -> PoolWindows {
    precondition(input.rank == 4, "\(op): input must be [N, C, H, W], got \(input.shape)")
    precondition(
        kernel.height > 0 && kernel.width > 0 && stride.height > 0 && stride.width > 0,
        "\(op): kernel \(kernel) and stride \(stride) must be positive")
    precondition(
        padding.height >= 0 && padding.width >= 0 && 2 * padding.height <= kernel.height
            && 2 * padding.width <= kernel.width,
        "\(op): padding \(padding) must be at most half the kernel \(kernel)")
    precondition(
        input.shape[2] + 2 * padding.height >= kernel.height && input.shape[3] + 2 * padding.width >= kernel.width,
        "\(op): kernel \(kernel) is larger than input \(input.shape) with padding \(padding)")
    return PoolWindows(
        planes: input.shape[0] * input.shape[1],
        rows: PoolAxis(
            inSize: input.shape[2], kernel: kernel.height, stride: stride.height, padding: padding.height,
            countPadding: countPadding),
        columns: PoolAxis(
            inSize: input.shape[3], kernel: kernel.width, stride: stride.width, padding: padding.width,
            countPadding: countPadding))
}
