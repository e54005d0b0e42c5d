import Foundation
import Tensors

/// Deterministic whole-batch image kernels (NCHW, CPU, no autodiff). The random augmentations
/// draw their parameters and call these; tests call them with fixed parameters.
public enum ImageOps {}

// MARK: - Rotations and flips

extension ImageOps {
    /// `torch.rot90(batch, k, dims: (2, 3))`: each image turned `k` quarter turns counter-clockwise
    /// in the (H, W) plane. Any integer `k` (taken modulo 4); odd `k` swaps H and W.
    public static func rot90(_ batch: Tensor, k: Int) -> Tensor {
        let d = BatchDimensions(batch, op: "rot90")
        let turns = ((k % 4) + 4) % 4
        let outShape = turns % 2 == 0 ? d.shape : [d.count, d.channels, d.width, d.height]
        let out = Tensor.zeros(outShape)
        let src = batch.pointer
        let dst = out.pointer
        forEachSample(d.count * d.channels, costPerSample: d.plane) { p in
            rotatePlane(src + p * d.plane, dst + p * d.plane, height: d.height, width: d.width, turns: turns)
        }
        return out
    }

    /// CSI's shift-transformed batch `[R0(x); R1(x); R2(x); R3(x)]` of shape `[4N, C, H, W]`:
    /// rotation `k` of image `b` sits at index `k·N + b` (square images only).
    public static func fourRotations(_ batch: Tensor) -> Tensor {
        let d = BatchDimensions(batch, op: "fourRotations")
        precondition(d.height == d.width, "fourRotations: images must be square, got \(d.height)×\(d.width)")
        let out = Tensor.zeros([4 * d.count, d.channels, d.height, d.width])
        let src = batch.pointer
        let dst = out.pointer
        let planes = d.count * d.channels
        forEachSample(4 * planes, costPerSample: d.plane) { q in
            let k = q / planes
            let p = q % planes
            rotatePlane(src + p * d.plane, dst + q * d.plane, height: d.height, width: d.width, turns: k)
        }
        return out
    }

    /// Mirrors the images whose flag is set along the width axis (the exact result of CSI's
    /// `HorizontalFlipLayer`, an affine grid with x ↦ −x); the others are copied.
    public static func flipHorizontally(_ batch: Tensor, where flags: [Bool]) -> Tensor {
        let d = BatchDimensions(batch, op: "flipHorizontally")
        d.requireParameters(flags.count, "flipHorizontally")
        let out = Tensor.zeros(d.shape)
        let src = batch.pointer
        let dst = out.pointer
        let w = d.width
        forEachSample(d.count, costPerSample: d.sampleSize) { n in
            let s = src + n * d.sampleSize
            let o = dst + n * d.sampleSize
            guard flags[n] else {
                o.update(from: s, count: d.sampleSize)
                return
            }
            for row in 0..<(d.channels * d.height) {
                let rs = s + row * w
                let ro = o + row * w
                for x in 0..<w { ro[x] = rs[w - 1 - x] }
            }
        }
        return out
    }

    /// One H×W plane turned `turns` (0…3) quarter turns counter-clockwise into `dst`
    /// (`dst` is W×H for odd turns).
    static func rotatePlane(
        _ src: UnsafeMutablePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
        height h: Int, width w: Int, turns: Int
    ) {
        switch turns {
        case 0:
            dst.update(from: src, count: h * w)
        case 1:  // out[i][j] = x[j][w−1−i], out is w×h
            for i in 0..<w { for j in 0..<h { dst[i * h + j] = src[j * w + (w - 1 - i)] } }
        case 2:  // out[i][j] = x[h−1−i][w−1−j]
            for i in 0..<h { for j in 0..<w { dst[i * w + j] = src[(h - 1 - i) * w + (w - 1 - j)] } }
        default:  // out[i][j] = x[h−1−j][i], out is w×h
            for i in 0..<w { for j in 0..<h { dst[i * h + j] = src[(h - 1 - j) * w + i] } }
        }
    }
}

// MARK: - Affine sampling

