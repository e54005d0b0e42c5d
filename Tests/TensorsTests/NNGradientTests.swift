import Tensors
import TestSupport
import Testing

/// Finite-difference checks of every NN op's backward (`checkGradients`: central differences in
/// Float64 around Float32 values). Tolerance |analytic − numeric| ≤ 2e-3 + 2e-2·|numeric| with
/// step h = 1e-2 (the defaults); h = 1e-3 where the function has kinks (max pooling, the fused
/// ReLU), so a step cannot cross one. Losses are Σ op(x)·r with a fixed random r, so a gradient
/// that is wrong only up to a constant shift cannot pass.
@Suite struct NNGradientTests {
    /// Σ y·r for a fixed random r shaped like y.
    private func weightedSum(_ y: Tensor, seed: UInt64 = 99) -> Tensor {
        (y * randomTensor(y.shape, seed: seed)).sum()
    }

    @Test func conv2dStridePaddingNonSquareKernel() {
        let x = randomTensor([2, 2, 5, 4], seed: 1)
        let w = randomTensor([3, 2, 3, 2], seed: 2, low: -0.5, high: 0.5)
        let b = randomTensor([3], seed: 3)
        checkGradients([x, w, b]) {
            weightedSum(conv2d($0[0], weight: $0[1], bias: $0[2], stride: [2, 1], padding: [1, 0]))
        }
        checkGradients([x, w]) { weightedSum(conv2d($0[0], weight: $0[1], stride: 1, padding: 1)) }
        checkGradients([x, w]) { weightedSum(conv2d($0[0], weight: $0[1], stride: [1, 3], padding: [0, 2])) }
    }

    @Test func conv2dLargePlanesAndPointwise() {
        // 16×16 outputs take the per-sample (direct) path; 1×1 stride 1 skips im2col.
        let x = randomTensor([2, 1, 16, 16], seed: 4)
        let w = randomTensor([2, 1, 3, 3], seed: 5, low: -0.5, high: 0.5)
        checkGradients([x, w]) { weightedSum(conv2d($0[0], weight: $0[1], padding: 1)) }
        let xp = randomTensor([2, 2, 16, 16], seed: 6)
        let wp = randomTensor([3, 2, 1, 1], seed: 7)
        let bp = randomTensor([3], seed: 8)
        checkGradients([xp, wp, bp]) { weightedSum(conv2d($0[0], weight: $0[1], bias: $0[2])) }
        let xs = randomTensor([2, 3, 4, 4], seed: 9)
        let ws = randomTensor([2, 3, 1, 1], seed: 10)
        checkGradients([xs, ws]) { weightedSum(conv2d($0[0], weight: $0[1])) }
        checkGradients([xs, ws]) { weightedSum(conv2d($0[0], weight: $0[1], stride: 2)) }
        // 4×4 planes (one-register kernels), with and without stride.
        let wt = randomTensor([2, 3, 3, 3], seed: 28, low: -0.5, high: 0.5)
        checkGradients([xs, wt]) { weightedSum(conv2d($0[0], weight: $0[1], padding: 1)) }
        checkGradients([xs, wt]) { weightedSum(conv2d($0[0], weight: $0[1], stride: 2, padding: 1)) }
        // Rows wider than one 16-lane block, stride 2.
        let xw = randomTensor([1, 1, 3, 37], seed: 29)
        let ww = randomTensor([2, 1, 3, 3], seed: 30, low: -0.5, high: 0.5)
        checkGradients([xw, ww]) { weightedSum(conv2d($0[0], weight: $0[1], stride: 2, padding: 1)) }
        checkGradients([xw, ww]) { weightedSum(conv2d($0[0], weight: $0[1], padding: [0, 1])) }
        // 256 channels on small padded planes: computed tap by tap.
        let x256 = randomTensor([1, 256, 2, 3], seed: 34)
        let w256 = randomTensor([1, 256, 3, 3], seed: 35, low: -0.1, high: 0.1)
        checkGradients([x256, w256]) { weightedSum(conv2d($0[0], weight: $0[1], padding: 1)) }
        checkGradients([x256, w256]) { weightedSum(conv2d($0[0], weight: $0[1], stride: 2, padding: 1)) }
    }

    @Test func convTranspose2d() {
        let x = randomTensor([2, 3, 3, 2], seed: 11)
        let w = randomTensor([3, 2, 3, 2], seed: 12, low: -0.5, high: 0.5)
        let b = randomTensor([2], seed: 13)
        checkGradients([x, w, b]) {
            weightedSum(
                Tensors.convTranspose2d(
                    $0[0], weight: $0[1], bias: $0[2], stride: [2, 3], padding: [1, 0], outputPadding: [1, 2]))
        }
        let x5 = randomTensor([1, 2, 4, 4], seed: 14)
        let w5 = randomTensor([2, 2, 5, 5], seed: 15, low: -0.5, high: 0.5)
        checkGradients([x5, w5]) { weightedSum(Tensors.convTranspose2d($0[0], weight: $0[1], padding: 3)) }
        checkGradients([x5, w5]) { weightedSum(Tensors.convTranspose2d($0[0], weight: $0[1], padding: 2)) }
    }

