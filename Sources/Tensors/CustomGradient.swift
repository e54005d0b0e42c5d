extension Tensor {
    /// An op with a hand-written backward, for code outside this module (straight-through
    /// estimators, gradient reversal, fused or numerically safer formulas).
    ///
    /// `output` must be computed by the caller *without* recording: inside `withoutGradients`,
    /// or from `detached()` inputs, so that it is a fresh tensor with no graph of its own (it
    /// may share storage with an input, as `detached()` does). When gradients are enabled and
    /// some input requires them, `output` becomes the op's result in the graph; otherwise it is
    /// returned as a plain tensor. An active `withNumericsCheck` checks it like any op's result.
    ///
    /// `backward` receives the gradient of the loss with respect to `output` and returns one
    /// gradient per input, in order, each of its input's shape, or `nil` for "no gradient". It
    /// runs once, during `backward()`/`gradients(with:)`, with recording off, so it may use any
    /// tensor ops; it may capture the inputs (they are kept alive until the pass releases the op).
    ///
    /// Gradient reversal (DANN): identity forward, negated gradient backward:
    ///
    ///     func reversingGradient(_ x: Tensor) -> Tensor {
    ///         Tensor.custom("gradientReversal", inputs: [x], output: x.detached()) { g in [-1 * g] }
    ///     }
    ///
    /// Straight-through binarisation: thresholds forward, passes the gradient through unchanged:
    ///
    ///     Tensor.custom("binarizeStraightThrough", inputs: [x], output: withoutGradients { x.greater(0) }) { g in
    ///         [g]
    ///     }
    public static func custom(
        _ name: String, inputs: [Tensor], output: Tensor, backward: @escaping (Tensor) -> [Tensor?]
    ) -> Tensor {
        precondition(
            output.gradFn == nil && !output.requiresGrad,
            "custom op '\(name)': compute the output without recording (withoutGradients or detached inputs)")
        precondition(
            !inputs.contains { $0 === output },
            "custom op '\(name)': the output must be a new tensor, not one of the inputs (use detached())")
        let inputCount = inputs.count
        return record(output, name, inputs) { gradient in
            let inputGradients = backward(gradient)
            precondition(
                inputGradients.count == inputCount,
                "custom op '\(name)': backward returned \(inputGradients.count) gradients for \(inputCount) inputs")
            return inputGradients
        }
    }

    /// A custom op whose forward is a closure: `forward` runs on the inputs with recording off,
    /// then the result is wired to `backward` as in `custom(_:inputs:output:backward:)` (an
    /// input returned unchanged is detached first, so identity forwards are safe).
    ///
    ///     let y = Tensor.custom("softplus", inputs: [x], forward: { ($0[0].exp() + 1).log() }) { g in
    ///         [g * x.detached().sigmoid()]
    ///     }
    public static func custom(
        _ name: String, inputs: [Tensor], forward: ([Tensor]) -> Tensor,
        backward: @escaping (Tensor) -> [Tensor?]
    ) -> Tensor {
        let result = withoutGradients { forward(inputs) }
        let output = inputs.contains { $0 === result } || result.requiresGrad ? result.detached() : result
        return custom(name, inputs: inputs, output: output, backward: backward)
    }
}
