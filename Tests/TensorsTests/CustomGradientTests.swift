import TestSupport
import Testing
import Tensors

/// Identity forward, negated gradient backward (DANN's gradient reversal).
private func reversingGradient(_ x: Tensor) -> Tensor {
    Tensor.custom("gradientReversal", inputs: [x], output: x.detached()) { g in [-1 * g] }
}

/// Clamps forward; passes the gradient through unchanged (straight-through estimator).
private func clampedStraightThrough(_ x: Tensor, min lo: Float, max hi: Float) -> Tensor {
    Tensor.custom("clampStraightThrough", inputs: [x], output: withoutGradients { x.clamped(min: lo, max: hi) }) { g in
        [g]
    }
}

/// log(1 + eˣ) with its true derivative σ(x).
private func customSoftplus(_ x: Tensor) -> Tensor {
    Tensor.custom("customSoftplus", inputs: [x], forward: { ($0[0].exp() + 1).log() }) { g in
        [g * x.detached().sigmoid()]
    }
}

@Suite struct CustomGradientTests {
    @Test func gradientReversalNegatesTheGradient() {
        let x = Tensor([1, -2, 3]).requiringGrad()
        let y = reversingGradient(x)
        #expect(y.toArray() == [1, -2, 3])
        #expect(y.requiresGrad)
        (y * Tensor([0.5, 2, -1])).sum().backward()
        #expect(x.grad?.toArray() == [-0.5, -2, 1])
        #expect(withoutGradients { reversingGradient(x) }.requiresGrad == false)
    }

    @Test func straightThroughClampPassesTheGradient() {
        let x = Tensor([-2, 0.5, 3]).requiringGrad()
        let y = clampedStraightThrough(x * 2, min: -1, max: 1)
        #expect(y.toArray() == [-1, 1, 1])
        (y * Tensor([1, 2, 3])).sum().backward()
        // The ordinary clamp would stop the gradient of the clamped values; straight-through does not.
        #expect(x.grad?.toArray() == [2, 4, 6])
    }

    @Test func softplusMatchesFiniteDifferencesAndTheBuiltIn() {
        let x = randomTensor([3, 4], seed: 21, low: -3, high: 3)
        let weights = randomTensor([3, 4], seed: 22)
        checkGradients([x]) { (customSoftplus($0[0]) * weights).sum() }
        let difference = zip(customSoftplus(x).toArray(), x.softplus().toArray()).map { Swift.abs($0 - $1) }
        #expect(difference.max()! < 1e-5)
    }

    @Test func nilGradientLeavesAnInputAlone() {
        let x = Tensor([1, 2]).requiringGrad(), scale = Tensor([3, 4]).requiringGrad()
        let y = Tensor.custom("scaleOnlyX", inputs: [x, scale], output: withoutGradients { x * scale }) { g in
            [g * scale.detached(), nil]
        }
        y.sum().backward()
        #expect(x.grad?.toArray() == [3, 4])
        #expect(scale.grad == nil)
    }

    @Test func numericsCheckNamesACustomOpForwardAndBackward() {
        let x = Tensor([1, 2]).requiringGrad()
        let infinite = withoutGradients { x / 0 }  // made outside the check: the custom op is the offender
        let forwardError = #expect(throws: NonFiniteValueError.self) {
            try withNumericsCheck { _ = Tensor.custom("blowUp", inputs: [x], output: infinite) { [$0] } }
        }
        #expect(forwardError?.op == "blowUp")
        let backwardError = #expect(throws: NonFiniteValueError.self) {
            try withNumericsCheck {
                Tensor.custom("blowUpBackward", inputs: [x], output: x.detached()) { _ in [infinite] }.sum().backward()
            }
        }
        #expect(backwardError?.op == "backward of blowUpBackward")
    }
}

@Suite struct SelectiveGradientTests {
    /// y = Σ (W·x)² + Σ V², W [2, 3], x [3, 1], with the V branch behind a custom op that
    /// records whether its backward ran.
    private struct Graph {
        let weight = Tensor([1, -2, 0.5, 3, 1, -1], shape: [2, 3]).requiringGrad()
        let input = Tensor([0.5, -1, 2], shape: [3, 1]).requiringGrad()
        let other = Tensor([1, 2]).requiringGrad()
        let hidden: Tensor
        let output: Tensor

        init(otherBranchRan: @escaping () -> Void) {
            hidden = matmul(weight, input)
            let other = other
            let branch = Tensor.custom("watchedSquare", inputs: [other], output: withoutGradients { other.squared() }) {
                otherBranchRan()
                return [$0 * other.detached() * 2]
            }
            output = hidden.squared().sum() + branch.sum()
        }
    }

    @Test func inputGradientLeavesParametersAlone() {
        var otherBranchRan = false
        let graph = Graph { otherBranchRan = true }
        let sentinel = Tensor([7, 7, 7, 7, 7, 7], shape: [2, 3])
        graph.weight.grad = sentinel
        let gradients = graph.output.gradients(with: [graph.input])
        // h = W·x = [3.5, -1.5]; dy/dx = Wᵀ·2h.
        #expect(gradients.count == 1)
        #expect(gradients[0].shape == [3, 1])
        #expect(gradients[0].toArray() == [-2, -17, 6.5])
        #expect(graph.weight.grad === sentinel)
        #expect(sentinel.toArray() == [7, 7, 7, 7, 7, 7])
        #expect(graph.input.grad == nil)
        #expect(graph.other.grad == nil)
        #expect(!otherBranchRan)
    }

    @Test func inputGradFieldKeepsItsEarlierValue() {
        let graph = Graph {}
        let earlier = Tensor([1, 1, 1], shape: [3, 1])
        graph.input.grad = earlier
        _ = graph.output.gradients(with: [graph.input])
        #expect(graph.input.grad === earlier)
        #expect(earlier.toArray() == [1, 1, 1])
    }

    @Test func intermediateAndLeafTogether() {
        let graph = Graph {}
        let gradients = graph.output.gradients(with: [graph.hidden, graph.input, graph.weight])
        #expect(gradients[0].toArray() == [7, -3])
        #expect(gradients[1].toArray() == [-2, -17, 6.5])
        // dy/dW = 2h·xᵀ.
        #expect(gradients[2].toArray() == [3.5, -7, 14, -1.5, 3, -6])
        #expect(graph.weight.grad == nil)
    }

    @Test func unconnectedInputGetsZerosAndBackwardStillReachesEveryLeaf() {
        var otherBranchRan = false
        let graph = Graph { otherBranchRan = true }
        let unconnected = Tensor([5, 5]).requiringGrad()
        #expect(graph.output.gradients(with: [unconnected])[0].toArray() == [0, 0])
        #expect(!otherBranchRan)
        let fresh = Graph { otherBranchRan = true }
        fresh.output.backward()
        #expect(otherBranchRan)
        #expect(fresh.input.grad?.toArray() == [-2, -17, 6.5])
        #expect(fresh.other.grad?.toArray() == [2, 4])
    }
}