/// A 2×3 matrix θ = [[a, b, c], [d, e, f]] mapping output to input positions in the normalised
/// frame of `torch.nn.functional.affine_grid` (x along the width, y along the height, both in
/// [−1, 1] with `align_corners = false`): `(x_in, y_in) = θ · (x_out, y_out, 1)`.
public struct AffineTransform: Sendable, Hashable {
    public var a: Float, b: Float, c: Float
    public var d: Float, e: Float, f: Float

    public init(a: Float, b: Float, c: Float, d: Float, e: Float, f: Float) {
        self.a = a
        self.b = b
        self.c = c
        self.d = d
        self.e = e
        self.f = f
    }

    /// The six values in row-major order.
    public init(_ m: [Float]) {
        precondition(m.count == 6, "AffineTransform: needs 6 values, got \(m.count)")
        self.init(a: m[0], b: m[1], c: m[2], d: m[3], e: m[4], f: m[5])
    }

    public static let identity = AffineTransform(a: 1, b: 0, c: 0, d: 0, e: 1, f: 0)
    /// x ↦ −x (CSI's horizontal flip).
    public static let horizontalFlip = AffineTransform(a: -1, b: 0, c: 0, d: 0, e: 1, f: 0)
}

extension ImageOps {
    /// `grid_sample(batch, affine_grid(θ, outputSize), mode: bilinear, padding_mode: reflection,
    /// align_corners: false)` with one θ per image. The output has the input's size unless
    /// `outputSize` is given.
    public static func affineGridSample(
        _ batch: Tensor, transforms: [AffineTransform], outputSize: ImageSize? = nil
    ) -> Tensor {
        let d = BatchDimensions(batch, op: "affineGridSample")
        d.requireParameters(transforms.count, "affineGridSample")
        let size = outputSize ?? d.size
        let oh = size.height
        let ow = size.width
        let outPlane = oh * ow
        let out = Tensor.zeros([d.count, d.channels, oh, ow])
        let src = batch.pointer
        let dst = out.pointer
        forEachSample(d.count, costPerSample: d.channels * outPlane * 8) { n in
            let t = transforms[n]
            let s = src + n * d.sampleSize
            let o = dst + n * d.channels * outPlane
            // Output pixel (i, j) reads input position (ix, iy); crops and flips (b = d = 0) make
            // ix a function of j alone and iy of i alone, so those taps are computed once per
            // column and row.
            let separable = t.b == 0 && t.d == 0
            let columns =
                separable ? (0..<ow).map { j in BilinearTap(t.a * normalised(j, ow) + t.c, size: d.width) } : []
            let rows = separable ? (0..<oh).map { i in BilinearTap(t.e * normalised(i, oh) + t.f, size: d.height) } : []
            for i in 0..<oh {
                let yn = normalised(i, oh)
                for j in 0..<ow {
                    let tx: BilinearTap
                    let ty: BilinearTap
                    if separable {
                        tx = columns[j]
                        ty = rows[i]
                    } else {
                        let xn = normalised(j, ow)
                        tx = BilinearTap(t.a * xn + t.b * yn + t.c, size: d.width)
                        ty = BilinearTap(t.d * xn + t.e * yn + t.f, size: d.height)
                    }
                    let nw = tx.lowWeight * ty.lowWeight
                    let ne = tx.highWeight * ty.lowWeight
                    let sw = tx.lowWeight * ty.highWeight
                    let se = tx.highWeight * ty.highWeight
                    let iNW = ty.low * d.width + tx.low
                    let iNE = ty.low * d.width + tx.high
                    let iSW = ty.high * d.width + tx.low
                    let iSE = ty.high * d.width + tx.high
                    for c in 0..<d.channels {
                        let p = s + c * d.plane
                        o[c * outPlane + i * ow + j] = p[iNW] * nw + p[iNE] * ne + p[iSW] * sw + p[iSE] * se
                    }
                }
            }
        }
        return out
    }

