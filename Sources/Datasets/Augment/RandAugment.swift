import Foundation
import Tensors

/// One 8-bit image operation with Pillow's semantics (the ops of Elsa's `RandAugmentMC`).
/// Factors and thresholds are the values handed to PIL, after the magnitude mapping.
public enum PILOperation: Sendable, Hashable {
    case identity
    /// `ImageOps.autocontrast` (no cut-off): each channel stretched to 0…255.
    case autoContrast
    /// `ImageOps.equalize`: per-channel histogram equalisation.
    case equalize
    /// `ImageOps.posterize`: keep the top `bits` bits.
    case posterize(bits: Int)
    /// `ImageOps.solarize`: values ≥ `threshold` inverted.
    case solarize(threshold: Int)
    /// `ImageEnhance.Brightness(factor)`: blend with black.
    case brightness(Float)
    /// `ImageEnhance.Color(factor)`: blend with the image's luma (`convert("L")`).
    case color(Float)
    /// `ImageEnhance.Contrast(factor)`: blend with the mean luma.
    case contrast(Float)
    /// `ImageEnhance.Sharpness(factor)`: blend with `filter(SMOOTH)` (kernel
    /// [[1,1,1],[1,5,1],[1,1,1]]/13, border pixels unchanged).
    case sharpness(Float)
    /// `transform(AFFINE, (1, s, 0, 0, 1, 0))`, nearest, zero fill: out(x, y) = in(x + s·y, y).
    case shearX(Double)
    /// `transform(AFFINE, (1, 0, 0, s, 1, 0))`, nearest, zero fill: out(x, y) = in(x, y + s·x).
    case shearY(Double)
    /// `transform(AFFINE, (1, 0, t, 0, 1, 0))`: out(x, y) = in(x + t, y), zero fill.
    case translateX(pixels: Int)
    /// `transform(AFFINE, (1, 0, 0, 0, 1, t))`: out(x, y) = in(x, y + t), zero fill.
    case translateY(pixels: Int)
    /// `ImageDraw.rectangle((x0, y0, x1, y1), fill: (127, 127, 127))`: corners inclusive,
    /// clipped to the image.
    case cutout(x0: Int, y0: Int, x1: Int, y1: Int)
}

extension ImageOps {
    /// The batch quantised to 8 bits (`round(x·255)`, as PIL images hold it), `operations` applied
    /// in order to every image with PIL's integer semantics, and mapped back to [0, 1] (`q/255`).
    public static func applyPIL(_ operations: [PILOperation], to batch: Tensor) -> Tensor {
        applyPIL(perImage: Array(repeating: operations, count: BatchDimensions(batch, op: "applyPIL").count), to: batch)
    }

    /// Like `applyPIL(_:to:)` with a separate list of operations for every image.
    public static func applyPIL(perImage operations: [[PILOperation]], to batch: Tensor) -> Tensor {
        let d = BatchDimensions(batch, op: "applyPIL")
        requireColour(d, "applyPIL")
        d.requireParameters(operations.count, "applyPIL")
        let out = Tensor.zeros(d.shape)
        let src = batch.pointer
        let dst = out.pointer
        forEachSample(d.count, costPerSample: d.sampleSize * 64) { n in
            var image = ByteImage(src + n * d.sampleSize, channels: d.channels, height: d.height, width: d.width)
            for operation in operations[n] { image.apply(operation) }
            image.write(to: dst + n * d.sampleSize)
        }
        return out
    }
}

/// An 8-bit [C, H, W] image (C = 1 for PIL mode "L", 3 for "RGB") and Pillow's integer kernels.
struct ByteImage {
    var pixels: [UInt8]
    let channels: Int, height: Int, width: Int
    var plane: Int { height * width }

    init(_ values: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
        pixels = (0..<(channels * height * width)).map { i in
            UInt8(Swift.min(Swift.max((values[i] * 255).rounded(), 0), 255))
        }
    }

    func write(to values: UnsafeMutablePointer<Float>) {
        for i in 0..<pixels.count { values[i] = Float(pixels[i]) / 255 }
    }

