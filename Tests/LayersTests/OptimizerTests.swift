import Foundation
import Layers
import Tensors
import Testing

private typealias Support = LossTestSupport

private struct OptimizerFixtureFile: Decodable {
    struct Options: Decodable {
        let lr: Float
        let momentum: Float?
        let dampening: Float?
        let nesterov: Bool?
        let weightDecay: Float?
        let betas: [Float]?
        let eps: Float?
    }

    struct Group: Decodable {
        let params: [Int]
        let lrScale: Float?
        let weightDecay: Float?
        let adapt: Bool?
    }

    struct Case: Decodable {
        let name: String
        let optimizer: String
        let options: Options
        let groups: [Group]
        let lrs: [Float]
        let initial: [LossFixtureTensor]
        let grads: [[LossFixtureTensor]]
        let expected: [[LossFixtureTensor]]
    }

    let cases: [Case]
}

private func makeOptimizer(_ c: OptimizerFixtureFile.Case, _ parameters: [Tensor]) -> Optimizer {
    let groups = c.groups.map {
        ParameterGroup(
            $0.params.map { parameters[$0] }, learningRateScale: $0.lrScale ?? 1, weightDecay: $0.weightDecay,
            adaptsLearningRate: $0.adapt ?? true)
    }
    let o = c.options
    switch c.optimizer {
    case "sgd":
        return SGD(
            groups: groups, learningRate: o.lr, momentum: o.momentum ?? 0, dampening: o.dampening ?? 0,
            nesterov: o.nesterov ?? false, weightDecay: o.weightDecay ?? 0)
    case "adam":
        let betas = o.betas ?? [0.9, 0.999]
        return Adam(
            groups: groups, learningRate: o.lr, betas: (betas[0], betas[1]), eps: o.eps ?? 1e-8,
            weightDecay: o.weightDecay ?? 0)
    case "adamw":
        let betas = o.betas ?? [0.9, 0.999]
        return AdamW(
            groups: groups, learningRate: o.lr, betas: (betas[0], betas[1]), eps: o.eps ?? 1e-8,
            weightDecay: o.weightDecay ?? 1e-2)
    case "lars":
        return LARS(groups: groups, learningRate: o.lr, momentum: o.momentum ?? 0.9, weightDecay: o.weightDecay ?? 0)
    default:
        fatalError("unknown optimizer \(c.optimizer)")
    }
}

@Suite struct OptimizerFixtureTests {
    /// Parameters after each of several steps (given gradients, changing learning rates) against
    /// torch.optim.SGD/Adam/AdamW and SGD wrapped by torchlars-style LARS
    /// (scripts/fixtures/loss_fixtures.py → Fixtures/losses/optimizers.json).
    @Test func matchesPyTorch() throws {
        let fixture = try Support.loadFixture(OptimizerFixtureFile.self, "optimizers.json", snakeCaseKeys: true)
        #expect(fixture.cases.count >= 12)
        for c in fixture.cases {
            let parameters = c.initial.map { $0.tensor.requiringGrad() }
            let optimizer = makeOptimizer(c, parameters)
            for (step, (grads, expected)) in zip(c.grads, c.expected).enumerated() {
                for (p, g) in zip(parameters, grads) { p.grad = g.tensor }
                optimizer.learningRate = c.lrs[step]
                optimizer.step()
                for (k, (p, e)) in zip(parameters, expected).enumerated() {
                    Support.expectClose(
                        p.toArray(), e.data, atol: 1e-6, rtol: 1e-5, "\(c.name) step \(step + 1) parameter \(k)")
                }
            }
        }
    }
}

/// One parameter vector with the given values and gradient.
private func parameter(_ values: [Float], gradient: [Float]) -> Tensor {
    let p = Tensor(values).requiringGrad()
    p.grad = Tensor(gradient)
    return p
}

@Suite struct OptimizerHandComputedTests {
    @Test func sgdPlainAndWeightDecay() {
        let p = parameter([1, -2], gradient: [0.5, 0.25])
        SGD(parameters: [p], learningRate: 0.1).step()
        Support.expectClose(p.toArray(), [0.95, -2.025], "plain SGD")
        // d = g + wd·p = [0.5 + 0.1, 0.25 − 0.2]
        let q = parameter([1, -2], gradient: [0.5, 0.25])
        SGD(parameters: [q], learningRate: 0.1, weightDecay: 0.1).step()
        Support.expectClose(q.toArray(), [0.94, -2.005], "SGD with weight decay")
    }