    /// `affine_grid`'s normalised coordinate of pixel `index` along an axis of `count` pixels.
    @inline(__always)
    static func normalised(_ index: Int, _ count: Int) -> Float { Float(2 * index + 1) / Float(count) - 1 }

    /// The two neighbouring pixels and weights that bilinear sampling reads along one axis for a
    /// normalised grid coordinate (reflection padding, `align_corners = false`).
    struct BilinearTap {
        let low: Int, high: Int
        let lowWeight: Float, highWeight: Float

        @inline(__always)
        init(_ grid: Float, size: Int) {
            let position = ImageOps.reflectedSourceIndex(((grid + 1) * Float(size) - 1) / 2, size: size)
            let floor = position.rounded(.down)
            low = Int(floor)
            // A neighbour past the last pixel only occurs with a zero weight.
            high = Swift.min(low + 1, size - 1)
            highWeight = position - floor
            lowWeight = (floor + 1) - position
        }
    }

    /// A pixel coordinate reflected about the image border (PyTorch's `reflect_coordinates` with
    /// `align_corners = false`: mirror lines at −½ and size − ½), then clipped to [0, size − 1].
    @inline(__always)
    static func reflectedSourceIndex(_ coordinate: Float, size: Int) -> Float {
        let low: Float = -0.5
        let span = Float(size)
        let distance = Swift.abs(coordinate - low)
        let extra = fmodf(distance, span)
        let flips = Int((distance / span).rounded(.down))
        let reflected = flips % 2 == 0 ? extra + low : span - extra + low
        return Swift.min(Swift.max(reflected, 0), Float(size - 1))
    }

    /// `torch.nn.functional.adaptive_avg_pool2d(batch, (height, width))`: output cell (i, j)
    /// averages input rows ⌊i·H/h⌋ ..< ⌈(i+1)·H/h⌉ and the matching columns.
    public static func adaptiveAveragePool(_ batch: Tensor, to size: ImageSize) -> Tensor {
        let d = BatchDimensions(batch, op: "adaptiveAveragePool")
        if size == d.size { return copyOf(batch) }
        let oh = size.height
        let ow = size.width
        let out = Tensor.zeros([d.count, d.channels, oh, ow])
        let src = batch.pointer
        let dst = out.pointer
        forEachSample(d.count * d.channels, costPerSample: d.plane) { p in
            let s = src + p * d.plane
            let o = dst + p * oh * ow
            for i in 0..<oh {
                let r0 = i * d.height / oh
                let r1 = ((i + 1) * d.height + oh - 1) / oh
                for j in 0..<ow {
                    let c0 = j * d.width / ow
                    let c1 = ((j + 1) * d.width + ow - 1) / ow
                    var sum: Float = 0
                    for r in r0..<r1 { for c in c0..<c1 { sum += s[r * d.width + c] } }
                    o[i * ow + j] = sum / Float((r1 - r0) * (c1 - c0))
                }
            }
        }
        return out
    }
}

// MARK: - Random geometric augmentations

/// CSI's `HorizontalFlipLayer`: each image mirrored with probability `probability`.
public struct RandomHorizontalFlip: RandomlyAppliedAugmentation {
    public var probability: Float

    public init(probability: Float = 0.5) { self.probability = probability }

    public func apply(_ batch: Tensor, where flags: [Bool]) -> Tensor {
        ImageOps.flipHorizontally(batch, where: flags)
    }
}

/// CSI's `RandomResizedCropLayer` ("Inception crop") as an affine `grid_sample` with reflection
/// padding (METHODS §1.2 item 5). Per image: area fraction `s ~ U(scale)`, aspect ratio `r`
/// log-uniform in `ratio`, `w = round(√(s·A·r))`, `h = round(√(s·A/r))` (A = H·W, rounding half
/// to even like NumPy); up to `maxTrials` draws until the crop fits, else the full image; then a
/// random integer centre offset that keeps the crop inside. The crop is sampled at the input
/// size and average-pooled to `outputSize` when that differs.
public struct RandomResizedCrop: BatchAugmentation {
    public var scale: ClosedRange<Double>
    public var ratio: ClosedRange<Double>
    public var maxTrials: Int
    /// Output image size; `nil` keeps the input size.
    public var outputSize: ImageSize?

