import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@inline(__always)
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

/// Whole-file reads with errors that name the file.
enum FileBytes {
    /// The bytes of the file at `url`.
    static func read(_ url: URL) throws -> [UInt8] {
        let path = url.path
        let descriptor = open(path, O_RDONLY)
        if descriptor < 0 {
            let code = errno
            if code == ENOENT { throw DatasetError.fileNotFound(path: path) }
            throw DatasetError.unreadable(path: path, reason: String(cString: strerror(code)))
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw DatasetError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw DatasetError.unreadable(path: path, reason: "not a regular file")
        }
        let size = Int(status.st_size)
        var failure: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let got = systemRead(descriptor, buffer.baseAddress! + done, size - done)
                if got < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    break
                }
                if got == 0 { break }
                done += got
            }
            initialized = done
        }
        if let failure { throw DatasetError.unreadable(path: path, reason: failure) }
        if bytes.count != size {
            throw DatasetError.unreadable(
                path: path, reason: "file shrank while reading (\(bytes.count) of \(size) bytes)")
        }
        return bytes
    }

    /// The bytes of the file at `url`, decompressed first when they start with the gzip magic
    /// number (so `x.gz` and an uncompressed `x` read the same way).
    static func readDecompressingGzip(_ url: URL) throws -> [UInt8] {
        try decompressingGzip(read(url), path: url.path)
    }

    /// `bytes` decompressed when they start with the gzip magic number, else as they are.
    static func decompressingGzip(_ bytes: [UInt8], path: String) throws -> [UInt8] {
        GzipDecoder.hasGzipMagic(bytes) ? try GzipDecoder.decompress(bytes, path: path) : bytes
    }
}

/// Big-endian and little-endian integer loads from a byte array, bounds-checked by the caller.
extension Array where Element == UInt8 {
    @inline(__always)
    func bigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16 | UInt32(self[offset + 2]) << 8
            | UInt32(self[offset + 3])
    }

    @inline(__always)
    func littleEndianUInt16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) | UInt16(self[offset + 1]) << 8
    }

    @inline(__always)
    func littleEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) | UInt32(self[offset + 1]) << 8 | UInt32(self[offset + 2]) << 16
            | UInt32(self[offset + 3]) << 24
    }

    @inline(__always)
    func littleEndianUInt64(at offset: Int) -> UInt64 {
        UInt64(littleEndianUInt32(at: offset)) | UInt64(littleEndianUInt32(at: offset + 4)) << 32
    }
}