    @Test func sgdMomentumTwoSteps() {
        let p = parameter([1, -2], gradient: [0.5, 0.25])
        let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
        sgd.step()  // buf = g1
        Support.expectClose(p.toArray(), [0.95, -2.025], "momentum step 1")
        p.grad = Tensor([-1, 1])
        sgd.step()  // buf = 0.9·g1 + g2 = [−0.55, 1.225]
        Support.expectClose(p.toArray(), [0.95 + 0.055, -2.025 - 0.1225], "momentum step 2")
        #expect(sgd.state(for: p)?.step == 2)
        Support.expectClose(sgd.state(for: p)!.buffers["momentum_buffer"]!.toArray(), [-0.55, 1.225], "buffer")
    }

    @Test func sgdNesterovTwoSteps() {
        let p = parameter([1, -2], gradient: [0.5, 0.25])
        let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9, nesterov: true)
        sgd.step()  // buf = g1; d = g1 + 0.9·g1
        Support.expectClose(p.toArray(), [1 - 0.1 * 0.95, -2 - 0.1 * 0.475], "Nesterov step 1")
        p.grad = Tensor([-1, 1])
        sgd.step()  // buf = [−0.55, 1.225]; d = g2 + 0.9·buf = [−1.495, 2.1025]
        Support.expectClose(p.toArray(), [0.905 + 0.1495, -2.0475 - 0.21025], "Nesterov step 2")
    }

    /// Step 1 of Adam: m̂ = g, v̂ = g², so p ← p − lr·g/(|g| + ε).
    @Test func adamFirstStepsByHand() {
        let g: [Double] = [0.5, -0.002, 3]
        let p = parameter([1, 2, -1], gradient: g.map(Float.init))
        let adam = Adam(parameters: [p], learningRate: 0.01)
        adam.step()
        let step1 = zip([1.0, 2, -1], g).map { $0 - 0.01 * $1 / (Swift.abs($1) + 1e-8) }
        Support.expectClose(p.toArray(), step1.map(Float.init), "Adam step 1")
        // Step 2 with gradient g2, by the formulas in Float64.
        let g2: [Double] = [-0.5, 0.004, 1]
        p.grad = Tensor(g2.map(Float.init))
        adam.step()
        let expected = (0..<3).map { i -> Double in
            let m = 0.9 * (0.1 * g[i]) + 0.1 * g2[i]
            let v = 0.999 * (0.001 * g[i] * g[i]) + 0.001 * g2[i] * g2[i]
            let mHat = m / (1 - 0.81)
            let vHat = v / (1 - 0.999 * 0.999)
            return step1[i] - 0.01 * mHat / (vHat.squareRoot() + 1e-8)
        }
        Support.expectClose(p.toArray(), expected.map(Float.init), atol: 1e-6, "Adam step 2")
    }

    @Test func adamWeightDecayIsL2AndAdamWIsDecoupled() {
        // Adam: the decay enters the gradient, so with a zero gradient the step is still a full
        // lr-sized move: g' = wd·p = [0.1, −0.2] → p − lr·sign(p).
        let a = parameter([1, -2], gradient: [0, 0])
        Adam(parameters: [a], learningRate: 0.01, weightDecay: 0.1).step()
        Support.expectClose(a.toArray(), [0.99, -1.99], "Adam L2 decay")
        // AdamW: p·(1 − lr·wd), then Adam on a zero gradient (no move).
        let w = parameter([1, -2], gradient: [0, 0])
        AdamW(parameters: [w], learningRate: 0.01, weightDecay: 0.1).step()
        Support.expectClose(w.toArray(), [0.999, -1.998], "AdamW decay")
        // AdamW with a gradient: decay first, then the Adam step from the decayed value.
        let v = parameter([1, -2], gradient: [2, 0.5])
        AdamW(parameters: [v], learningRate: 0.01, weightDecay: 0.1).step()
        Support.expectClose(v.toArray(), [0.999 - 0.01, -1.998 - 0.01], "AdamW step")
    }

    /// ‖p‖ = 5, ‖g‖ = 1, wd = 0.1: trust ratio a = 1e-3·5/(1 + 0.5 + 1e-8); d = (g + 0.1·p)·a.
    @Test func larsTrustRatioByHand() {
        let p = parameter([3, 4], gradient: [0.6, 0.8])
        let lars = LARS(parameters: [p], learningRate: 1, momentum: 0.9, weightDecay: 0.1)
        let a = 1e-3 * 5 / (1.5 + 1e-8)
        #expect(Swift.abs(Double(lars.trustRatio(parameterNorm: 5, gradientNorm: 1, weightDecay: 0.1)) - a) < 1e-9)
        lars.step()
        Support.expectClose(p.toArray(), [Float(3 - 0.9 * a), Float(4 - 1.2 * a)], atol: 1e-7, "LARS step 1")
        // Step 2: new trust ratio from the new norms; momentum buffer = 0.9·d1 + d2.
        p.grad = Tensor([0.6, 0.8])
        let p1 = [3 - 0.9 * a, 4 - 1.2 * a]
        let norm1 = (p1[0] * p1[0] + p1[1] * p1[1]).squareRoot()
        let a2 = 1e-3 * norm1 / (1 + 0.1 * norm1 + 1e-8)
        let d2 = [(0.6 + 0.1 * p1[0]) * a2, (0.8 + 0.1 * p1[1]) * a2]
        let buf = [0.9 * 0.9 * a + d2[0], 0.9 * 1.2 * a + d2[1]]
        lars.step()
        Support.expectClose(p.toArray(), [Float(p1[0] - buf[0]), Float(p1[1] - buf[1])], atol: 1e-7, "LARS step 2")
    }

    /// A zero parameter (a zero-initialised bias) or a zero gradient gets trust ratio 1.
    @Test func larsFallsBackToRatioOneForZeroNorms() {
        let lars = LARS(parameters: [], learningRate: 1)
        #expect(lars.trustRatio(parameterNorm: 0, gradientNorm: 2, weightDecay: 0.1) == 1)
        #expect(lars.trustRatio(parameterNorm: 2, gradientNorm: 0, weightDecay: 0.1) == 1)
        let bias = parameter([0, 0], gradient: [0.5, -0.5])
        LARS(parameters: [bias], learningRate: 0.1, weightDecay: 0.1).step()
        Support.expectClose(bias.toArray(), [-0.05, 0.05], "zero bias takes a plain SGD step")
    }
}

