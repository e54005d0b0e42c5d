/// A batch of samples as a dense row-major Float32 matrix: `shape[0]` samples, each of
/// `shape.dropFirst()` (for example `[N, 1, 28, 28]` images or `[N, d]` table rows).
/// No tensor dependency, so classical detectors and metrics can use it directly.
public struct Samples: Sendable, Equatable {
    public var values: [Float]
    public var shape: [Int]

    public init(values: [Float], shape: [Int]) {
        precondition(!shape.isEmpty, "Samples needs at least one dimension (the sample count)")
        precondition(
            shape.reduce(1, *) == values.count,
            "Samples: \(values.count) values do not fill shape \(shape)")
        self.values = values
        self.shape = shape
    }

    /// Rows of a table: `rows.count` samples of `featureCount` values each.
    public init(rows: [[Float]]) {
        let width = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == width }, "Samples: rows of unequal length")
        self.init(values: rows.flatMap { $0 }, shape: [rows.count, width])
    }

    /// Number of samples.
    public var count: Int { shape[0] }
    /// Values per sample (the product of the non-leading dimensions).
    public var featureCount: Int { shape.dropFirst().reduce(1, *) }
    /// Shape of one sample.
    public var sampleShape: [Int] { Array(shape.dropFirst()) }

    /// The values of sample `index`.
    public func row(_ index: Int) -> ArraySlice<Float> {
        let width = featureCount
        return values[(index * width)..<((index + 1) * width)]
    }

    /// The samples at `indices`, in that order.
    public func selecting(_ indices: [Int]) -> Samples {
        let width = featureCount
        var out = [Float]()
        out.reserveCapacity(indices.count * width)
        for index in indices {
            precondition(index >= 0 && index < count, "Samples: index \(index) out of range 0..<\(count)")
            out.append(contentsOf: values[(index * width)..<((index + 1) * width)])
        }
        return Samples(values: out, shape: [indices.count] + sampleShape)
    }

    /// Concatenation along the sample axis; sample shapes must agree.
    public static func concatenating(_ parts: [Samples]) -> Samples {
        guard let first = parts.first else { return Samples(values: [], shape: [0]) }
        precondition(parts.allSatisfy { $0.sampleShape == first.sampleShape }, "Samples: sample shapes differ")
        return Samples(
            values: parts.flatMap { $0.values }, shape: [parts.reduce(0) { $0 + $1.count }] + first.sampleShape)
    }
}

/// Samples with one integer class label each (the data set's own classes, not anomaly labels).
public struct LabeledSamples: Sendable, Equatable {
    public var samples: Samples
    public var labels: [Int]
    public var classNames: [String]

    public init(samples: Samples, labels: [Int], classNames: [String] = []) {
        precondition(samples.count == labels.count, "LabeledSamples: \(samples.count) samples but \(labels.count) labels")
        self.samples = samples
        self.labels = labels
        self.classNames = classNames
    }

    public var count: Int { labels.count }

    public func selecting(_ indices: [Int]) -> LabeledSamples {
        LabeledSamples(samples: samples.selecting(indices), labels: indices.map { labels[$0] }, classNames: classNames)
    }
}
