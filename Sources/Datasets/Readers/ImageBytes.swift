/// Images as their stored 8-bit pixel values, in NCHW order (`shape` = `[N, C, H, W]`): a
/// quarter of the memory of `Samples`. `normalizedSamples()` gives the Float view in [0, 1].
public struct ImageBytes: Sendable, Equatable {
    /// `N·C·H·W` pixel values, sample-major, then channel, row, column.
    public var pixels: [UInt8]
    /// `[N, C, H, W]`.
    public var shape: [Int]

    public init(pixels: [UInt8], shape: [Int]) {
        precondition(shape.count == 4, "ImageBytes: shape must be [N, C, H, W], got \(shape)")
        precondition(shape.allSatisfy { $0 >= 0 }, "ImageBytes: negative dimension in \(shape)")
        precondition(
            shape.reduce(1, *) == pixels.count, "ImageBytes: \(pixels.count) pixels do not fill shape \(shape)")
        self.pixels = pixels
        self.shape = shape
    }

    /// Number of images.
    public var count: Int { shape[0] }
    public var channels: Int { shape[1] }
    public var height: Int { shape[2] }
    public var width: Int { shape[3] }
    /// Pixel values per image (`C·H·W`).
    public var valuesPerImage: Int { shape[1] * shape[2] * shape[3] }

    /// The images as Float values `pixel / 255`, same NCHW shape.
    public func normalizedSamples() -> Samples {
        Samples(values: Self.normalized(pixels), shape: shape)
    }

    /// The images at `indices`, in that order.
    public func selecting(_ indices: [Int]) -> ImageBytes {
        let width = valuesPerImage
        var out = [UInt8]()
        out.reserveCapacity(indices.count * width)
        for index in indices {
            precondition(index >= 0 && index < count, "ImageBytes: index \(index) out of range 0..<\(count)")
            out.append(contentsOf: pixels[(index * width)..<((index + 1) * width)])
        }
        return ImageBytes(pixels: out, shape: [indices.count] + shape.dropFirst())
    }

    /// Concatenation along the image axis; the per-image shapes must agree.
    public static func concatenating(_ parts: [ImageBytes]) -> ImageBytes {
        guard let first = parts.first else { return ImageBytes(pixels: [], shape: [0, 0, 0, 0]) }
        precondition(
            parts.allSatisfy { $0.shape.dropFirst() == first.shape.dropFirst() }, "ImageBytes: image shapes differ")
        var pixels = [UInt8]()
        pixels.reserveCapacity(parts.reduce(0) { $0 + $1.pixels.count })
        for part in parts { pixels.append(contentsOf: part.pixels) }
        return ImageBytes(pixels: pixels, shape: [parts.reduce(0) { $0 + $1.count }] + first.shape.dropFirst())
    }

    /// `byte / 255` for every byte, through a 256-entry table.
    static func normalized(_ bytes: [UInt8]) -> [Float] {
        var table = [Float](repeating: 0, count: 256)
        for value in 0..<256 { table[value] = Float(value) / 255 }
        return [Float](unsafeUninitializedCapacity: bytes.count) { out, initialized in
            table.withUnsafeBufferPointer { table in
                bytes.withUnsafeBufferPointer { source in
                    for index in 0..<source.count { out[index] = table[Int(source[index])] }
                }
            }
            initialized = bytes.count
        }
    }
}

/// Images as 8-bit pixels with one integer class label each.
public struct LabeledImageBytes: Sendable, Equatable {
    public var images: ImageBytes
    public var labels: [Int]
    /// Names of the classes, indexed by label (may be empty when unknown).
    public var classNames: [String]

    public init(images: ImageBytes, labels: [Int], classNames: [String] = []) {
        precondition(
            images.count == labels.count, "LabeledImageBytes: \(images.count) images but \(labels.count) labels")
        self.images = images
        self.labels = labels
        self.classNames = classNames
    }

    public var count: Int { labels.count }

    /// The Float view: values `pixel / 255` in [0, 1], shape `[N, C, H, W]`.
    public func labeledSamples() -> LabeledSamples {
        LabeledSamples(samples: images.normalizedSamples(), labels: labels, classNames: classNames)
    }

    public func selecting(_ indices: [Int]) -> LabeledImageBytes {
        LabeledImageBytes(images: images.selecting(indices), labels: indices.map { labels[$0] }, classNames: classNames)
    }

    /// Concatenation along the image axis (class names from the first part).
    public static func concatenating(_ parts: [LabeledImageBytes]) -> LabeledImageBytes {
        LabeledImageBytes(
            images: ImageBytes.concatenating(parts.map(\.images)), labels: parts.flatMap(\.labels),
            classNames: parts.first?.classNames ?? [])
    }
}