    mutating func apply(_ operation: PILOperation) {
        switch operation {
        case .identity: break
        case .autoContrast: autoContrast()
        case .equalize: equalize()
        case .posterize(let bits):
            precondition((1...8).contains(bits), "posterize: bits \(bits) must be 1…8")
            let mask = ~((1 << (8 - bits)) - 1)
            applyLookup { _ in (0..<256).map { $0 & mask } }
        case .solarize(let threshold):
            applyLookup { _ in (0..<256).map { $0 < threshold ? $0 : 255 - $0 } }
        case .brightness(let factor):
            blend(with: [UInt8](repeating: 0, count: pixels.count), factor: factor)
        case .color(let factor):
            blend(with: greyDegenerate(), factor: factor)
        case .contrast(let factor):
            blend(with: contrastDegenerate(), factor: factor)
        case .sharpness(let factor):
            blend(with: smoothed(), factor: factor)
        case .shearX(let s):
            affineFixedPoint(1, s, 0, 0, 1, 0)
        case .shearY(let s):
            affineFixedPoint(1, 0, 0, s, 1, 0)
        case .translateX(let t):
            translate(dx: t, dy: 0)
        case .translateY(let t):
            translate(dx: 0, dy: t)
        case .cutout(let x0, let y0, let x1, let y1):
            let left = Swift.max(x0, 0)
            let right = Swift.min(x1, width - 1)
            let top = Swift.max(y0, 0)
            let bottom = Swift.min(y1, height - 1)
            guard left <= right && top <= bottom else { return }
            for c in 0..<channels {
                for y in top...bottom { for x in left...right { pixels[c * plane + y * width + x] = 127 } }
            }
        }
    }

    /// Per-channel 256-entry histograms.
    func histogram(channel c: Int) -> [Int] {
        var h = [Int](repeating: 0, count: 256)
        for i in 0..<plane { h[Int(pixels[c * plane + i])] += 1 }
        return h
    }

    /// Applies one lookup table per channel (`Image.point`; entries clipped to 0…255).
    mutating func applyLookup(_ table: (Int) -> [Int]) {
        for c in 0..<channels {
            let lut = table(c).map { UInt8(Swift.min(Swift.max($0, 0), 255)) }
            for i in 0..<plane { pixels[c * plane + i] = lut[Int(pixels[c * plane + i])] }
        }
    }

    mutating func autoContrast() {
        let histograms = (0..<channels).map { histogram(channel: $0) }
        applyLookup { c -> [Int] in
            let h = histograms[c]
            let lo = h.firstIndex { $0 != 0 } ?? 0
            let hi = h.lastIndex { $0 != 0 } ?? 0
            guard hi > lo else { return Array(0..<256) }
            let scale = 255.0 / Double(hi - lo)
            let offset = -Double(lo) * scale
            return (0..<256).map { Int(Double($0) * scale + offset) }
        }
    }

    mutating func equalize() {
        let histograms = (0..<channels).map { histogram(channel: $0) }
        applyLookup { c -> [Int] in
            let h = histograms[c]
            let used = h.filter { $0 != 0 }
            guard used.count > 1 else { return Array(0..<256) }
            let step = (used.reduce(0, +) - used[used.count - 1]) / 255
            guard step > 0 else { return Array(0..<256) }
            var n = step / 2
            return (0..<256).map { i in
                defer { n += h[i] }
                return n / step
            }
        }
    }

    /// `Image.blend(degenerate, self, factor)`: `degenerate + factor·(self − degenerate)` in
    /// single precision, truncated (clamped to 0…255 when extrapolating).
    mutating func blend(with degenerate: [UInt8], factor: Float) {
        if factor >= 0 && factor <= 1 {
            for i in 0..<pixels.count {
                let a = Int32(degenerate[i])
                let b = Int32(pixels[i])
                pixels[i] = UInt8(Float(a) + factor * Float(b - a))
            }
        } else {
            for i in 0..<pixels.count {
                let a = Int32(degenerate[i])
                let b = Int32(pixels[i])
                let t = Float(a) + factor * Float(b - a)
                pixels[i] = t <= 0 ? 0 : (t >= 255 ? 255 : UInt8(t))
            }
        }
    }

    /// Luma of `convert("L")`: (19595 r + 38470 g + 7471 b + 2¹⁵) >> 16.
    func luma() -> [UInt8] {
        guard channels == 3 else { return Array(pixels[0..<plane]) }
        return (0..<plane).map { i in
            let r = UInt32(pixels[i])
            let g = UInt32(pixels[plane + i])
            let b = UInt32(pixels[2 * plane + i])
            return UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
        }
    }

    func greyDegenerate() -> [UInt8] {
        let l = luma()
        return (0..<channels).flatMap { _ in l }
    }

