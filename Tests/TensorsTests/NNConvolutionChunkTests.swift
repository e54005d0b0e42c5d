import Tensors
import TestSupport
import Testing

/// Batches large enough that the convolution runs in several chunks of samples (12 MB of im2col
/// scratch) give the same values and gradients as one sample at a time. Covers both layouts:
/// per-sample GEMMs into NCHW (32×32 outputs) and one staged GEMM per chunk (8×8 outputs).
/// Tolerance: 1e-5 of the largest value (forward, input gradient), 1e-4 for the weight gradient
/// (its sums run in a different order).
@Suite struct NNConvolutionChunkTests {
    private func compareWithPerSample(batch: Int, channels: Int, size: Int, outChannels: Int, stride: Int) {
        let x = randomTensor([batch, channels, size, size], seed: 31).requiringGrad()
        let w = randomTensor([outChannels, channels, 3, 3], seed: 32, low: -0.1, high: 0.1).requiringGrad()
        let y = conv2d(x, weight: w, stride: Size2D(stride), padding: 1)
        let r = randomTensor(y.shape, seed: 33)
        (y * r).sum().backward()
        var outputs: [Tensor] = []
        var inputGrads: [Tensor] = []
        var weightGrad = Tensor.zeros(w.shape)
        for n in 0..<batch {
            let xn = x.detached().slice(n..<(n + 1)).requiringGrad()
            let wn = w.detached().requiringGrad()
            let yn = conv2d(xn, weight: wn, stride: Size2D(stride), padding: 1)
            (yn * r.slice(n..<(n + 1))).sum().backward()
            outputs.append(yn.detached())
            inputGrads.append(xn.grad!)
            weightGrad = weightGrad + wn.grad!
        }
        expectClose(y, Tensor.concat(outputs), "chunked forward")
        expectClose(x.grad, Tensor.concat(inputGrads), "chunked input gradient")
        expectClose(w.grad, weightGrad, rtol: 1e-4, atol: 1e-4, "chunked weight gradient")
    }

    @Test func perSampleLayoutAcrossChunks() {
        compareWithPerSample(batch: 11, channels: 64, size: 32, outChannels: 8, stride: 1)
    }

    /// Stride-1 input gradients computed as a convolution with flipped weights equal the
    /// GEMM + col2im path (non-square kernels, padding from 0 to kernel − 1, large and small planes;
    /// the flipped path runs from 8 input channels).
    /// (Flipping the global knob is safe while other tests run: both paths give the same values.)
    @Test func inputGradientAsConvolutionMatchesCol2im() {
        let cases: [(channels: Int, out: Int, size: Int, kernel: Size2D, padding: Size2D)] = [
            (9, 5, 7, [3, 5], [0, 4]), (8, 6, 20, [3, 3], [1, 1]), (10, 2, 9, [2, 3], [1, 2]), (16, 8, 32, [5, 5], [2, 2]),
        ]
        for c in cases {
            let w = randomTensor([c.out, c.channels, c.kernel.height, c.kernel.width], seed: 42, low: -0.2, high: 0.2)
            let g = ConvGeometry(
                batch: 3, inChannels: c.channels, inHeight: c.size, inWidth: c.size + 1, outChannels: c.out,
                kernel: c.kernel, stride: 1, padding: c.padding)
            #expect(ConvolutionTuning.takesFlippedInputGradient(g))
            let gy = randomTensor(g.outputShape, seed: 43)
            var results: [Tensor] = []
            for asConvolution in [true, false] {
                ConvolutionTuning.stride1InputGradientAsConvolution = asConvolution
                let gx = Tensor.zeros(g.inputShape)
                CPUBackend.shared.conv2dBackwardInput(gy, weight: w, geometry: g, into: gx)
                results.append(gx)
            }
            ConvolutionTuning.stride1InputGradientAsConvolution = true
            expectClose(results[0], results[1], "input gradient \(c)")
        }
    }

    @Test func stagedLayoutAcrossChunks() {
        compareWithPerSample(batch: 45, channels: 256, size: 8, outChannels: 8, stride: 1)
        compareWithPerSample(batch: 9, channels: 16, size: 9, outChannels: 4, stride: 2)
    }
}
