import Foundation
import Tensors

// MARK: - Kernels with explicit factors

extension ImageOps {
    /// CSI's contrast jitter: per image `x ← clamp((x − μ)·factor + μ, 0, 1)` with μ the image's
    /// per-channel spatial mean. Any channel count.
    public static func adjustContrast(_ batch: Tensor, factors: [Float]) -> Tensor {
        let d = BatchDimensions(batch, op: "adjustContrast")
        d.requireParameters(factors.count, "adjustContrast")
        let out = copyOf(batch)
        let p = out.pointer
        forEachSample(d.count, costPerSample: d.sampleSize * 2) { n in
            contrastInPlace(p + n * d.sampleSize, channels: d.channels, plane: d.plane, factor: factors[n])
        }
        return out
    }

    /// CSI's `RandomHSVFunction`: RGB → HSV (hue from `atan2(√3(g − b), 2r − g − b)`), then
    /// `h ← (h + f_h·255/360) mod 1`, `s ← s·f_s`, `v ← v·f_v`, clamp to [0, 1], back to RGB.
    /// `hueFactors` are the raw `f_h` (the 255/360 scale is applied here). One-channel images are
    /// treated as grey RGB, which reduces to `clamp(x·f_v, 0, 1)`.
    public static func adjustHSV(
        _ batch: Tensor, hueFactors: [Float], saturationFactors: [Float], valueFactors: [Float]
    ) -> Tensor {
        let d = BatchDimensions(batch, op: "adjustHSV")
        requireColour(d, "adjustHSV")
        d.requireParameters(hueFactors.count, "adjustHSV (hue)")
        d.requireParameters(saturationFactors.count, "adjustHSV (saturation)")
        d.requireParameters(valueFactors.count, "adjustHSV (value)")
        let out = copyOf(batch)
        let p = out.pointer
        forEachSample(d.count, costPerSample: d.sampleSize * 16) { n in
            hsvInPlace(
                p + n * d.sampleSize, channels: d.channels, plane: d.plane,
                hue: hueFactors[n], saturation: saturationFactors[n], value: valueFactors[n])
        }
        return out
    }

    /// Images whose flag is set replaced by their luma `0.299r + 0.587g + 0.114b` in every channel
    /// (one-channel images are already grey and are copied).
    public static func grayscale(_ batch: Tensor, where flags: [Bool]) -> Tensor {
        let d = BatchDimensions(batch, op: "grayscale")
        requireColour(d, "grayscale")
        d.requireParameters(flags.count, "grayscale")
        let out = copyOf(batch)
        guard d.channels == 3 else { return out }
        let p = out.pointer
        forEachSample(d.count, costPerSample: d.sampleSize * 2) { n in
            if flags[n] { grayscaleInPlace(p + n * d.sampleSize, plane: d.plane) }
        }
        return out
    }

    static func requireColour(_ d: BatchDimensions, _ op: String) {
        precondition(d.channels == 3 || d.channels == 1, "\(op): needs RGB (3) or grey (1) channels, got \(d.channels)")
    }

    static func contrastInPlace(_ x: UnsafeMutablePointer<Float>, channels: Int, plane: Int, factor: Float) {
        for c in 0..<channels {
            let p = x + c * plane
            var sum: Double = 0
            for i in 0..<plane { sum += Double(p[i]) }
            let mean = Float(sum / Double(plane))
            for i in 0..<plane { p[i] = Swift.min(Swift.max((p[i] - mean) * factor + mean, 0), 1) }
        }
    }

    static func hsvInPlace(
        _ x: UnsafeMutablePointer<Float>, channels: Int, plane: Int, hue: Float, saturation: Float, value: Float
    ) {
        if channels == 1 {
            for i in 0..<plane { x[i] = Swift.min(Swift.max(x[i] * value, 0), 1) }
            return
        }
        let twoPi = Float(2 * Double.pi)
        let sqrt3 = Float(3.0.squareRoot())
        let shift = hue * 255 / 360
        let r = x
        let g = x + plane
        let b = x + 2 * plane
        for i in 0..<plane {
            let rv = r[i]
            let gv = g[i]
            let bv = b[i]
            let cmax = Swift.max(Swift.max(rv, gv), bv)
            let cmin = Swift.min(Swift.min(rv, gv), bv)
            // Python-style remainders (`hue % 2π`, `h % 1`) for arguments within one period.
            var h = atan2f(sqrt3 * (gv - bv), 2 * rv - gv - bv)
            if h < 0 { h += twoPi }
            h /= twoPi
            var s = (cmax - cmin) / cmax
            if !s.isFinite { s = 0 }
            h += shift
            if h < 0 { h += 1 } else if h >= 1 { h -= 1 }
            h = Swift.min(Swift.max(h, 0), 1)
            s = Swift.min(Swift.max(s * saturation, 0), 1)
            let v = Swift.min(Swift.max(cmax * value, 0), 1)
            let chroma = v * s
            r[i] = v - chroma * hsvRamp(5 + h * 6)
            g[i] = v - chroma * hsvRamp(3 + h * 6)
            b[i] = v - chroma * hsvRamp(1 + h * 6)
        }
    }

