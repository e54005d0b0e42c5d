import Foundation
import Tensors

extension ImageOps {
    /// The normalised 1-D Gaussian kernel of torchvision's `gaussian_blur`: taps at
    /// −(k−1)/2 … (k−1)/2, weights `exp(−½(x/σ)²)` divided by their sum.
    public static func gaussianKernel(size: Int, sigma: Float) -> [Float] {
        precondition(size > 0 && size % 2 == 1, "gaussianKernel: size \(size) must be odd and positive")
        precondition(sigma > 0, "gaussianKernel: sigma \(sigma) must be positive")
        let half = Float(size - 1) * 0.5
        let pdf = (0..<size).map { i -> Float in
            let x = -half + Float(i)
            return Foundation.exp(-0.5 * (x / sigma) * (x / sigma))
        }
        let total = pdf.reduce(0, +)
        return pdf.map { $0 / total }
    }

    /// Each image blurred with a `kernelSize`×`kernelSize` Gaussian of its own σ (`nil` leaves the
    /// image unchanged), borders reflected without repeating the edge (torchvision's
    /// `gaussian_blur` on tensors, computed as two separable passes).
    public static func gaussianBlur(_ batch: Tensor, kernelSize: Int, sigmas: [Float?]) -> Tensor {
        let d = BatchDimensions(batch, op: "gaussianBlur")
        d.requireParameters(sigmas.count, "gaussianBlur")
        let radius = kernelSize / 2
        precondition(
            radius < d.height && radius < d.width,
            "gaussianBlur: kernel \(kernelSize) needs images larger than \(radius) pixels, got \(d.height)×\(d.width)")
        let kernels = sigmas.map { $0.map { gaussianKernel(size: kernelSize, sigma: $0) } }
        let out = copyOf(batch)
        let src = batch.pointer
        let dst = out.pointer
        let h = d.height
        let w = d.width
        forEachSample(d.count, costPerSample: d.sampleSize * kernelSize * 2) { n in
            guard let kernel = kernels[n] else { return }
            var row = [Float](repeating: 0, count: d.plane)
            for c in 0..<d.channels {
                let s = src + n * d.sampleSize + c * d.plane
                let o = dst + n * d.sampleSize + c * d.plane
                // Horizontal pass into `row`, vertical pass into the output.
                for y in 0..<h {
                    for x in 0..<w {
                        var sum: Float = 0
                        for t in 0..<kernelSize {
                            sum += kernel[t] * s[y * w + reflectIndex(x + t - radius, w)]
                        }
                        row[y * w + x] = sum
                    }
                }
                for y in 0..<h {
                    for x in 0..<w {
                        var sum: Float = 0
                        for t in 0..<kernelSize {
                            sum += kernel[t] * row[reflectIndex(y + t - radius, h) * w + x]
                        }
                        o[y * w + x] = sum
                    }
                }
            }
        }
        return out
    }

    /// `index` reflected into 0..<size without repeating the edge (`F.pad(mode: "reflect")`).
    @inline(__always)
    static func reflectIndex(_ index: Int, _ size: Int) -> Int {
        if index < 0 { return -index }
        if index >= size { return 2 * (size - 1) - index }
        return index
    }
}

/// Gaussian blur with a random σ ~ U(`sigma`) per image, applied with probability `probability`.
public struct GaussianBlur: BatchAugmentation {
    public var kernelSize: Int
    public var sigma: ClosedRange<Float>
    public var probability: Float

    public init(kernelSize: Int, sigma: ClosedRange<Float> = 0.1...2.0, probability: Float = 1) {
        precondition(
            kernelSize > 0 && kernelSize % 2 == 1, "GaussianBlur: kernel size \(kernelSize) must be odd and positive")
        precondition(sigma.lowerBound > 0, "GaussianBlur: sigma range \(sigma) must be positive")
        self.kernelSize = kernelSize
        self.sigma = sigma
        self.probability = probability
    }

    /// One σ per image (`nil`: not blurred), drawn in order.
    public func sampleSigmas(count: Int, using generator: inout SeededGenerator) -> [Float?] {
        (0..<count).map { _ in
            let apply = generator.bernoulli(probability)
            let s = generator.uniform(sigma)
            return apply ? s : nil
        }
    }

    public func callAsFunction(_ batch: Tensor, using generator: inout SeededGenerator) -> Tensor {
        let d = BatchDimensions(batch, op: "GaussianBlur")
        return ImageOps.gaussianBlur(
            batch, kernelSize: kernelSize, sigmas: sampleSigmas(count: d.count, using: &generator))
    }
}
