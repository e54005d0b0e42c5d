import Foundation

/// The recorded op behind a non-leaf tensor: its inputs and how to turn the output's gradient
/// into the inputs' gradients.
final class GradFn {
    let name: String
    var inputs: [Tensor]
    var backward: ((Tensor) -> [Tensor?])?

    init(name: String, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.name = name
        self.inputs = inputs
        self.backward = backward
    }
}

/// Whether ops record the autodiff graph (task-local; see `withoutGradients`).
public enum GradientMode {
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording gradients (inference, optimizer updates).
public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    try GradientMode.$isEnabled.withValue(false) { try body() }
}

/// The first op that produced a NaN or infinity while a numerics check was active.
public struct NonFiniteValueError: Error, CustomStringConvertible {
    public let op: String
    public let shape: [Int]
    public var description: String { "non-finite value (NaN or Inf) first produced by op '\(op)' with output shape \(shape)" }
}

/// Collects the first op that produced a non-finite value.
public final class NumericsMonitor: @unchecked Sendable {
    var firstOffender: NonFiniteValueError?
    @TaskLocal static var current: NumericsMonitor?
}

/// Runs `body` while checking every op's output (forward and backward) for NaN/Inf; throws an
/// error naming the first op that produced one. Opt-in: it scans every result, so it is slower.
public func withNumericsCheck<R>(_ body: () throws -> R) throws -> R {
    let monitor = NumericsMonitor()
    let result = try NumericsMonitor.$current.withValue(monitor) { try body() }
    if let offender = monitor.firstOffender { throw offender }
    return result
}

extension Tensor {
    /// Wraps a freshly computed `out` as the result of op `name`: records the backward closure
    /// when gradients are enabled and some input requires them.
    @inline(__always)
    static func record(
        _ out: Tensor, _ name: String, _ inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]
    ) -> Tensor {
        if GradientMode.isEnabled && inputs.contains(where: { $0.requiresGrad }) {
            out.requiresGrad = true
            out.gradFn = GradFn(name: name, inputs: inputs, backward: backward)
        }
        if let monitor = NumericsMonitor.current, monitor.firstOffender == nil, !out.isFinite {
            monitor.firstOffender = NonFiniteValueError(op: name, shape: out.shape)
        }
        return out
    }

    /// Back-propagates from this tensor. For a non-scalar tensor pass `gradient` (same shape).
    /// Gradients accumulate into the `grad` of every leaf that requires them; the graph's saved
    /// intermediates are released node by node as the pass goes.
    public func backward(_ gradient: Tensor? = nil) {
        precondition(requiresGrad, "backward(): tensor does not require gradients")
        precondition(gradient != nil || count == 1, "backward(): non-scalar tensor \(shape) needs an explicit gradient")
        let order = topologicalOrder()
        var grads: [ObjectIdentifier: Tensor] = [:]
        grads[ObjectIdentifier(self)] = gradient ?? Tensor.ones(shape)
        withoutGradients {
            for node in order.reversed() {
                guard let fn = node.gradFn else { continue }
                guard let g = grads.removeValue(forKey: ObjectIdentifier(node)), let backward = fn.backward else {
                    continue
                }
                let inputGrads = backward(g)
                if let monitor = NumericsMonitor.current, monitor.firstOffender == nil {
                    for ig in inputGrads where ig != nil && !ig!.isFinite {
                        monitor.firstOffender = NonFiniteValueError(op: "backward of \(fn.name)", shape: ig!.shape)
                        break
                    }
                }
                for (input, inputGrad) in zip(fn.inputs, inputGrads) {
                    guard input.requiresGrad, let inputGrad else { continue }
                    precondition(
                        inputGrad.shape == input.shape,
                        "backward of \(fn.name): gradient shape \(inputGrad.shape) differs from input shape \(input.shape)")
                    if input.gradFn == nil {
                        input.grad = input.grad.map { $0 + inputGrad } ?? inputGrad
                    } else {
                        let key = ObjectIdentifier(input)
                        grads[key] = grads[key].map { $0 + inputGrad } ?? inputGrad
                    }
                }
                // Free what this node saved for its backward pass.
                fn.backward = nil
                fn.inputs = []
                node.gradFn = nil
            }
        }
    }

    /// Gradients of this scalar with respect to `inputs` (which must require gradients),
    /// without touching their `grad` fields' previous values.
    public func gradients(with inputs: [Tensor]) -> [Tensor] {
        let saved = inputs.map { $0.grad }
        for t in inputs { t.grad = nil }
        backward()
        let result = inputs.map { $0.grad ?? Tensor.zeros(like: $0) }
        for (t, g) in zip(inputs, saved) { t.grad = g }
        return result
    }

    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded {
                order.append(node)
                continue
            }
            let id = ObjectIdentifier(node)
            if visited.contains(id) { continue }
            visited.insert(id)
            stack.append((node, true))
            if let fn = node.gradFn {
                for input in fn.inputs where input.requiresGrad && input.gradFn != nil {
                    if !visited.contains(ObjectIdentifier(input)) { stack.append((input, false)) }
                }
            }
        }
        return order
    }
}
