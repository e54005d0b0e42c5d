import Foundation

/// Reader for the IDX format of MNIST and Fashion-MNIST (gzip-compressed or raw): a big-endian
/// header (magic `0x00000803` for images N×H×W, `0x00000801` for labels N) followed by
/// unsigned bytes.
public enum IDXReader {
    /// Magic number of an IDX file of unsigned bytes with three dimensions (images).
    public static let imagesMagic: UInt32 = 0x0000_0803
    /// Magic number of an IDX file of unsigned bytes with one dimension (labels).
    public static let labelsMagic: UInt32 = 0x0000_0801

    /// Reads an IDX image file as `[N, 1, H, W]` bytes.
    public static func readImages(at url: URL) throws -> ImageBytes {
        try parseImages(FileBytes.readDecompressingGzip(url), path: url.path)
    }

    /// Parses IDX image bytes held in memory (gzip-compressed or raw) as `[N, 1, H, W]`;
    /// `path` names them in errors.
    public static func parseImages(_ compressedOrRaw: [UInt8], path: String) throws -> ImageBytes {
        let bytes = try FileBytes.decompressingGzip(compressedOrRaw, path: path)
        let dimensions = try header(bytes, path: path, expectedMagic: imagesMagic, what: "images")
        guard dimensions.count == 3 else {
            throw DatasetError.corrupt(path: path, problem: "IDX images need 3 dimensions, the header has \(dimensions.count)")
        }
        let (count, height, width) = (dimensions[0], dimensions[1], dimensions[2])
        let pixels = try payload(
            bytes, path: path, headerSize: 16, dimensions: dimensions,
            what: { "\(count)×\(height)×\(width) = \($0) bytes of pixels" })
        return ImageBytes(pixels: pixels, shape: [count, 1, height, width])
    }

    /// Reads an IDX label file as integers.
    public static func readLabels(at url: URL) throws -> [Int] {
        let bytes = try FileBytes.readDecompressingGzip(url)
        let dimensions = try header(bytes, path: url.path, expectedMagic: labelsMagic, what: "labels")
        guard dimensions.count == 1 else {
            throw DatasetError.corrupt(path: url.path, problem: "IDX labels need 1 dimension, the header has \(dimensions.count)")
        }
        let labels = try payload(
            bytes, path: url.path, headerSize: 8, dimensions: dimensions, what: { "\($0) label bytes" })
        return labels.map { Int($0) }
    }

    /// Reads an image file and its label file, checking that the counts agree.
    public static func readLabeledImages(images imagesURL: URL, labels labelsURL: URL, classNames: [String] = [])
        throws -> LabeledImageBytes
    {
        let images = try readImages(at: imagesURL)
        let labels = try readLabels(at: labelsURL)
        guard images.count == labels.count else {
            throw DatasetError.mismatch(
                paths: [imagesURL.path, labelsURL.path],
                problem: "\(images.count) images but \(labels.count) labels")
        }
        if !classNames.isEmpty, let bad = labels.firstIndex(where: { $0 >= classNames.count }) {
            throw DatasetError.corrupt(
                path: labelsURL.path,
                problem: "label \(bad) is \(labels[bad]), but there are only \(classNames.count) classes")
        }
        return LabeledImageBytes(images: images, labels: labels, classNames: classNames)
    }

    private static func header(_ bytes: [UInt8], path: String, expectedMagic: UInt32, what: String) throws -> [Int] {
        guard bytes.count >= 4 else {
            throw DatasetError.truncated(path: path, problem: "\(bytes.count) bytes, too short for an IDX header")
        }
        let magic = bytes.bigEndianUInt32(at: 0)
        guard magic == expectedMagic else {
            let hex = { (value: UInt32) in "0x" + String(format: "%08X", value) }
            var problem = "magic number \(hex(magic)), expected \(hex(expectedMagic)) (IDX \(what))"
            if magic >> 16 != 0 {
                problem += "; this is not an IDX file"
            } else if (magic >> 8) & 0xff != 0x08 {
                problem += "; only unsigned-byte IDX data (type 0x08) is supported"
            }
            throw DatasetError.corrupt(path: path, problem: problem)
        }
        let dimensionCount = Int(magic & 0xff)
        let headerSize = 4 + 4 * dimensionCount
        guard bytes.count >= headerSize else {
            throw DatasetError.truncated(
                path: path, problem: "\(bytes.count) bytes, too short for the \(headerSize)-byte IDX \(what) header")
        }
        return (0..<dimensionCount).map { Int(bytes.bigEndianUInt32(at: 4 + 4 * $0)) }
    }

    /// The data after the header, which must be exactly the product of `dimensions` bytes;
    /// `what` describes that count in errors.
    private static func payload(
        _ bytes: [UInt8], path: String, headerSize: Int, dimensions: [Int], what describe: (Int) -> String
    ) throws -> [UInt8] {
        let expected = try UntrustedSize.product(dimensions, path: path, what: "the IDX dimensions")
        let what = describe(expected)
        let available = bytes.count - headerSize
        if available < expected {
            throw DatasetError.truncated(
                path: path, problem: "header says \(what), file has \(available)")
        }
        if available > expected {
            throw DatasetError.corrupt(
                path: path, problem: "header says \(what), file has \(available) (\(available - expected) extra bytes)")
        }
        return Array(bytes[headerSize...])
    }
}