    @Test func pooling() {
        // Distinct, well-separated values so no finite-difference step changes a window's argmax.
        var g = SeededGenerator(seed: 16)
        let order = g.permutation(2 * 2 * 7 * 6).map { Float($0) * 0.05 }
        let x = Tensor(order, shape: [2, 2, 7, 6])
        checkGradients([x], h: 1e-3) { weightedSum(maxPool2d($0[0], kernel: 3, stride: 2, padding: 1)) }
        checkGradients([x], h: 1e-3) { weightedSum(maxPool2d($0[0], kernel: 2)) }
        checkGradients([x], h: 1e-3) {
            weightedSum(maxPool2d($0[0], kernel: [2, 3], stride: [1, 2], padding: [0, 1]))
        }
        let y = randomTensor([2, 2, 7, 6], seed: 17)
        checkGradients([y]) { weightedSum(avgPool2d($0[0], kernel: 3, stride: 2, padding: 1)) }
        checkGradients([y]) { weightedSum(avgPool2d($0[0], kernel: 3, stride: 2, padding: 1, countIncludePad: false)) }
        checkGradients([y]) { weightedSum(avgPool2d($0[0], kernel: [2, 3], stride: [1, 2])) }
        checkGradients([y]) { weightedSum(adaptiveAvgPool2d($0[0], outputSize: [3, 4])) }
        checkGradients([y]) { weightedSum(adaptiveAvgPool2d($0[0], outputSize: 1)) }
    }

    @Test func batchNormTrainingAndEvaluation() {
        let x = randomTensor([3, 2, 3, 4], seed: 18, low: -2, high: 3)
        let w = randomTensor([2], seed: 19, low: 0.5, high: 1.5)
        let b = randomTensor([2], seed: 20)
        checkGradients([x, w, b]) {
            weightedSum(
                batchNorm($0[0], runningMean: nil, runningVariance: nil, weight: $0[1], bias: $0[2], training: true))
        }
        checkGradients([x]) {
            weightedSum(batchNorm($0[0], runningMean: nil, runningVariance: nil, training: true, epsilon: 1e-4))
        }
        checkGradients([x, w, b], h: 1e-3) {
            weightedSum(
                batchNorm(
                    $0[0], runningMean: nil, runningVariance: nil, weight: $0[1], bias: $0[2], training: true,
                    fusedReLU: true))
        }
        let mean = Tensor([0.3, -0.2])
        let variance = Tensor([1.5, 0.7])
        checkGradients([x, w, b]) {
            weightedSum(
                batchNorm(
                    $0[0], runningMean: mean, runningVariance: variance, weight: $0[1], bias: $0[2], training: false))
        }
        checkGradients([x, w, b], h: 1e-3) {
            weightedSum(
                batchNorm(
                    $0[0], runningMean: mean, runningVariance: variance, weight: $0[1], bias: $0[2], training: false,
                    fusedReLU: true))
        }
        let x1 = randomTensor([5, 3], seed: 21, low: -2, high: 3)
        checkGradients([x1]) { weightedSum(batchNorm($0[0], runningMean: nil, runningVariance: nil, training: true)) }
        let x3 = randomTensor([3, 2, 4], seed: 22, low: -2, high: 3)
        checkGradients([x3, w, b]) {
            weightedSum(
                batchNorm($0[0], runningMean: nil, runningVariance: nil, weight: $0[1], bias: $0[2], training: true))
        }
    }

    @Test func upsampling() {
        let x = randomTensor([2, 2, 3, 4], seed: 23)
        checkGradients([x]) { weightedSum(upsampleNearest($0[0], scale: 2)) }
        checkGradients([x]) { weightedSum(upsampleNearest($0[0], scale: [3, 2])) }
        checkGradients([x]) { weightedSum(upsampleBilinear($0[0], scale: 2)) }
        checkGradients([x]) { weightedSum(upsampleBilinear($0[0], size: [7, 5])) }
        checkGradients([x]) { weightedSum(upsampleBilinear($0[0], size: [2, 3])) }
    }

    @Test func dropoutAndFusedAddReLU() {
        let x = randomTensor([4, 5], seed: 24)
        // The same seed gives the same mask on every evaluation.
        checkGradients([x]) {
            var g = SeededGenerator(seed: 25)
            return weightedSum(dropout($0[0], p: 0.3, training: true, generator: &g))
        }
        let a = randomTensor([3, 4], seed: 26)
        let b = randomTensor([3, 4], seed: 27)
        checkGradients([a, b], h: 1e-3) { weightedSum(addReLU($0[0], $0[1])) }
    }
}
