import Foundation

/// Reader for the CIFAR binary record layout (gzip-compressed or raw). A file is a sequence of
/// records without header: the label byte(s), then 1024 red, 1024 green and 1024 blue bytes,
/// each plane a row-major 32×32 image.
public enum CIFARReader {
    /// Which record layout, and for CIFAR-100 which of its two labels to keep.
    public enum RecordLayout: Sendable, Hashable {
        /// CIFAR-10: 1 label byte + 3072 pixel bytes.
        case cifar10
        /// CIFAR-100: coarse (superclass, 0–19) label byte, fine (class, 0–99) label byte, then
        /// 3072 pixel bytes; keep the fine labels.
        case cifar100Fine
        /// CIFAR-100 keeping the coarse (20 superclass) labels.
        case cifar100Coarse

        /// Label bytes at the start of each record.
        public var labelByteCount: Int { self == .cifar10 ? 1 : 2 }
        /// Bytes per record.
        public var recordSize: Int { labelByteCount + pixelBytesPerImage }
        var labelOffset: Int { self == .cifar100Fine ? 1 : 0 }
    }

    /// Pixel bytes per image: 3 channels × 32 × 32.
    public static let pixelBytesPerImage = 3 * 32 * 32

    /// Reads the records of one file as `[N, 3, 32, 32]` bytes with their labels.
    public static func read(at url: URL, layout: RecordLayout = .cifar10, classNames: [String] = [])
        throws -> LabeledImageBytes
    {
        let bytes = try FileBytes.readDecompressingGzip(url)
        let recordSize = layout.recordSize
        guard bytes.count % recordSize == 0 else {
            throw DatasetError.corrupt(
                path: url.path,
                problem:
                    "\(bytes.count) bytes is not a multiple of the \(recordSize)-byte \(layout == .cifar10 ? "CIFAR-10" : "CIFAR-100") record (\(bytes.count / recordSize) records and \(bytes.count % recordSize) bytes left over)"
            )
        }
        let count = bytes.count / recordSize
        var labels = [Int](repeating: 0, count: count)
        let pixels = [UInt8](unsafeUninitializedCapacity: count * pixelBytesPerImage) { out, initialized in
            bytes.withUnsafeBufferPointer { source in
                for record in 0..<count {
                    let start = record * recordSize
                    labels[record] = Int(source[start + layout.labelOffset])
                    let from = UnsafeRawPointer(source.baseAddress! + start + layout.labelByteCount)
                    (out.baseAddress! + record * pixelBytesPerImage).update(
                        from: from.assumingMemoryBound(to: UInt8.self), count: pixelBytesPerImage)
                }
            }
            initialized = count * pixelBytesPerImage
        }
        if !classNames.isEmpty, let bad = labels.firstIndex(where: { $0 >= classNames.count }) {
            throw DatasetError.corrupt(
                path: url.path,
                problem: "record \(bad) has label \(labels[bad]), but there are only \(classNames.count) classes")
        }
        return LabeledImageBytes(
            images: ImageBytes(pixels: pixels, shape: [count, 3, 32, 32]), labels: labels, classNames: classNames)
    }

    /// Reads several files (for example `data_batch_1` … `data_batch_5`) into one set, in order.
    public static func read(files urls: [URL], layout: RecordLayout = .cifar10, classNames: [String] = [])
        throws -> LabeledImageBytes
    {
        LabeledImageBytes.concatenating(try urls.map { try read(at: $0, layout: layout, classNames: classNames) })
    }

    /// Class names from a text file with one name per line (`batches.meta.txt`,
    /// `fine_label_names.txt`); blank lines are skipped.
    public static func readClassNames(at url: URL) throws -> [String] {
        let bytes = try FileBytes.read(url)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw DatasetError.corrupt(path: url.path, problem: "not UTF-8 text")
        }
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }
}
