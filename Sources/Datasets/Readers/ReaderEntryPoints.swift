import Foundation

/// Public doors to the byte-level parsers that the data-set code uses only internally (the tar
/// extractor of the fetcher, the zip reader under `.npz`), so that the fuzz harnesses
/// (`Sources/FuzzHarnesses`) and their regression tests can reach them without `@testable`.
/// They add no behaviour: each call goes straight to the internal type.
public enum ReaderEntryPoints {
    /// Extracts the regular members of the tar stream `bytes` whose path starts with
    /// `memberPrefix` flat into `folder`, as `DatasetFetcher` does with a downloaded archive;
    /// returns the files written. The stream is fed in `pieceSize`-byte pieces, so that
    /// members and headers straddle piece boundaries as they do when the extractor is fed
    /// straight from the gzip decoder.
    @discardableResult
    public static func extractTar(
        _ bytes: [UInt8], into folder: URL, memberPrefix: String = "", pieceSize: Int = 1 << 18
    ) throws -> [URL] {
        precondition(pieceSize > 0, "extractTar: pieceSize must be positive")
        let extractor = TarExtractor(destination: folder, memberPrefix: memberPrefix, archivePath: folder.path)
        try bytes.withUnsafeBytes { raw in
            var start = 0
            while start < raw.count {
                let end = min(start + pieceSize, raw.count)
                try extractor.consume(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                start = end
            }
        }
        try extractor.finish()
        return extractor.extracted
    }

    /// Every entry of the zip archive `bytes` (the `.npz` container), in central-directory
    /// order, with its uncompressed and CRC-checked content. `path` names the archive in errors.
    public static func zipEntries(_ bytes: [UInt8], path: String) throws -> [(name: String, content: [UInt8])] {
        try ZipArchive.entries(of: bytes, path: path).map { entry in
            (entry.name, try ZipArchive.extract(entry, from: bytes, path: path))
        }
    }
}
