import CZlib
import Foundation

/// A streaming zlib inflater for the three framings zlib knows: gzip (possibly several
/// concatenated members, each with its CRC-32 and ISIZE checked by zlib), zlib (PNG's IDAT
/// stream, with its Adler-32 check) and raw deflate (zip entries).
final class ZlibInflater {
    enum Framing {
        /// gzip members (`windowBits` 15 + 32: zlib detects the header and checks CRC-32 and ISIZE).
        case gzip
        /// A zlib stream (`windowBits` 15).
        case zlib
        /// Raw deflate without header or trailer (`windowBits` -15).
        case rawDeflate
    }

    private enum State {
        case inStream, afterStream, trailingZeros
    }

    private let stream: UnsafeMutablePointer<z_stream>
    private let framing: Framing
    private let path: String
    private var state = State.inStream
    private var sawInput = false
    private let outputChunk: UnsafeMutablePointer<UInt8>
    private let outputChunkSize: Int

    /// Total compressed bytes consumed and decompressed bytes produced so far.
    private(set) var totalIn = 0
    private(set) var totalOut = 0

    /// - Parameter path: the file the data comes from, for error messages.
    init(framing: Framing, path: String, outputChunkSize: Int = 1 << 18) throws {
        self.framing = framing
        self.path = path
        self.outputChunkSize = outputChunkSize
        outputChunk = .allocate(capacity: outputChunkSize)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let windowBits: Int32
        switch framing {
        case .gzip: windowBits = 15 + 32
        case .zlib: windowBits = 15
        case .rawDeflate: windowBits = -15
        }
        let status = inflateInit2_(stream, windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            outputChunk.deallocate()
            throw DatasetError.unreadable(path: path, reason: "zlib inflateInit2 failed with status \(status)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        outputChunk.deallocate()
    }

    private var formatName: String {
        switch framing {
        case .gzip: return "gzip"
        case .zlib: return "zlib"
        case .rawDeflate: return "deflate"
        }
    }

    /// Decompresses `input`, handing every piece of output to `sink` in order.
    func feed(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = input.baseAddress, input.count > 0 else { return }
        sawInput = true
        stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        while true {
            if state != .inStream {
                guard stream.pointee.avail_in > 0 else { return }
                guard framing == .gzip else {
                    throw DatasetError.corrupt(
                        path: path,
                        problem: "\(stream.pointee.avail_in) unexpected bytes after the end of the \(formatName) stream"
                    )
                }
                // After a gzip member: either another member, or zero padding up to the end.
                let next = stream.pointee.next_in!
                let remaining = Int(stream.pointee.avail_in)
                if state == .afterStream && next[0] != 0 {
                    inflateReset(stream)
                    state = .inStream
                } else {
                    for index in 0..<remaining where next[index] != 0 {
                        throw DatasetError.corrupt(
                            path: path,
                            problem: "non-zero bytes after the zero padding that follows the last gzip member")
                    }
                    totalIn += remaining
                    state = .trailingZeros
                    return
                }
            }
            stream.pointee.next_out = outputChunk
            stream.pointee.avail_out = uInt(outputChunkSize)
            let availableBefore = Int(stream.pointee.avail_in)
            let status = inflate(stream, Z_NO_FLUSH)
            totalIn += availableBefore - Int(stream.pointee.avail_in)
            let produced = outputChunkSize - Int(stream.pointee.avail_out)
            if produced > 0 {
                totalOut += produced
                try sink(UnsafeRawBufferPointer(start: outputChunk, count: produced))
            }
            switch status {
            case Z_STREAM_END:
                state = .afterStream
            case Z_OK:
                if stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0 { return }
            case Z_BUF_ERROR:
                // No progress possible: all input consumed (more may come in the next feed).
                if stream.pointee.avail_in == 0 { return }
                throw DatasetError.corrupt(path: path, problem: "\(formatName) stream made no progress")
            case Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR:
                throw DatasetError.corrupt(path: path, problem: describe(status: status))
            case Z_MEM_ERROR:
                throw DatasetError.unreadable(path: path, reason: "zlib ran out of memory")
            default:
                throw DatasetError.corrupt(path: path, problem: describe(status: status))
            }
        }
    }

    /// Checks that the compressed data ended exactly at the end of a stream (or gzip member).
    func finish() throws {
        guard sawInput else {
            throw DatasetError.truncated(path: path, problem: "no \(formatName) data (empty input)")
        }
        if state == .inStream {
            throw DatasetError.truncated(
                path: path,
                problem:
                    "the \(formatName) stream ends early: \(totalIn) compressed bytes gave \(totalOut) bytes, and the end of the stream\(framing == .gzip ? " (CRC-32 and length trailer)" : "") was not reached"
            )
        }
    }

    private func describe(status: Int32) -> String {
        let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)"
        switch message {
        case "incorrect data check":
            return framing == .gzip
                ? "CRC-32 check failed (the decompressed data does not match the gzip trailer)"
                : "checksum failed (\(message))"
        case "incorrect length check":
            return "length check failed (the decompressed size does not match the gzip trailer's ISIZE)"
        case "incorrect header check":
            return "not \(framing == .gzip ? "gzip" : formatName) data (\(message))"
        default:
            return "\(formatName) data error: \(message)"
        }
    }
}

/// gzip decompression through zlib.
public enum GzipDecoder {
    /// Whether `bytes` start with the gzip magic number 1f 8b.
    public static func hasGzipMagic(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    }

