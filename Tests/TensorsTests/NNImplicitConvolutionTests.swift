import CKernels
import Tensors
import TestSupport
import Testing

/// The implicit-GEMM convolution kernel (width stride 1, output widths that are multiples of 8)
/// gives the values of the im2col + GEMM path: forward, input gradient (a stride-1 input gradient
/// is itself such a convolution) and weight gradient (output channels a multiple of 4), over kernel sizes, paddings, a height stride of 2,
/// output channels that are not a multiple of the 8-row tile, and planes with an odd number of
/// 16-pixel pieces. Tolerance 1e-5 relative to the largest value (sums in a different order),
/// 1e-4 for the weight gradient (long sums over pixels).
/// (Flipping the global knob while other tests run is safe: both paths give the same values.)
@Suite struct NNImplicitConvolutionTests {
    @Test(.enabled(if: ak_igemm_available() != 0, "the implicit-GEMM kernel needs AVX-512"))
    func implicitGEMMMatchesIm2col() {
        let cases: [(c: Int, o: Int, h: Int, w: Int, k: Size2D, s: Size2D, p: Size2D)] = [
            (3, 16, 32, 32, [3, 3], [1, 1], [1, 1]),  // stem
            (16, 12, 16, 16, [3, 3], [1, 1], [1, 1]),  // O not a multiple of 8
            (5, 8, 3, 16, [3, 3], [1, 1], [1, 1]),  // 3 pieces: last panel has one
            (4, 9, 18, 20, [5, 5], [1, 1], [0, 0]),  // no padding, 14×16 output
            (6, 10, 9, 34, [3, 5], [2, 1], [2, 1]),  // height stride 2, non-square kernel
            (2, 24, 8, 64, [3, 3], [1, 1], [1, 1]),  // wide rows: two panels per row
            (32, 16, 8, 8, [3, 3], [1, 1], [1, 1]),  // 8-wide rows: each vector spans two rows
            (7, 12, 4, 24, [3, 3], [1, 1], [1, 1]),  // 24-wide rows: vectors straddle rows
            (3, 8, 16, 10, [3, 3], [2, 1], [1, 0]),  // height stride 2, 8-wide rows
        ]
        for t in cases {
            let g = ConvGeometry(
                batch: 3, inChannels: t.c, inHeight: t.h, inWidth: t.w, outChannels: t.o, kernel: t.k, stride: t.s,
                padding: t.p)
            #expect(ConvolutionTuning.takesImplicitGEMM(g), "case \(t) must reach the implicit kernel")
            let x = randomTensor(g.inputShape, seed: 51)
            let w = randomTensor(g.weightShape, seed: 52, low: -0.3, high: 0.3)
            let gy = randomTensor(g.outputShape, seed: 53)
            var outputs: [Tensor] = []
            var inputGrads: [Tensor] = []
            var weightGrads: [Tensor] = []
            for implicit in [true, false] {
                // This task only: other tests keep the default paths (and their numerics).
                ConvolutionTuning.$forced.withValue(.init(implicitGEMM: implicit, implicitWeightGradientMinimumVectors: 1)) {
                    let y = Tensor.zeros(g.outputShape)
                    CPUBackend.shared.conv2d(x, weight: w, bias: nil, geometry: g, into: y)
                    outputs.append(y)
                    let gx = Tensor.zeros(g.inputShape)
                    CPUBackend.shared.conv2dBackwardInput(gy, weight: w, geometry: g, into: gx)
                    inputGrads.append(gx)
                    let gw = Tensor.zeros(g.weightShape)
                    CPUBackend.shared.conv2dBackwardWeight(x, gradOutput: gy, geometry: g, into: gw)
                    weightGrads.append(gw)
                }
            }
            expectClose(outputs[0], outputs[1], "forward \(t)")
            expectClose(inputGrads[0], inputGrads[1], "input gradient \(t)")
            expectClose(weightGrads[0], weightGrads[1], rtol: 1e-4, atol: 1e-4, "weight gradient \(t)")
        }
    }
}