/// A stand-in for a network with a normalisation layer: conv-like weight, BN-like scale and
/// shift, a bias, and a running-statistics buffer.
private final class NormNet: Module, @unchecked Sendable {
    let weight = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]).requiringGrad()
    let norm = NormLike()
    let bias = Tensor([1, 1]).requiringGrad()
}

private final class NormLike: Module, @unchecked Sendable {
    let weight = Tensor([1, 1]).requiringGrad()
    let bias = Tensor([0.5, -0.5]).requiringGrad()
    let runningMean = Tensor([0, 0])
}

@Suite struct ParameterGroupTests {
    @Test func excludingNormAndBiasSplitsByRank() {
        let net = NormNet()
        let groups = ParameterGroup.excludingNormAndBias(net)
        #expect(groups.count == 2)
        #expect(groups[0].parameters.map(ObjectIdentifier.init) == [ObjectIdentifier(net.weight)])
        #expect(groups[0].weightDecay == nil && groups[0].adaptsLearningRate)
        #expect(
            groups[1].parameters.map(ObjectIdentifier.init)
                == [net.norm.weight, net.norm.bias, net.bias].map(ObjectIdentifier.init))
        #expect(groups[1].weightDecay == 0 && !groups[1].adaptsLearningRate)
    }

    /// With zero gradients only weight decay moves parameters: the weight decays, the
    /// norm scale/shift and biases do not, and the buffer is never touched.
    @Test func weightDecayOnlyOnWeights() {
        let net = NormNet()
        for p in net.parameters() { p.grad = Tensor.zeros(like: p) }
        let sgd = SGD(groups: ParameterGroup.excludingNormAndBias(net), learningRate: 0.1, weightDecay: 0.5)
        sgd.step()
        Support.expectClose(net.weight.toArray(), [1, 2, 3, 4, 5, 6].map { $0 * 0.95 }, "decayed weight")
        #expect(net.norm.weight.toArray() == [1, 1])
        #expect(net.norm.bias.toArray() == [0.5, -0.5])
        #expect(net.bias.toArray() == [1, 1])
        #expect(net.norm.runningMean.toArray() == [0, 0])
    }

    @Test func learningRateScalePerGroup() {
        let a = parameter([1], gradient: [1])
        let b = parameter([1], gradient: [1])
        let sgd = SGD(groups: [ParameterGroup([a]), ParameterGroup([b], learningRateScale: 0.1)], learningRate: 0.5)
        sgd.step()
        Support.expectClose(a.toArray(), [0.5], "full rate")
        Support.expectClose(b.toArray(), [0.95], "scaled rate")
        sgd.learningRate = 0.1  // what a schedule does each step
        sgd.step()
        Support.expectClose(a.toArray(), [0.4], "new rate")
        Support.expectClose(b.toArray(), [0.94], "new scaled rate")
    }
}