    /// Decompresses a whole gzip file held in memory (all members, concatenated). `path` names
    /// the file in errors. Throws `DatasetError.truncated` or `.corrupt` for damaged data.
    /// Stops with `tooLarge` after `limit` bytes of output.
    public static func decompress(
        _ compressed: [UInt8], path: String, limit: Int = ReadLimits.decompressedBytes
    ) throws -> [UInt8] {
        let inflater = try ZlibInflater(framing: .gzip, path: path)
        var output = [UInt8]()
        if compressed.count >= 18 {
            // ISIZE of the last member: the exact size for a single-member file below 4 GiB.
            // Only a hint (a damaged trailer can say anything): bounded by deflate's best ratio
            // and the limit before anything is reserved.
            let sizeHint = Int(compressed.littleEndianUInt32(at: compressed.count - 4))
            output.reserveCapacity(min(sizeHint, compressed.count * ReadLimits.deflateRatio, limit))
        }
        try compressed.withUnsafeBytes { input in
            try inflater.feed(input) { piece in
                guard output.count + piece.count <= limit else {
                    throw ReadLimits.decompressedTooLarge(path: path, what: "the gzip data", limit: limit)
                }
                output.append(contentsOf: piece)
            }
        }
        try inflater.finish()
        return output
    }

    /// Decompresses the gzip file at `url` in pieces, handing each piece to `sink`; nothing
    /// larger than a chunk is held in memory. Stops with `tooLarge` after `limit` bytes of output
    /// (a tar bomb would otherwise fill the disk).
    public static func decompressFile(
        at url: URL, limit: Int = ReadLimits.decompressedBytes, sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let path = url.path
        guard let handle = FileHandle(forReadingAtPath: path) else {
            if !FileManager.default.fileExists(atPath: path) { throw DatasetError.fileNotFound(path: path) }
            throw DatasetError.unreadable(path: path, reason: "cannot open")
        }
        defer { try? handle.close() }
        let inflater = try ZlibInflater(framing: .gzip, path: path)
        var produced = 0
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw DatasetError.unreadable(path: path, reason: "\(error)")
            }
            if chunk.isEmpty { break }
            try chunk.withUnsafeBytes {
                try inflater.feed($0) { piece in
                    produced += piece.count
                    guard produced <= limit else {
                        throw ReadLimits.decompressedTooLarge(path: path, what: "the gzip data", limit: limit)
                    }
                    try sink(piece)
                }
            }
        }
        try inflater.finish()
    }
}

/// One-shot inflation of zlib and raw-deflate streams whose decompressed size is known
/// (PNG image data, zip entries).
enum Inflate {
    /// Inflates `compressed` (zlib framing when `zlibHeader`, raw deflate otherwise) and checks
    /// that it yields exactly `expectedCount` bytes.
    static func decompress(
        _ compressed: UnsafeRawBufferPointer, zlibHeader: Bool, expectedCount: Int, path: String, what: String
    ) throws -> [UInt8] {
        let inflater = try ZlibInflater(framing: zlibHeader ? .zlib : .rawDeflate, path: path)
        try ReadLimits.checkDeclaredDecompressedSize(
            expectedCount, compressedCount: compressed.count, path: path, what: what)
        var output = [UInt8]()
        output.reserveCapacity(expectedCount)
        var overflow = false
        try inflater.feed(compressed) { piece in
            if output.count + piece.count > expectedCount {
                overflow = true
                output.append(contentsOf: piece.prefix(expectedCount - output.count))
            } else {
                output.append(contentsOf: piece)
            }
        }
        if overflow {
            throw DatasetError.corrupt(
                path: path, problem: "\(what) decompresses to more than the expected \(expectedCount) bytes")
        }
        do {
            try inflater.finish()
        } catch DatasetError.truncated(_, let problem) {
            throw DatasetError.truncated(path: path, problem: "\(what): \(problem)")
        }
        if output.count != expectedCount {
            throw DatasetError.truncated(
                path: path, problem: "\(what) decompresses to \(output.count) bytes, expected \(expectedCount)")
        }
        return output
    }
}

/// CRC-32 (the zip/PNG/gzip polynomial) through zlib.
enum CRC32 {
    static func checksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return previous }
        var crc = UInt(previous)
        var offset = 0
        while offset < bytes.count {
            let piece = min(bytes.count - offset, Int(Int32.max))
            crc = crc32(crc, base.advanced(by: offset).assumingMemoryBound(to: Bytef.self), uInt(piece))
            offset += piece
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}
