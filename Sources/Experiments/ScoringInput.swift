import Datasets
import Foundation

/// Samples to score with a finished run, and their 0/1 labels when the input carries them:
/// what `anomaly score` and `anomaly predict` read from a file and `anomaly serve` from a
/// request body.
///
/// Formats:
/// - a CSV table (`.csv[.gz]`) with a header; a column named `label` holds 0/1 labels and is
///   optional;
/// - an `.npy` array `[N, …]` (a 1-d array is one sample);
/// - an IDX image file (`*-idx3-ubyte[.gz]`), pixels scaled to [0, 1] as the catalogue's;
/// - one PNG image, pixels scaled to [0, 1] and converted to the model's channel count when
///   the model was fitted on `[C, H, W]` images (as a PNG folder data set is read).
public struct ScoringInput: Sendable {
    public var samples: Samples
    public var labels: [Int]?

    public init(samples: Samples, labels: [Int]? = nil) {
        self.samples = samples
        self.labels = labels
    }

    /// What a body or file holds, by content.
    public enum Format: String, Sendable, CaseIterable {
        case csv, npy, idx, png
    }

    /// Reads the file at `url`, by its name: `.npy`, `.png`, `*idx3-ubyte*`, else a CSV table.
    /// `sampleShape` is the model's (for a PNG's channel count). Throws when it holds no sample.
    public static func read(_ url: URL, sampleShape: [Int]? = nil) throws -> ScoringInput {
        let name = url.lastPathComponent.lowercased()
        let input: ScoringInput
        if name.hasSuffix(".npy") {
            input = try fromArray(NumpyReader.readArray(at: url), path: url.path)
        } else if name.hasSuffix(".png") {
            input = fromImage(try PNGDecoder.decode(fileAt: url), sampleShape: sampleShape)
        } else if name.contains("idx3-ubyte") {
            input = ScoringInput(samples: try IDXReader.readImages(at: url).normalizedSamples())
        } else if name.hasSuffix(".csv") || name.hasSuffix(".csv.gz") {
            input = fromTable(try CSVReader.readLabeledTable(at: url, labelColumn: .ifPresent("label")))
        } else {
            throw ExperimentError.invalidArgument(
                "\(url.path): unknown input format; use .csv[.gz], .npy, .png or an IDX image file (*-idx3-ubyte[.gz])")
        }
        return try input.nonEmpty(url.path)
    }

    /// The format of `bytes` by their first bytes: the PNG signature, the NPY magic, the IDX
    /// images magic (gzip-compressed IDX too), else CSV text (gzip-compressed or raw).
    public static func format(of bytes: [UInt8]) -> Format {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return .png }
        if bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) { return .npy }
        if bytes.starts(with: [0x00, 0x00, 0x08, 0x03]) { return .idx }
        if GzipDecoder.hasGzipMagic(bytes), bytes.count >= 10 {
            // A gzip member whose stored name ends in idx3-ubyte (FNAME flag set), else text.
            let flags = bytes[3]
            if flags & 0x08 != 0, flags & 0x04 == 0 {
                let name = bytes[10...].prefix { $0 != 0 }
                if String(decoding: name, as: UTF8.self).contains("idx3-ubyte") { return .idx }
            }
        }
        return .csv
    }

    /// Parses `bytes` (a request body) in `format`, or by content when `format` is nil;
    /// `name` stands for them in errors. Throws when they hold no sample.
    public static func parse(_ bytes: [UInt8], format: Format? = nil, name: String, sampleShape: [Int]? = nil) throws
        -> ScoringInput
    {
        let input: ScoringInput
        switch format ?? Self.format(of: bytes) {
        case .npy: input = try fromArray(NumpyReader.parseArray(bytes, path: name), path: name)
        case .png: input = fromImage(try PNGDecoder.decode(bytes, path: name), sampleShape: sampleShape)
        case .idx: input = ScoringInput(samples: try IDXReader.parseImages(bytes, path: name).normalizedSamples())
        case .csv: input = fromTable(try CSVReader.parseLabeledTable(bytes, path: name, labelColumn: .ifPresent("label")))
        }
        return try input.nonEmpty(name)
    }

    private func nonEmpty(_ name: String) throws -> ScoringInput {
        guard samples.count > 0 else { throw ExperimentError.invalidArgument("\(name): holds no samples") }
        return self
    }

    private static func fromArray(_ array: NumpyArray, path: String) throws -> ScoringInput {
        guard !array.shape.isEmpty else { throw ExperimentError.invalidArgument("\(path): a 0-d array holds no samples") }
        return ScoringInput(samples: Samples(values: array.floatValues(), shape: array.shape.count == 1 ? [1, array.shape[0]] : array.shape))
    }

    private static func fromTable(_ table: LabeledTable) -> ScoringInput {
        ScoringInput(samples: table.samples.samples, labels: table.hasLabelColumn ? table.samples.labels : nil)
    }

    /// One image as one sample `[1, C, H, W]`, in the model's channel count when it has one.
    private static func fromImage(_ image: PNGImage, sampleShape: [Int]?) -> ScoringInput {
        var image = image
        if let sampleShape, sampleShape.count == 3, (1...4).contains(sampleShape[0]) {
            image = image.converted(toChannels: sampleShape[0])
        }
        let bytes = ImageBytes(pixels: image.planarPixels(), shape: [1, image.channels, image.height, image.width])
        return ScoringInput(samples: bytes.normalizedSamples())
    }
}
