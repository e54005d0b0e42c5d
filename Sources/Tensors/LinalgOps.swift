/// Matrix products.

/// op(a)·op(b) for [M, K]·[K, N] matrices, or batched [..., M, K]·[..., K, N] (a 2-D operand is
/// shared across the batch). Transposes are folded into GEMM, never materialised.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul: needs matrices, got shapes \(a.shape) and \(b.shape)")
    precondition(a.device == b.device, "matmul: tensors on \(a.device) and \(b.device)")
    let m = transposeA ? a.shape[a.rank - 1] : a.shape[a.rank - 2]
    let ka = transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1]
    let kb = transposeB ? b.shape[b.rank - 1] : b.shape[b.rank - 2]
    let n = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1]
    precondition(ka == kb, "matmul: inner dimensions differ: shapes \(a.shape) and \(b.shape)\(transposeA ? " (A transposed)" : "")\(transposeB ? " (B transposed)" : "")")
    let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
    precondition(
        batchA == batchB || batchA.isEmpty || batchB.isEmpty,
        "matmul: batch dimensions \(batchA) and \(batchB) differ (shapes \(a.shape) and \(b.shape))")
    let batchShape = batchA.isEmpty ? batchB : batchA
    let batch = batchShape.reduce(1, *)
    let out = Tensor(uninitializedShape: batchShape + [m, n], device: a.device)
    a.device.backend.gemm(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: ka, alpha: 1,
        a: a, aBatchStride: batchA.isEmpty ? 0 : m * ka, b: b, bBatchStride: batchB.isEmpty ? 0 : ka * n,
        beta: 0, out: out, outBatchStride: m * n, batch: batch)
    let x = a.detached(), y = b.detached(), ra = a.requiresGrad, rb = b.requiresGrad
    return Tensor.record(out, "matmul", [a, b]) { g in
        // C = op(A)op(B):  dop(A) = G·op(B)ᵀ,  dop(B) = op(A)ᵀ·G
        var ga: Tensor? = nil, gb: Tensor? = nil
        if ra {
            let d = transposeA ? matmul(y, g, transposeA: transposeB, transposeB: true) : matmul(g, y, transposeB: !transposeB)
            ga = batchA.isEmpty && !batchB.isEmpty ? d.sum(axes: Array(0..<batchB.count)) : d
        }
        if rb {
            let d = transposeB ? matmul(g, x, transposeA: true, transposeB: transposeA) : matmul(x, g, transposeA: !transposeA)
            gb = batchB.isEmpty && !batchA.isEmpty ? d.sum(axes: Array(0..<batchA.count)) : d
        }
        return [ga, gb]
    }
}
