import Tensors

/// CSI's `simclr_aug` (METHODS §1.2): ColorJitter → RandomGrayscale → RandomResizedCrop, each
/// with independent randomness per image.
public struct SimCLRAugmentation: BatchAugmentation {
    public var colorJitter: ColorJitter
    public var grayscale: RandomGrayscale
    public var crop: RandomResizedCrop

    /// `cropScale` (0.08, 1) for CSI/HSCL pre-training, (0.54, 0.54) for evaluation and Elsa
    /// fine-tuning; `outputSize` nil keeps the input size.
    public init(
        cropScale: ClosedRange<Double> = 0.08...1, outputSize: ImageSize? = nil,
        colorJitter: ColorJitter = ColorJitter(), grayscale: RandomGrayscale = RandomGrayscale()
    ) {
        self.colorJitter = colorJitter
        self.grayscale = grayscale
        self.crop = RandomResizedCrop(scale: cropScale, outputSize: outputSize)
    }

    /// Pre-training augmentation (crop area in (0.08, 1)).
    public static let training = SimCLRAugmentation(cropScale: 0.08...1)
    /// Evaluation / Elsa fine-tuning augmentation (fixed 54 % crop area).
    public static let evaluation = SimCLRAugmentation(cropScale: 0.54...0.54)

    public func callAsFunction(_ batch: Tensor, using generator: inout SeededGenerator) -> Tensor {
        let jittered = colorJitter(batch, using: &generator)
        let grey = grayscale(jittered, using: &generator)
        return crop(grey, using: &generator)
    }
}

/// The CSI-family view builder (METHODS §1.4, training batch construction): a batch of B images
/// becomes `viewCount` independently h-flipped copies, each expanded into its `rotationCount`
/// rotations, then `simclr_aug` with independent randomness per view.
///
/// Output row `(v·K + k)·B + b` holds image `b`, view `v`, rotation `k` (K = `rotationCount`), so
/// for two views the positive of row `i` is row `i ± K·B` (NT-Xent pairs `i` and `i + K·B`).
/// `rotationCount = 1` gives plain SimCLR / Elsa two-view batches.
public struct CSIAugmentation: BatchAugmentation {
    public var flip: RandomHorizontalFlip
    public var simclr: SimCLRAugmentation
    public var viewCount: Int
    public var rotationCount: Int

    public init(
        simclr: SimCLRAugmentation = .training, viewCount: Int = 2, rotationCount: Int = 4,
        flip: RandomHorizontalFlip = RandomHorizontalFlip()
    ) {
        precondition(viewCount >= 1, "CSIAugmentation: viewCount \(viewCount) must be at least 1")
        precondition((1...4).contains(rotationCount), "CSIAugmentation: rotationCount \(rotationCount) must be 1…4")
        self.flip = flip
        self.simclr = simclr
        self.viewCount = viewCount
        self.rotationCount = rotationCount
    }

    /// The rotation index `k` of every output row, in output order.
    public func rotationLabels(batchSize: Int) -> [Int] {
        (0..<viewCount).flatMap { _ in (0..<rotationCount).flatMap { k in Array(repeating: k, count: batchSize) } }
    }

    /// Per-image values (semi-labels) repeated for every output row, in output order.
    public func viewLabels<T>(_ perImage: [T]) -> [T] {
        (0..<(viewCount * rotationCount)).flatMap { _ in perImage }
    }

    /// The row of image `image`, view `view`, rotation `rotation` in a batch of `batchSize`.
    public func row(image: Int, view: Int, rotation: Int, batchSize: Int) -> Int {
        (view * rotationCount + rotation) * batchSize + image
    }

    /// The flipped and rotated views before `simclr_aug`: `[X¹; X²; …]`, `X^v = [R0(x^v); …]`,
    /// with all rotations of a copy sharing its flip.
    public func shiftedViews(_ batch: Tensor, using generator: inout SeededGenerator) -> Tensor {
        let d = BatchDimensions(batch, op: "CSIAugmentation")
        precondition(
            rotationCount == 1 || d.height == d.width,
            "CSIAugmentation: rotations need square images, got \(d.height)×\(d.width)")
        let copies = (0..<viewCount).map { _ in
            ImageOps.flipHorizontally(batch, where: flip.sampleFlags(count: d.count, using: &generator))
        }
        let out = Tensor.zeros([viewCount * rotationCount * d.count, d.channels, d.height, d.width])
        let dst = out.pointer
        let planesPerBlock = d.count * d.channels
        let blocks = viewCount * rotationCount
        forEachSample(blocks * planesPerBlock, costPerSample: d.plane) { q in
            let block = q / planesPerBlock
            let p = q % planesPerBlock
            let view = block / rotationCount
            let k = block % rotationCount
            ImageOps.rotatePlane(
                copies[view].pointer + p * d.plane, dst + q * d.plane, height: d.height, width: d.width, turns: k)
        }
        return out
    }

    /// Training views: `shiftedViews` followed by `simclr_aug`.
    public func callAsFunction(_ batch: Tensor, using generator: inout SeededGenerator) -> Tensor {
        let views = shiftedViews(batch, using: &generator)
        return simclr(views, using: &generator)
    }

    /// A test-time view for shift `rotation` (METHODS §1.4 score): `simclr_aug(R_k(hflip(x)))` with
    /// a fresh flip per call, as the released evaluation code does per rotation.
    public func testView(_ batch: Tensor, rotation: Int, using generator: inout SeededGenerator) -> Tensor {
        let flipped = flip(batch, using: &generator)
        return simclr(ImageOps.rot90(flipped, k: rotation), using: &generator)
    }
}
