import Foundation

/// Sizes, counts, offsets and dimensions that come from a file are untrusted: a crafted header
/// can hold any value. Every conversion and every product or sum of such values goes through
/// these functions, which throw an error naming the file and the quantity instead of trapping
/// on overflow.
enum UntrustedSize {
    /// `value` as an `Int`, or `corrupt` when it does not fit (a zip64 size ≥ 2^63, say).
    static func int<Value: BinaryInteger>(_ value: Value, path: String, what: String) throws -> Int {
        guard let converted = Int(exactly: value) else {
            throw DatasetError.corrupt(path: path, problem: "\(what) \(value) is out of range")
        }
        return converted
    }

    /// The product of `factors` (all ≥ 0), or `corrupt` when it overflows. A zero factor makes
    /// the product 0, but the other factors must still multiply without overflow: they become
    /// strides and shapes downstream.
    static func product(_ factors: [Int], path: String, what: String) throws -> Int {
        var nonZero = 1
        for factor in factors where factor != 0 {
            let (next, overflow) = nonZero.multipliedReportingOverflow(by: factor)
            guard !overflow, factor > 0 else {
                let shown = factors.map(String.init).joined(separator: "×")
                throw DatasetError.corrupt(
                    path: path,
                    problem: factor < 0 ? "\(what) \(shown) include a negative size" : "\(what) \(shown) overflow a 64-bit size")
            }
            nonZero = next
        }
        return factors.contains(0) ? 0 : nonZero
    }
}

/// The limits on what a small file may make a reader allocate. Readers of raw formats never
/// allocate more than the file's real size (a header is checked against the bytes that are
/// there before anything is reserved); compressed data is different, so every decompression is
/// bounded twice: by the size its container declares (itself checked against deflate's best
/// ratio) and by `decompressedBytes`.
public enum ReadLimits {
    /// Deflate's best compression ratio (258-byte matches coded in about 2 bits: 1032:1). A
    /// declared decompressed size above this multiple of the compressed size is a lie.
    public static let deflateRatio = 1032

    /// The most bytes one file (or archive member) may decompress to: 1 GiB, or
    /// `ANOMALYKIT_MAX_DECOMPRESSED_MB` megabytes. The largest catalogue file (Fashion-MNIST's
    /// training images, 47 MB; KDDCUP99's table, 144 MB) is far below it; the limit keeps a
    /// gzip bomb from exhausting memory.
    public static let decompressedBytes: Int = {
        let environment = ProcessInfo.processInfo.environment["ANOMALYKIT_MAX_DECOMPRESSED_MB"]
        if let text = environment, let megabytes = Int(text), megabytes > 0, megabytes <= 1 << 30 {
            return megabytes << 20
        }
        return 1 << 30
    }()

    /// The error for output that passed `decompressedBytes`.
    static func decompressedTooLarge(path: String, what: String, limit: Int = decompressedBytes) -> DatasetError {
        .tooLarge(
            path: path,
            problem:
                "\(what) decompresses to more than \(limit >> 20) MB (the limit; set ANOMALYKIT_MAX_DECOMPRESSED_MB to raise it)"
        )
    }

    /// Checks a declared decompressed size against the compressed size it must come from and
    /// against `decompressedBytes`, before anything is reserved for it.
    static func checkDeclaredDecompressedSize(
        _ declared: Int, compressedCount: Int, path: String, what: String
    ) throws {
        let (most, overflow) = compressedCount.multipliedReportingOverflow(by: deflateRatio)
        if declared < 0 || (!overflow && declared > most + 64) {
            throw DatasetError.corrupt(
                path: path,
                problem: "\(what) declares \(declared) bytes, more than deflate can make of \(compressedCount) bytes")
        }
        if declared > decompressedBytes { throw decompressedTooLarge(path: path, what: what) }
    }
}
