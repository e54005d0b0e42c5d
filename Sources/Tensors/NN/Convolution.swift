/// 2-D convolution and transposed convolution (NCHW), as im2col + GEMM on the CPU.

/// Cross-correlation of `input` [N, C, H, W] with `weight` [O, C, kh, kw], plus `bias` [O]:
/// output [N, O, ⌊(H + 2·padH − kh)/strideH⌋ + 1, ⌊(W + 2·padW − kw)/strideW⌋ + 1]
/// (PyTorch's `F.conv2d` with groups 1 and dilation 1). Differentiable in all three tensors.
public func conv2d(
    _ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2D = 1, padding: Size2D = 0
) -> Tensor {
    precondition(input.rank == 4, "conv2d: input must be [N, C, H, W], got \(input.shape)")
    precondition(weight.rank == 4, "conv2d: weight must be [O, C, kh, kw], got \(weight.shape)")
    precondition(
        input.shape[1] == weight.shape[1],
        "conv2d: input \(input.shape) has \(input.shape[1]) channels but weight \(weight.shape) expects \(weight.shape[1])"
    )
    let geometry = ConvGeometry(
        batch: input.shape[0], inChannels: input.shape[1], inHeight: input.shape[2], inWidth: input.shape[3],
        outChannels: weight.shape[0], kernel: Size2D(weight.shape[2], weight.shape[3]), stride: stride,
        padding: padding)
    validate(geometry, op: "conv2d", input: input.shape, weight: weight.shape)
    checkBias(bias, channels: weight.shape[0], weight: weight, op: "conv2d")
    precondition(input.device == weight.device, "conv2d: input on \(input.device), weight on \(weight.device)")
    let out = Tensor(uninitializedShape: geometry.outputShape, device: input.device)
    input.device.backend.conv2d(input, weight: weight, bias: bias, geometry: geometry, into: out)
    return recordConvolution(
        out, "conv2d", input: input, weight: weight, bias: bias, geometry: geometry, transposed: false)
}

/// Transposed convolution (the adjoint of `conv2d` in its input) of `input` [N, Cin, H, W] with
/// `weight` [Cin, Cout, kh, kw] (PyTorch's layout) plus `bias` [Cout]: output
/// [N, Cout, (H−1)·stride − 2·padding + kh + outputPadding, …] (PyTorch's
/// `F.conv_transpose2d` with groups 1 and dilation 1). Differentiable in all three tensors.
public func convTranspose2d(
    _ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2D = 1, padding: Size2D = 0,
    outputPadding: Size2D = 0
) -> Tensor {
    precondition(input.rank == 4, "convTranspose2d: input must be [N, Cin, H, W], got \(input.shape)")
    precondition(weight.rank == 4, "convTranspose2d: weight must be [Cin, Cout, kh, kw], got \(weight.shape)")
    precondition(
        input.shape[1] == weight.shape[0],
        "convTranspose2d: input \(input.shape) has \(input.shape[1]) channels but weight \(weight.shape) expects \(weight.shape[0])"
    )
    precondition(
        outputPadding.height >= 0 && outputPadding.width >= 0
            && (outputPadding.height < stride.height || outputPadding.height == 0)
            && (outputPadding.width < stride.width || outputPadding.width == 0),
        "convTranspose2d: output padding \(outputPadding) must be smaller than the stride \(stride)")
    let kernel = Size2D(weight.shape[2], weight.shape[3])
    let outH = (input.shape[2] - 1) * stride.height - 2 * padding.height + kernel.height + outputPadding.height
    let outW = (input.shape[3] - 1) * stride.width - 2 * padding.width + kernel.width + outputPadding.width
    precondition(
        outH > 0 && outW > 0,
        "convTranspose2d: input \(input.shape) with weight \(weight.shape), stride \(stride), padding \(padding) gives an empty output"
    )
    // The convolution whose input-adjoint this is: it maps [N, Cout, outH, outW] to [N, Cin, H, W].
    let geometry = ConvGeometry(
        batch: input.shape[0], inChannels: weight.shape[1], inHeight: outH, inWidth: outW,
        outChannels: weight.shape[0], kernel: kernel, stride: stride, padding: padding)
    precondition(
        geometry.outHeight == input.shape[2] && geometry.outWidth == input.shape[3],
        "convTranspose2d: inconsistent geometry for input \(input.shape) and weight \(weight.shape)")
    checkBias(bias, channels: weight.shape[1], weight: weight, op: "convTranspose2d")
    precondition(input.device == weight.device, "convTranspose2d: input on \(input.device), weight on \(weight.device)")
    let backend = input.device.backend
    let out = Tensor(uninitializedShape: geometry.inputShape, device: input.device)
    backend.conv2dBackwardInput(input, weight: weight, geometry: geometry, into: out)
    if let bias { backend.addChannelBias(bias, to: out, layout: ChannelLayout(out.shape)) }
    return recordConvolution(
        out, "convTranspose2d", input: input, weight: weight, bias: bias, geometry: geometry, transposed: true)
}

/// Records a convolution's backward pass. `geometry` describes the convolution; when
/// `transposed`, `out` is its input-adjoint (a transposed convolution), so the roles of the
/// forward and input-gradient kernels swap, and so do the operands of the weight gradient.
private func recordConvolution(
    _ out: Tensor, _ name: String, input: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry,
    transposed: Bool
) -> Tensor {
    let backend = input.device.backend
    let x = input.detached()
    let w = weight.detached()
    let needX = input.requiresGrad
    let needW = weight.requiresGrad
    let needB = bias?.requiresGrad ?? false
    return Tensor.record(out, name, [input, weight] + (bias.map { [$0] } ?? [])) { g in
        var gx: Tensor? = nil
        var gw: Tensor? = nil
        var gb: Tensor? = nil
        if needX {
            gx = Tensor(uninitializedShape: x.shape, device: g.device)
            if transposed {
                backend.conv2d(g, weight: w, bias: nil, geometry: geometry, into: gx!)
            } else {
                backend.conv2dBackwardInput(g, weight: w, geometry: geometry, into: gx!)
            }
        }
        if needW {
            gw = Tensor(uninitializedShape: geometry.weightShape, device: g.device)
            backend.conv2dBackwardWeight(
                transposed ? g : x, gradOutput: transposed ? x : g, geometry: geometry, into: gw!)
        }
        if needB {
            gb = Tensor(uninitializedShape: [g.shape[1]], device: g.device)
            backend.channelSum(g, layout: ChannelLayout(g.shape), into: gb!)
        }
        return [gx, gw, gb]
    }
}

private func checkBias(_ bias: Tensor?, channels: Int, weight: Tensor, op: String) {
    guard let bias else { return }
    precondition(
        bias.shape == [channels],
        "\(op): bias \(bias.shape) does not match the \(channels) output channels of weight \(weight.shape)")
}

private func validate(_ g: ConvGeometry, op: String, input: [Int], weight: [Int]) {
    precondition(
        g.stride.height > 0 && g.stride.width > 0 && g.padding.height >= 0 && g.padding.width >= 0,
        "\(op): stride \(g.stride) must be positive and padding \(g.padding) non-negative")
    precondition(
        g.kernel.height > 0 && g.kernel.width > 0 && g.outHeight > 0 && g.outWidth > 0
            && g.inHeight + 2 * g.padding.height >= g.kernel.height
            && g.inWidth + 2 * g.padding.width >= g.kernel.width,
        "\(op): kernel of weight \(weight) does not fit input \(input) with padding \(g.padding)")
}
