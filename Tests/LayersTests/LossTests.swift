import Foundation
import Layers
import Tensors
import Testing

private typealias Support = LossTestSupport

private struct LossFixtureFile: Decodable {
    struct Params: Decodable {
        let reduction: String?
        let axis: Int?
        let temperature: Float?
        let normalized: Bool?
    }

    struct Case: Decodable {
        let name: String
        let function: String
        let params: Params
        let inputs: [String: LossFixtureTensor]
        let labels: [Int]?
        let upstream: LossFixtureTensor
        let output: LossFixtureTensor
        let grads: [String: LossFixtureTensor]
    }

    let cases: [Case]
}

/// Evaluates a fixture case's loss on `inputs` (by the fixture's input names).
private func evaluate(_ c: LossFixtureFile.Case, _ inputs: [String: Tensor]) -> Tensor {
    let reduction = c.params.reduction.flatMap(LossReduction.init(rawValue:)) ?? .mean
    switch c.function {
    case "crossEntropy":
        return crossEntropy(logits: inputs["logits"]!, labels: c.labels!, reduction: reduction)
    case "binaryCrossEntropyWithLogits":
        return binaryCrossEntropyWithLogits(
            logits: inputs["logits"]!, targets: inputs["targets"]!, reduction: reduction)
    case "mse":
        return mse(inputs["prediction"]!, inputs["target"]!, reduction: reduction)
    case "cosineSimilarity":
        return cosineSimilarity(inputs["a"]!, inputs["b"]!, axis: c.params.axis!)
    case "l2Normalize":
        return l2Normalize(inputs["x"]!, axis: c.params.axis!)
    case "ntXentLoss":
        return ntXentLoss(inputs["z"]!, temperature: c.params.temperature!, isNormalized: c.params.normalized ?? false)
    default:
        fatalError("unknown fixture function \(c.function)")
    }
}

@Suite struct LossFixtureTests {
    /// Forward values and input gradients of every loss against PyTorch
    /// (scripts/fixtures/loss_fixtures.py → Fixtures/losses/losses.json).
    @Test func matchesPyTorch() throws {
        let fixture = try Support.loadFixture(LossFixtureFile.self, "losses.json")
        #expect(fixture.cases.count >= 19)
        var functions = Set<String>()
        for c in fixture.cases {
            functions.insert(c.function)
            let inputs = c.inputs.mapValues { $0.tensor.requiringGrad() }
            let output = evaluate(c, inputs)
            #expect(output.shape == c.output.shape, "\(c.name): output shape")
            Support.expectClose(output.toArray(), c.output.data, atol: 1e-6, rtol: 1e-5, "\(c.name) value")
            (output * c.upstream.tensor).sum().backward()
            for (name, expected) in c.grads {
                let grad = inputs[name]!.grad
                #expect(grad != nil, "\(c.name): no gradient for \(name)")
                Support.expectClose(
                    grad?.toArray() ?? [], expected.data, atol: 1e-6, rtol: 1e-5, "\(c.name) d/d\(name)")
            }
        }
        #expect(functions.count == 6)
    }
}

@Suite struct LossGradientTests {
    @Test func crossEntropyFiniteDifferences() {
        let logits = Support.randomTensor([4, 5], seed: 1, low: -3, high: 3)
        let labels = [0, 4, 2, 2]
        for reduction in LossReduction.allCases {
            let weights = Support.randomTensor([4], seed: 2)
            Support.checkGradients([logits]) {
                let l = crossEntropy(logits: $0[0], labels: labels, reduction: reduction)
                return reduction == .none ? (l * weights).sum() : l
            }
        }
    }

    @Test func binaryCrossEntropyFiniteDifferences() {
        // Includes x = 0 exactly, where the derivative must be σ(0) − t = 0.5 − t.
        let logits = Tensor([0, 2.5, -1.5, 0.3, -4, 0, 6, -0.2], shape: [2, 4])
        let targets = Tensor([1, 0, 0.3, 1, 0, 0, 1, 0.8], shape: [2, 4])
        Support.checkGradients([logits, targets], h: 1e-3) {
            binaryCrossEntropyWithLogits(logits: $0[0], targets: $0[1], reduction: .sum)
        }
    }

    @Test func binaryCrossEntropyAtZeroAndLargeLogits() {
        let logits = Tensor([0, 0, 100, -100, 100, -100]).requiringGrad()
        let targets = Tensor([1, 0.25, 0, 1, 1, 0])
        let loss = binaryCrossEntropyWithLogits(logits: logits, targets: targets, reduction: .none)
        Support.expectClose(loss.toArray(), [0.6931472, 0.6931472, 100, 100, 0, 0], atol: 1e-5, "bce values")
        loss.sum().backward()
        Support.expectClose(logits.grad!.toArray(), [-0.5, 0.25, 1, -1, 0, 0], atol: 1e-6, "bce gradient")
    }

    @Test func crossEntropyIsStableForLargeLogits() {
        let logits = Tensor([1000, 0, 0, -1000], shape: [2, 2]).requiringGrad()
        let loss = crossEntropy(logits: logits, labels: [1, 0], reduction: .none)
        Support.expectClose(loss.toArray(), [1000, 0], "cross-entropy values")
        loss.sum().backward()
        Support.expectClose(logits.grad!.toArray(), [1, -1, 0, 0], "cross-entropy gradient")
    }

