import TestSupport
import Testing
import Tensors

@Suite struct ElementwiseGradientTests {
    @Test func unaryOps() {
        let x = randomTensor([3, 4], seed: 2)
        checkGradients([x]) { ($0[0].exp() * $0[0].sin()).sum() }
        checkGradients([x]) { $0[0].tanh().sum() + $0[0].sigmoid().squared().sum() }
        checkGradients([x]) { $0[0].softplus().sum() + $0[0].cos().mean() }
        checkGradients([x]) { $0[0].leakyRelu(0.1).sum() + $0[0].relu().squared().sum() }
        let pos = randomTensor([3, 4], seed: 3, low: 0.5, high: 2)
        checkGradients([pos]) { $0[0].log().sum() + $0[0].sqrt().sum() + $0[0].rsqrt().sum() + $0[0].pow(1.5).sum() }
        let inside = randomTensor([5], seed: 4, low: -0.8, high: 0.8)
        checkGradients([inside], h: 1e-3) { $0[0].acos().sum() }
    }

    @Test func broadcastBinaryOps() {
        let a = randomTensor([2, 3, 4], seed: 5), b = randomTensor([3, 1], seed: 6, low: 0.5, high: 1.5)
        checkGradients([a, b]) { (($0[0] + $0[1]) * $0[0] / $0[1] - $0[1]).sum() }
        checkGradients([a, b]) { $0[0].maximum($0[1]).sum() + $0[0].minimum($0[1]).mean() }
    }

    @Test func reductionsAndMatmul() {
        let x = randomTensor([2, 3, 4], seed: 7)
        checkGradients([x]) { $0[0].max(axis: 1).sum() + $0[0].logSumExp(axis: 2).sum() }
        checkGradients([x]) { $0[0].variance(axis: 2).sum() + $0[0].softmax(axis: 1).squared().sum() }
        let a = randomTensor([3, 5], seed: 8), b = randomTensor([5, 2], seed: 9)
        checkGradients([a, b]) { matmul($0[0], $0[1]).squared().sum() }
        let bt = randomTensor([2, 5], seed: 10)
        checkGradients([a, bt]) { matmul($0[0], $0[1], transposeB: true).squared().sum() }
        let at = randomTensor([5, 3], seed: 11)
        checkGradients([at, bt]) { matmul($0[0], $0[1], transposeA: true, transposeB: true).squared().sum() }
        let batched = randomTensor([4, 3, 5], seed: 12)
        checkGradients([batched, b]) { matmul($0[0], $0[1]).squared().sum() }
    }

    @Test func shapeOps() {
        let x = randomTensor([2, 3, 4], seed: 13)
        checkGradients([x]) { ($0[0].permuted([2, 0, 1]) * Tensor.arange(3)).sum() }
        checkGradients([x]) { $0[0].slice(axis: 2, 1..<3).squared().sum() }
        checkGradients([x]) { Tensor.concat([$0[0], $0[0].slice(axis: 1, 0..<1)], axis: 1).squared().sum() }
        checkGradients([x]) { $0[0].indexSelect([2, 0, 2], axis: 1).squared().sum() }
    }

    @Test func values() {
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(matmul(a, a, transposeB: true).toArray() == [14, 32, 32, 77])
        #expect(a.sum(axis: 0).toArray() == [5, 7, 9])
        #expect(a.max(axis: 1).toArray() == [3, 6])
        #expect(a.transposed().toArray() == [1, 4, 2, 5, 3, 6])
        #expect((a + Tensor([10, 20, 30])).toArray() == [11, 22, 33, 14, 25, 36])
        #expect(abs(Tensor([1000, 1000]).logSumExp(axis: 0).item() - (1000 + 0.6931472)) < 1e-3)
    }
}
