import Foundation
import Tensors

// MARK: Convolution layers

/// The distinct 3×3 convolutions of resnet20 (batch 128) and resnet18 (batch 64; its stride-2
/// 1×1 shortcuts are one GEMM each): forward,
/// input-gradient and weight-gradient times of our CPU convolution, with the implicit-GEMM
/// kernel on and off (for tuning; PyTorch is compared on whole training steps).
let convShapes: [(name: String, batch: Int, channels: Int, size: Int, out: Int, stride: Int)] = [
    ("r20.stem", 128, 3, 32, 16, 1), ("r20.l1", 128, 16, 32, 16, 1), ("r20.l2.down", 128, 16, 32, 32, 2),
    ("r20.l2", 128, 32, 16, 32, 1), ("r20.l3.down", 128, 32, 16, 64, 2), ("r20.l3", 128, 64, 8, 64, 1),
    ("r18.stem", 64, 3, 32, 64, 1), ("r18.l1", 64, 64, 32, 64, 1), ("r18.l2.down", 64, 64, 32, 128, 2),
    ("r18.l2", 64, 128, 16, 128, 1), ("r18.l3.down", 64, 128, 16, 256, 2), ("r18.l3", 64, 256, 8, 256, 1),
    ("r18.l4.down", 64, 256, 8, 512, 2), ("r18.l4", 64, 512, 4, 512, 1),
]

func benchConvolutions(_ options: Options) {
    print("3×3 convolutions (padding 1), \(CPUThreads.count) threads: milliseconds per call, implicit GEMM on / off")
    let widths = [-12, -16, 16, 16, 16]
    print(row(["layer", "N×C×H→O (s)", "forward", "input grad", "weight grad"], widths: widths))
    for shape in convShapes where options.only.isEmpty || options.only.contains(shape.name) {
        let g = ConvGeometry(
            batch: shape.batch, inChannels: shape.channels, inHeight: shape.size, inWidth: shape.size,
            outChannels: shape.out, kernel: 3, stride: Size2D(shape.stride), padding: 1)
        var generator = SeededGenerator(seed: 0)
        let x = Tensor.uniform(g.inputShape, using: &generator)
        let w = Tensor.uniform(g.weightShape, low: -0.1, high: 0.1, using: &generator)
        let y = Tensor.zeros(g.outputShape), gy = Tensor.uniform(g.outputShape, using: &generator)
        let gx = Tensor.zeros(g.inputShape), gw = Tensor.zeros(g.weightShape)
        let backend = CPUBackend.shared
        var cells: [String] = []
        for pass in 0..<3 {
            var times: [Double] = []
            for implicit in [true, false] {
                ConvolutionTuning.implicitGEMM = implicit
                let seconds = measure(seconds: min(options.seconds, 1), warmup: 2) {
                    switch pass {
                    case 0: backend.conv2d(x, weight: w, bias: nil, geometry: g, into: y)
                    case 1: backend.conv2dBackwardInput(gy, weight: w, geometry: g, into: gx)
                    default: backend.conv2dBackwardWeight(x, gradOutput: gy, geometry: g, into: gw)
                    }
                }
                times.append(seconds * 1e3)
            }
            cells.append(String(format: "%.2f / %.2f", times[0], times[1]))
        }
        ConvolutionTuning.implicitGEMM = true
        print(row([shape.name, "\(shape.batch)×\(shape.channels)×\(shape.size)→\(shape.out) (\(shape.stride))"] + cells, widths: widths))
    }
}
