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
                guard let g = grads.removeValue(forKey: ObjectIdentifier(node)), fn.backward != nil else { continue }
                let inputGrads = Tensor.runBackward(of: fn, outputGradient: g)
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

    /// Calls `fn`'s backward closure on the output gradient `g` and reports the first non-finite
    /// input gradient to an active numerics check.
    private static func runBackward(of fn: GradFn, outputGradient g: Tensor) -> [Tensor?] {
        let inputGrads = fn.backward?(g) ?? []
        if let monitor = NumericsMonitor.current, monitor.firstOffender == nil {
            for ig in inputGrads where ig != nil && !ig!.isFinite {
                monitor.firstOffender = NonFiniteValueError(op: "backward of \(fn.name)", shape: ig!.shape)
                break
            }
        }
        return inputGrads
    }

    /// Gradients of this scalar with respect to `inputs` only, like `torch.autograd.grad`.
    ///
    /// `inputs` may be leaves or intermediate results of this scalar's graph and must require
    /// gradients; one that this scalar does not depend on gets zeros. No tensor's `grad` is
    /// written — neither the inputs' nor any other leaf's (for example a model's parameters), so
    /// it can compute input gradients (DROCC's adversarial search) between training steps.
    /// Only the ops on a path from an input to this scalar are differentiated; other branches are
    /// skipped. Like `backward()`, it consumes the graph: every op node on the way is released, so
    /// call `backward()` or `gradients(with:)` on this result at most once (recompute the forward
    /// pass to differentiate again).
    public func gradients(with inputs: [Tensor]) -> [Tensor] {
        precondition(requiresGrad, "gradients(with:): tensor does not require gradients")
        precondition(count == 1, "gradients(with:): tensor of shape \(shape) is not a scalar")
        for t in inputs {
            precondition(t.requiresGrad, "gradients(with:): an input of shape \(t.shape) does not require gradients")
        }
        let wanted = Set(inputs.map(ObjectIdentifier.init))
        let order = topologicalOrder()
        // Nodes from which a wanted tensor can be reached going towards the inputs. `order` lists
        // each node after the op nodes it consumes, so one forward sweep suffices.
        var reachesWanted = wanted
        for node in order where !reachesWanted.contains(ObjectIdentifier(node)) {
            if let fn = node.gradFn, fn.inputs.contains(where: { reachesWanted.contains(ObjectIdentifier($0)) }) {
                reachesWanted.insert(ObjectIdentifier(node))
            }
        }
        var grads: [ObjectIdentifier: Tensor] = [:]
        var results: [ObjectIdentifier: Tensor] = [:]
        if reachesWanted.contains(ObjectIdentifier(self)) { grads[ObjectIdentifier(self)] = Tensor.ones(shape) }
        withoutGradients {
            for node in order.reversed() {
                let id = ObjectIdentifier(node)
                let g = grads.removeValue(forKey: id)
                if wanted.contains(id), let g { results[id] = g }
                defer {
                    node.gradFn?.backward = nil
                    node.gradFn?.inputs = []
                    node.gradFn = nil
                }
                guard let g, let fn = node.gradFn else { continue }
                let needed = fn.inputs.map { $0.requiresGrad && reachesWanted.contains(ObjectIdentifier($0)) }
                guard needed.contains(true) else { continue }
                let inputGrads = Tensor.runBackward(of: fn, outputGradient: g)
                for ((input, inputGrad), isNeeded) in zip(zip(fn.inputs, inputGrads), needed) {
                    guard isNeeded, let inputGrad else { continue }
                    precondition(
                        inputGrad.shape == input.shape,
                        "backward of \(fn.name): gradient shape \(inputGrad.shape) differs from input shape "
                            + "\(input.shape)")
                    let key = ObjectIdentifier(input)
                    if input.gradFn == nil {
                        // A wanted leaf: never in `order`, so its sum is final here.
                        results[key] = results[key].map { $0 + inputGrad } ?? inputGrad
                    } else {
                        grads[key] = grads[key].map { $0 + inputGrad } ?? inputGrad
                    }
                }
            }
        }
        return inputs.map { results[ObjectIdentifier($0)] ?? Tensor.zeros(like: $0) }
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
