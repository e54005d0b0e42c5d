import Tensors
import Testing

/// Shared by TensorsTests and LayersTests (the `TestSupport` target).
/// Central finite-difference gradient check in Float64 arithmetic around Float32 values.
/// `f` maps the inputs to a scalar; each input's analytic gradient (from backward) is compared
/// with (f(x+h) − f(x−h)) / 2h per element. Tolerance: |a − n| ≤ atol + rtol·|n|.
public func checkGradients(
    _ inputs: [Tensor], h: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2,
    sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor
) {
    for t in inputs { t.requiringGrad(); t.grad = nil }
    let loss = f(inputs)
    loss.backward()
    for (k, t) in inputs.enumerated() {
        let analytic = t.grad?.toArray() ?? [Float](repeating: 0, count: t.count)
        let p = t.pointer
        var worst: (Int, Float, Float)? = nil
        for i in 0..<t.count {
            let saved = p[i]
            p[i] = saved + h
            let up = withoutGradients { Double(f(inputs).item()) }
            p[i] = saved - h
            let down = withoutGradients { Double(f(inputs).item()) }
            p[i] = saved
            let numeric = Float((up - down) / (2 * Double(h)))
            if Swift.abs(analytic[i] - numeric) > atol + rtol * Swift.abs(numeric) {
                if worst == nil { worst = (i, analytic[i], numeric) }
            }
        }
        if let (i, a, n) = worst {
            Issue.record("input \(k) element \(i): analytic \(a) vs numeric \(n)", sourceLocation: sourceLocation)
        }
    }
}

/// A deterministic random tensor for tests.
public func randomTensor(_ shape: [Int], seed: UInt64 = 1, low: Float = -1, high: Float = 1) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return Tensor.uniform(shape, low: low, high: high, using: &g)
}