    func contrastDegenerate() -> [UInt8] {
        let total = luma().reduce(0) { $0 + Int($1) }
        let mean = UInt8(Int(Double(total) / Double(plane) + 0.5))
        return [UInt8](repeating: mean, count: pixels.count)
    }

    /// `filter(ImageFilter.SMOOTH)`: 3×3 kernel [[1,1,1],[1,5,1],[1,1,1]]/13 in single precision
    /// with Pillow's summation order and rounding; the border rows and columns are copied.
    func smoothed() -> [UInt8] {
        var out = pixels
        guard height >= 3 && width >= 3 else { return out }
        let k1: Float = 1 / 13
        let k5: Float = 5 / 13
        for c in 0..<channels {
            let p = c * plane
            for y in 1..<(height - 1) {
                for x in 1..<(width - 1) {
                    func v(_ yy: Int, _ xx: Int) -> Float { Float(pixels[p + yy * width + xx]) }
                    var sum: Float = 0
                    sum += v(y + 1, x - 1) * k1 + v(y + 1, x) * k1 + v(y + 1, x + 1) * k1
                    sum += v(y, x - 1) * k1 + v(y, x) * k5 + v(y, x + 1) * k1
                    sum += v(y - 1, x - 1) * k1 + v(y - 1, x) * k1 + v(y - 1, x + 1) * k1
                    out[p + y * width + x] = sum <= 0 ? 0 : (sum >= 255 ? 255 : UInt8(sum + 0.5))
                }
            }
        }
        return out
    }

    /// Pillow's nearest-neighbour affine transform with 16.16 fixed-point coordinates (the path
    /// `Image.transform(AFFINE)` takes for shears): input = (a·(x+½) + b·(y+½) + c, d·(x+½) + e·(y+½) + f).
    mutating func affineFixedPoint(_ a: Double, _ b: Double, _ c: Double, _ d: Double, _ e: Double, _ f: Double) {
        func fixed(_ v: Double) -> Int64 { Int64((v * 65536.0 + 0.5).rounded(.down)) }
        let a0 = fixed(a)
        let a1 = fixed(b)
        let a3 = fixed(d)
        let a4 = fixed(e)
        let a2 = fixed(c + b * 0.5 + a * 0.5)
        let a5 = fixed(f + e * 0.5 + d * 0.5)
        var out = [UInt8](repeating: 0, count: pixels.count)
        for y in 0..<height {
            let rowX = a2 + Int64(y) * a1
            let rowY = a5 + Int64(y) * a4
            for x in 0..<width {
                let xin = Int((rowX + Int64(x) * a0) >> 16)
                let yin = Int((rowY + Int64(x) * a3) >> 16)
                guard xin >= 0 && xin < width && yin >= 0 && yin < height else { continue }
                for ch in 0..<channels { out[ch * plane + y * width + x] = pixels[ch * plane + yin * width + xin] }
            }
        }
        pixels = out
    }

    /// An integer translation (Pillow's scaling path for affine maps without shear):
    /// out(x, y) = in(x + dx, y + dy), zero outside.
    mutating func translate(dx: Int, dy: Int) {
        var out = [UInt8](repeating: 0, count: pixels.count)
        for y in 0..<height {
            let yin = y + dy
            guard yin >= 0 && yin < height else { continue }
            for x in 0..<width {
                let xin = x + dx
                guard xin >= 0 && xin < width else { continue }
                for ch in 0..<channels { out[ch * plane + y * width + x] = pixels[ch * plane + yin * width + xin] }
            }
        }
        pixels = out
    }
}

/// Elsa's strong validation augmentation (METHODS §2.1.7): FixMatch-style RandAugment without
/// rotation. Per image: `n` distinct operations drawn uniformly from the 13-op pool, each with a
/// level `v ~ U{1 … m−1}` and applied with probability `operationProbability`; then, with
/// probability `cutoutProbability`, a grey (127) `cutoutSize` square at a uniform random centre.
/// Runs on 8-bit values like PIL (`round(x·255)`), returns `q/255`.
public struct RandAugmentMC: BatchAugmentation {
    /// The FixMatch pool, in the released code's order.
    public enum Operation: Int, CaseIterable, Sendable, Hashable {
        case autoContrast, brightness, color, contrast, equalize, identity, posterize, sharpness
        case shearX, shearY, solarize, translateX, translateY