    @Test func mseFiniteDifferencesAndValue() {
        let a = Tensor([1, 2, 3, 4], shape: [2, 2])
        let b = Tensor([0, 2, 5, 1], shape: [2, 2])
        #expect(mse(a, b).item() == 3.5)
        #expect(mse(a, b, reduction: .sum).item() == 14)
        #expect(mse(a, b, reduction: .none).toArray() == [1, 0, 4, 9])
        Support.checkGradients([Support.randomTensor([3, 2], seed: 3), Support.randomTensor([3, 2], seed: 4)]) {
            mse($0[0], $0[1])
        }
    }

    @Test func cosineSimilarityFiniteDifferencesAndZeroVectors() {
        let a = Support.randomTensor([3, 4], seed: 5)
        let b = Support.randomTensor([3, 4], seed: 6)
        let w = Support.randomTensor([3], seed: 7)
        Support.checkGradients([a, b], h: 1e-3) { (cosineSimilarity($0[0], $0[1], axis: 1) * w).sum() }
        Support.checkGradients([a, b], h: 1e-3) { cosineSimilarity($0[0], $0[1], axis: 0).sum() }
        // Exact values: parallel, orthogonal, opposite; a zero vector gives 0 with a finite gradient.
        let x = Tensor([1, 2, 0, 0, 0, 0, 3, 0], shape: [4, 2]).requiringGrad()
        let y = Tensor([2, 4, 0, 5, 0, 0, -1, 0], shape: [4, 2])
        let s = cosineSimilarity(x, y, axis: 1)
        Support.expectClose(s.toArray(), [1, 0, 0, -1], "cosine values")
        s.sum().backward()
        #expect(x.grad!.isFinite)
    }

    @Test func l2NormalizeFiniteDifferencesAndZeroRows() {
        let x = Support.randomTensor([3, 4], seed: 8, low: 0.2, high: 1.5)
        let w = Support.randomTensor([3, 4], seed: 9)
        Support.checkGradients([x], h: 1e-3) { (l2Normalize($0[0], axis: 1) * w).sum() }
        Support.checkGradients([x], h: 1e-3) { (l2Normalize($0[0], axis: 0) * w).sum() }
        let rows = Tensor([3, 4, 0, 0], shape: [2, 2])
        #expect(l2Normalize(rows).toArray() == [0.6, 0.8, 0, 0])
        let norms = l2Normalize(Support.randomTensor([5, 7], seed: 10)).squared().sum(axis: 1)
        Support.expectClose(norms.toArray(), [Float](repeating: 1, count: 5), "unit norms")
    }

    @Test func ntXentFiniteDifferences() {
        let z = Support.randomTensor([6, 4], seed: 11)
        Support.checkGradients([z], h: 1e-3) { ntXentLoss($0[0]) }
        Support.checkGradients([z], h: 1e-3) { ntXentLoss($0[0], temperature: 0.2) }
        let unit = l2Normalize(Support.randomTensor([4, 3], seed: 12))
        Support.checkGradients([unit], h: 1e-3) { ntXentLoss($0[0], isNormalized: true) }
    }
}

@Suite struct NTXentOracleTests {
    /// METHODS.md §8: with B = 1 the only non-self entry is the positive, so the loss is 0 (and so
    /// is its gradient) whatever the two vectors are.
    @Test(arguments: [UInt64(1), 2, 3])
    func singlePairGivesZero(seed: UInt64) {
        let z = Support.randomTensor([2, 5], seed: seed, low: -4, high: 4).requiringGrad()
        let loss = ntXentLoss(z)
        #expect(Swift.abs(loss.item()) < 1e-6)
        loss.backward()
        #expect(z.grad!.toArray().allSatisfy { Swift.abs($0) < 1e-6 })
    }

    /// The loss of METHODS.md §1.3 computed directly in Float64: denominators over k ≠ i,
    /// averaged over the 2B ordered positive pairs.
    @Test func matchesTheDefinition() {
        let b = 3
        let d = 4
        let n = 2 * b
        let z = Support.randomTensor([n, d], seed: 21, low: -2, high: 2)
        let tau = 0.5
        let rows = (0..<n).map { i -> [Double] in
            let r = z.toArray()[(i * d)..<((i + 1) * d)].map(Double.init)
            let norm = r.map { $0 * $0 }.reduce(0, +).squareRoot()
            return r.map { $0 / norm }
        }
        func sim(_ i: Int, _ j: Int) -> Double { zip(rows[i], rows[j]).map(*).reduce(0, +) / tau }
        func l(_ i: Int, _ j: Int) -> Double {
            let denominator = (0..<n).filter { $0 != i }.map { Foundation.exp(sim(i, $0)) }.reduce(0, +)
            return -Foundation.log(Foundation.exp(sim(i, j)) / denominator)
        }
        let expected = (0..<b).map { l($0, $0 + b) + l($0 + b, $0) }.reduce(0, +) / Double(n)
        #expect(Swift.abs(Double(ntXentLoss(z).item()) - expected) < 1e-5)
        // A precomputed normalisation gives the same value.
        #expect(Swift.abs(ntXentLoss(l2Normalize(z), isNormalized: true).item() - Float(expected)) < 1e-5)
    }

    /// Identical views with orthogonal samples: each row's positive has similarity 1/τ and the
    /// other 2B − 2 entries 0, so ℓ = log(1 + (2B − 2)·e^{−1/τ}) exactly.
    @Test func orthogonalSamplesClosedForm() {
        let b = 3
        let n = 2 * b
        var values = [Float](repeating: 0, count: n * b)
        for i in 0..<n { values[i * b + (i % b)] = 2 }
        let z = Tensor(values, shape: [n, b])
        let expected = Foundation.log(1 + Double(n - 2) * Foundation.exp(-2.0))
        #expect(Swift.abs(Double(ntXentLoss(z, temperature: 0.5).item()) - expected) < 1e-6)
    }
}