@Suite struct OptimizerStateTests {
    /// Parameters without a gradient are skipped and get no state; state starts at their first
    /// update, so a late parameter takes exactly a first Adam step.
    @Test func stateIsCreatedLazilyPerParameter() {
        let early = parameter([1, 2], gradient: [0.1, 0.2])
        let late = Tensor([3, -4]).requiringGrad()
        let adam = Adam(parameters: [early, late], learningRate: 0.1)
        adam.step()
        #expect(late.toArray() == [3, -4])
        #expect(adam.state(for: late) == nil)
        #expect(adam.state(for: early)?.step == 1)
        late.grad = Tensor([0.5, 0.5])
        adam.step()
        #expect(adam.state(for: early)?.step == 2)
        #expect(adam.state(for: late)?.step == 1)
        let fresh = parameter([3, -4], gradient: [0.5, 0.5])
        Adam(parameters: [fresh], learningRate: 0.1).step()
        #expect(late.toArray() == fresh.toArray())
    }

    @Test func zeroGradientsClearsEveryGroup() {
        let a = parameter([1], gradient: [1])
        let b = parameter([2], gradient: [2])
        let sgd = SGD(groups: [ParameterGroup([a]), ParameterGroup([b])], learningRate: 0.1)
        sgd.zeroGradients()
        #expect(a.grad == nil && b.grad == nil)
        sgd.step()  // nothing to do
        #expect(a.toArray() == [1] && b.toArray() == [2])
    }

    /// End to end: gradients from backward drive Adam to the least-squares solution.
    @Test func fitsALinearModel() {
        var g = SeededGenerator(seed: 5)
        let layer = Linear(3, 1, using: &g)
        let x = Tensor.normal([64, 3], using: &g)
        let trueWeight = Tensor([2, -1, 0.5], shape: [3, 1])
        let y = matmul(x, trueWeight) + 0.25
        let adam = Adam(parameters: layer.parameters(), learningRate: 0.05)
        for _ in 0..<400 {
            adam.zeroGradients()
            mse(layer(x), y).backward()
            adam.step()
        }
        Support.expectClose(layer.weight.toArray(), [2, -1, 0.5], atol: 1e-3, "fitted weight")
        Support.expectClose(layer.bias!.toArray(), [0.25], atol: 1e-3, "fitted bias")
    }
}

@Suite struct AdamKernelTests {
    /// The vectorised Adam kernel (16 lanes + a scalar tail: 37 values) against torch's formula
    /// written out in Float, three steps, with L2 weight decay (Adam) and decoupled (AdamW), and
    /// β₁ above and below ½ (torch's lerp takes different branches). Equal to 1 ulp-scale 1e-7.
    @Test func vectorisedStepsMatchTheFormula() {
        for (decoupled, beta1) in [(false, Float(0.9)), (true, Float(0.9)), (false, Float(0.3))] {
            let n = 37
            let initial = (0..<n).map { Float($0 % 7) * 0.3 - 0.9 }
            let p = Tensor(initial).requiringGrad()
            let lr: Float = 0.01, wd: Float = 0.05, beta2: Float = 0.999, eps: Float = 1e-8
            let optimizer: Adam =
                decoupled
                ? AdamW(parameters: [p], learningRate: lr, betas: (beta1, beta2), eps: eps, weightDecay: wd)
                : Adam(parameters: [p], learningRate: lr, betas: (beta1, beta2), eps: eps, weightDecay: wd)
            var ref = initial
            var m = [Float](repeating: 0, count: n), v = [Float](repeating: 0, count: n)
            for step in 1...3 {
                let grad = (0..<n).map { Float(($0 * 5 + step * 3) % 11) * 0.2 - 1 }
                p.grad = Tensor(grad)
                optimizer.step()
                let bc1 = 1 - Foundation.pow(Double(beta1), Double(step))
                let bc2 = (1 - Foundation.pow(Double(beta2), Double(step))).squareRoot()
                let negStep = Float(-(Double(lr) / bc1)), root = Float(bc2)
                let shrink: Float = decoupled ? Float(1 - Double(lr) * Double(wd)) : 1
                let l2: Float = decoupled ? 0 : wd
                for i in 0..<n {
                    let pi = ref[i] * shrink
                    let g = grad[i] + l2 * pi
                    let w = 1 - beta1  // torch: m.lerp_(g, w)
                    m[i] = w < 0.5 ? m[i] + w * (g - m[i]) : g - (g - m[i]) * (1 - w)
                    v[i] = v[i] * beta2 + (1 - beta2) * g * g
                    ref[i] = pi + negStep * m[i] / (v[i].squareRoot() / root + eps)
                }
                Support.expectClose(p.toArray(), ref, atol: 1e-7, rtol: 1e-7, "Adam decoupled \(decoupled) β₁ \(beta1) step \(step)")
            }
        }
    }
}