    public init(
        scale: ClosedRange<Double> = 0.08...1, ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0),
        maxTrials: Int = 10, outputSize: ImageSize? = nil
    ) {
        precondition(
            scale.lowerBound > 0 && scale.upperBound <= 1, "RandomResizedCrop: scale \(scale) must lie in (0, 1]")
        precondition(ratio.lowerBound > 0, "RandomResizedCrop: ratio \(ratio) must be positive")
        self.scale = scale
        self.ratio = ratio
        self.maxTrials = maxTrials
        self.outputSize = outputSize
    }

    /// CSI/HSCL pre-training crops: area in (0.08, 1).
    public static let training = RandomResizedCrop(scale: 0.08...1)
    /// CSI-family evaluation and Elsa fine-tuning: a fixed 54 % area (`--resize_factor 0.54 --resize_fix`).
    public static let evaluation = RandomResizedCrop(scale: 0.54...0.54)

    /// A crop of `width`×`height` pixels whose centre lies `offsetX`/`offsetY` half-pixels from the
    /// image centre (CSI draws the offset as an integer in [w − W, W − w]).
    public struct Crop: Sendable, Hashable {
        public var width: Int, height: Int
        public var offsetX: Int, offsetY: Int

        public init(width: Int, height: Int, offsetX: Int, offsetY: Int) {
            self.width = width
            self.height = height
            self.offsetX = offsetX
            self.offsetY = offsetY
        }

        /// The sampling matrix for an image of the given size: `[[w/W, 0, ox/W], [0, h/H, oy/H]]`.
        public func transform(for image: ImageSize) -> AffineTransform {
            let iw = Double(image.width)
            let ih = Double(image.height)
            return AffineTransform(
                a: Float(Double(width) / iw), b: 0, c: Float(Double(offsetX) / iw),
                d: 0, e: Float(Double(height) / ih), f: Float(Double(offsetY) / ih))
        }
    }

    /// One crop per image, drawn in order.
    public func sampleCrops(count: Int, imageSize: ImageSize, using generator: inout SeededGenerator) -> [Crop] {
        let iw = imageSize.width
        let ih = imageSize.height
        let area = Double(iw * ih)
        let logRatio = Foundation.log(ratio.lowerBound)...Foundation.log(ratio.upperBound)
        return (0..<count).map { _ in
            var w = iw
            var h = ih
            for _ in 0..<maxTrials {
                let target = generator.uniform(scale) * area
                let aspect = Foundation.exp(generator.uniform(logRatio))
                let tw = (target * aspect).squareRoot().rounded(.toNearestOrEven)
                let th = (target / aspect).squareRoot().rounded(.toNearestOrEven)
                if tw > 0 && tw <= Double(iw) && th > 0 && th <= Double(ih) {
                    w = Int(tw)
                    h = Int(th)
                    break
                }
            }
            let ox = generator.nextInt(below: 2 * (iw - w) + 1) + (w - iw)
            let oy = generator.nextInt(below: 2 * (ih - h) + 1) + (h - ih)
            return Crop(width: w, height: h, offsetX: ox, offsetY: oy)
        }
    }

    /// The batch cropped with the given crops (one per image).
    public func apply(_ batch: Tensor, crops: [Crop]) -> Tensor {
        let d = BatchDimensions(batch, op: "RandomResizedCrop")
        let size = d.size
        let sampled = ImageOps.affineGridSample(batch, transforms: crops.map { $0.transform(for: size) })
        guard let outputSize, outputSize != size else { return sampled }
        return ImageOps.adaptiveAveragePool(sampled, to: outputSize)
    }

    public func callAsFunction(_ batch: Tensor, using generator: inout SeededGenerator) -> Tensor {
        let d = BatchDimensions(batch, op: "RandomResizedCrop")
        return apply(batch, crops: sampleCrops(count: d.count, imageSize: d.size, using: &generator))
    }
}
