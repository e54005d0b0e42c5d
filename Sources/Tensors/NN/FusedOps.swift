/// Fused element-wise ops for residual networks: one pass and one allocation each way instead
/// of two. Equivalent to the composed ops.

/// max(a + b, 0) for equally shaped tensors (a residual block's output), differentiable in both.
public func addReLU(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "addReLU: shapes \(a.shape) and \(b.shape) differ")
    precondition(a.device == b.device, "addReLU: tensors on \(a.device) and \(b.device)")
    let backend = a.device.backend
    let out = Tensor(uninitializedShape: a.shape, device: a.device)
    backend.addReLU(a, b, into: out)
    let y = out.detached()
    return Tensor.record(out, "addReLU", [a, b]) { g in
        let gx = Tensor(uninitializedShape: g.shape, device: g.device)
        backend.reluBackward(g, output: y, into: gx)
        return [gx, gx]
    }
}