    /// `clamp(min(k, 4 − k), 0, 1)` with `k = (n + 6h) mod 6` (Wikipedia's HSV→RGB alternative);
    /// `a = n + 6h` lies in [0, 12).
    @inline(__always)
    static func hsvRamp(_ a: Float) -> Float {
        let k = a >= 6 ? a - 6 : a
        return Swift.min(Swift.max(Swift.min(k, 4 - k), 0), 1)
    }

    static func grayscaleInPlace(_ x: UnsafeMutablePointer<Float>, plane: Int) {
        let r = x
        let g = x + plane
        let b = x + 2 * plane
        for i in 0..<plane {
            let l = 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i]
            r[i] = l
            g[i] = l
            b[i] = l
        }
    }
}

// MARK: - Random colour augmentations

/// CSI's `ColorJitterLayer` (METHODS §1.2 item 3): with probability `probability` per image,
/// contrast and HSV jitter in random order. Contrast factor `c ~ U(1 − contrast, 1 + contrast)`,
/// hue factor `f_h ~ U(−hue, hue)`, saturation `f_s ~ U(1 − saturation, 1 + saturation)`, value
/// `f_v ~ U(1 − brightness, 1 + brightness)`.
///
/// The released code draws the order once per batch; `orderPerSample` draws it per image instead.
public struct ColorJitter: BatchAugmentation {
    public var probability: Float
    public var brightness: Float
    public var contrast: Float
    public var saturation: Float
    public var hue: Float
    public var orderPerSample: Bool

    public init(
        probability: Float = 0.8, brightness: Float = 0.4, contrast: Float = 0.4, saturation: Float = 0.4,
        hue: Float = 0.1, orderPerSample: Bool = false
    ) {
        precondition(hue >= 0 && hue <= 0.5, "ColorJitter: hue \(hue) must lie in [0, 0.5]")
        precondition(brightness >= 0 && contrast >= 0 && saturation >= 0, "ColorJitter: strengths must be non-negative")
        self.probability = probability
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
        self.orderPerSample = orderPerSample
    }

    /// One image's jitter.
    public struct Parameters: Sendable, Hashable {
        /// Whether the image is jittered at all.
        public var apply: Bool
        /// Contrast before HSV (else HSV before contrast).
        public var contrastFirst: Bool
        public var contrastFactor: Float
        public var hueFactor: Float
        public var saturationFactor: Float
        public var valueFactor: Float

        public init(
            apply: Bool = true, contrastFirst: Bool, contrastFactor: Float, hueFactor: Float,
            saturationFactor: Float, valueFactor: Float
        ) {
            self.apply = apply
            self.contrastFirst = contrastFirst
            self.contrastFactor = contrastFactor
            self.hueFactor = hueFactor
            self.saturationFactor = saturationFactor
            self.valueFactor = valueFactor
        }
    }

    /// Parameters for `count` images, drawn in order (every draw is made, applied or not, so the
    /// generator advances by the same amount for every batch of this size).
    public func sampleParameters(count: Int, using generator: inout SeededGenerator) -> [Parameters] {
        let batchOrder = generator.bernoulli(0.5)
        return (0..<count).map { _ in
            let apply = generator.bernoulli(probability)
            let order = orderPerSample ? generator.bernoulli(0.5) : batchOrder
            let c = generator.uniform(Swift.max(0, 1 - contrast)...(1 + contrast))
            let h = generator.uniform(-hue...hue)
            let s = generator.uniform(Swift.max(0, 1 - saturation)...(1 + saturation))
            let v = generator.uniform(Swift.max(0, 1 - brightness)...(1 + brightness))
            return Parameters(
                apply: apply, contrastFirst: order, contrastFactor: c, hueFactor: h, saturationFactor: s,
                valueFactor: v)
        }
    }

    /// The batch jittered with the given parameters (one per image).
    public func apply(_ batch: Tensor, parameters: [Parameters]) -> Tensor {
        let d = BatchDimensions(batch, op: "ColorJitter")
        ImageOps.requireColour(d, "ColorJitter")
        d.requireParameters(parameters.count, "ColorJitter")
        let out = copyOf(batch)
        let p = out.pointer
        forEachSample(d.count, costPerSample: d.sampleSize * 20) { n in
            let q = parameters[n]
            guard q.apply else { return }
            let x = p + n * d.sampleSize
            if q.contrastFirst {
                ImageOps.contrastInPlace(x, channels: d.channels, plane: d.plane, factor: q.contrastFactor)
            }
            ImageOps.hsvInPlace(
                x, channels: d.channels, plane: d.plane, hue: q.hueFactor, saturation: q.saturationFactor,
                value: q.valueFactor)
            if !q.contrastFirst {
                ImageOps.contrastInPlace(x, channels: d.channels, plane: d.plane, factor: q.contrastFactor)
            }
        }
        return out
    }

    public func callAsFunction(_ batch: Tensor, using generator: inout SeededGenerator) -> Tensor {
        let d = BatchDimensions(batch, op: "ColorJitter")
        return apply(batch, parameters: sampleParameters(count: d.count, using: &generator))
    }
}

/// CSI's `RandomColorGrayLayer`: each image turned grey with probability `probability`.
public struct RandomGrayscale: RandomlyAppliedAugmentation {
    public var probability: Float

    public init(probability: Float = 0.2) { self.probability = probability }

    public func apply(_ batch: Tensor, where flags: [Bool]) -> Tensor { ImageOps.grayscale(batch, where: flags) }
}