        /// The PIL operation for level `v` (the table of §2.1.7: float ops `v·max/10 + bias`, int
        /// ops `⌊v·max/10⌋ + bias`); `negated` flips the sign of shears and translations (the
        /// code's coin flip).
        public func resolved(level v: Int, negated: Bool, imageSize: ImageSize) -> PILOperation {
            func float(_ max: Double, _ bias: Double) -> Double { Double(v) * max / 10 + bias }
            func int(_ max: Int, _ bias: Int) -> Int { Int(Double(v * max) / 10) + bias }
            func signed(_ x: Double) -> Double { negated ? -x : x }
            switch self {
            case .autoContrast: return .autoContrast
            case .brightness: return .brightness(Float(float(0.99, 0.01)))
            case .color: return .color(Float(float(0.99, 0.01)))
            case .contrast: return .contrast(Float(float(0.99, 0.01)))
            case .equalize: return .equalize
            case .identity: return .identity
            case .posterize: return .posterize(bits: int(1, 8))
            case .sharpness: return .sharpness(Float(float(0.99, 0.01)))
            case .shearX: return .shearX(signed(float(0.3, -0.3)))
            case .shearY: return .shearY(signed(float(0.3, -0.3)))
            case .solarize: return .solarize(threshold: 256 - int(256, 0))
            case .translateX: return .translateX(pixels: Int(signed(float(0.3, -0.3)) * Double(imageSize.width)))
            case .translateY: return .translateY(pixels: Int(signed(float(0.3, -0.3)) * Double(imageSize.height)))
            }
        }
    }

    public var n: Int
    public var m: Int
    public var operationProbability: Float
    public var cutoutProbability: Float
    public var cutoutSize: Int

    /// Elsa's hard-coded `RandAugmentMC(n: 12, m: 5)`.
    public init(
        n: Int = 12, m: Int = 5, operationProbability: Float = 0.8, cutoutProbability: Float = 0.2,
        cutoutSize: Int = 16
    ) {
        precondition((1...Operation.allCases.count).contains(n), "RandAugmentMC: n \(n) must be 1…13")
        precondition((2...10).contains(m), "RandAugmentMC: m \(m) must be 2…10 (levels 1…m−1)")
        self.n = n
        self.m = m
        self.operationProbability = operationProbability
        self.cutoutProbability = cutoutProbability
        self.cutoutSize = cutoutSize
    }

    /// Each image's operation list, drawn in order. Every draw is made whether or not an
    /// operation ends up applied.
    public func sampleOperations(
        count: Int, imageSize: ImageSize, using generator: inout SeededGenerator
    ) -> [[PILOperation]] {
        let pool = Operation.allCases
        return (0..<count).map { _ in
            var operations: [PILOperation] = []
            for index in generator.permutation(pool.count).prefix(n) {
                let level = 1 + generator.nextInt(below: m - 1)
                let apply = generator.bernoulli(operationProbability)
                let negated = generator.bernoulli(0.5)
                if apply {
                    operations.append(pool[index].resolved(level: level, negated: negated, imageSize: imageSize))
                }
            }
            let cut = generator.bernoulli(cutoutProbability)
            let cx = generator.nextDouble() * Double(imageSize.width)
            let cy = generator.nextDouble() * Double(imageSize.height)
            if cut { operations.append(cutout(centreX: cx, centreY: cy, imageSize: imageSize)) }
            return operations
        }
    }

    /// The code's `CutoutAbs`: corners `(⌊max(0, cx − v/2)⌋, ⌊max(0, cy − v/2)⌋)` and
    /// `(min(W, x0 + v), min(H, y0 + v))`, drawn inclusively by PIL.
    public func cutout(centreX: Double, centreY: Double, imageSize: ImageSize) -> PILOperation {
        let half = Double(cutoutSize) / 2
        let x0 = Int(Swift.max(0, centreX - half))
        let y0 = Int(Swift.max(0, centreY - half))
        return .cutout(
            x0: x0, y0: y0, x1: Swift.min(imageSize.width, x0 + cutoutSize),
            y1: Swift.min(imageSize.height, y0 + cutoutSize))
    }

    public func callAsFunction(_ batch: Tensor, using generator: inout SeededGenerator) -> Tensor {
        let d = BatchDimensions(batch, op: "RandAugmentMC")
        let operations = sampleOperations(count: d.count, imageSize: d.size, using: &generator)
        return ImageOps.applyPIL(perImage: operations, to: batch)
    }
}
