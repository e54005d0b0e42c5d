/// The central directory of a zip file, and extraction of stored and deflated entries, for
/// `.npz` archives. Zip64 sizes and offsets are understood; encryption is not.
enum ZipArchive {
    struct Entry {
        var name: String
        var method: UInt16
        var flags: UInt16
        var crc32: UInt32
        var compressedSize: Int
        var uncompressedSize: Int
        var localHeaderOffset: Int
    }

    /// The entries listed in the central directory of the zip file `bytes`.
    static func entries(of bytes: [UInt8], path: String) throws -> [Entry] {
        func corrupt(_ problem: String) -> DatasetError { .corrupt(path: path, problem: "zip archive: \(problem)") }
        guard bytes.count >= 22 else {
            throw DatasetError.truncated(path: path, problem: "\(bytes.count) bytes, too short for a zip archive")
        }
        // End of central directory record: signature 0x06054b50 within the last 64 KiB + 22 bytes.
        var endRecord = -1
        var candidate = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 65_535)
        while candidate >= lowest {
            if bytes.littleEndianUInt32(at: candidate) == 0x0605_4b50 {
                endRecord = candidate
                break
            }
            candidate -= 1
        }
        guard endRecord >= 0 else {
            if bytes.count >= 4 && bytes.littleEndianUInt32(at: 0) == 0x0403_4b50 {
                throw DatasetError.truncated(
                    path: path, problem: "zip archive without its end-of-central-directory record (cut short?)")
            }
            throw corrupt("not a zip archive (no end-of-central-directory record)")
        }
        var entryCount = Int(bytes.littleEndianUInt16(at: endRecord + 10))
        var directorySize = Int(bytes.littleEndianUInt32(at: endRecord + 12))
        var directoryOffset = Int(bytes.littleEndianUInt32(at: endRecord + 16))
        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // Zip64: the locator sits just before the end record and points at the zip64 end record.
            let locator = endRecord - 20
            guard locator >= 0, bytes.littleEndianUInt32(at: locator) == 0x0706_4b50 else {
                throw corrupt("zip64 end-of-central-directory locator missing")
            }
            // Zip64 fields are unsigned 64-bit: anything beyond the file is refused before use.
            let zip64End = bytes.littleEndianUInt64(at: locator + 8)
            guard bytes.count >= 56, zip64End <= UInt64(bytes.count - 56), bytes.littleEndianUInt32(at: Int(zip64End)) == 0x0606_4b50
            else {
                throw corrupt("zip64 end-of-central-directory record missing")
            }
            func field(_ offset: Int, _ what: String) throws -> Int {
                let value = bytes.littleEndianUInt64(at: Int(zip64End) + offset)
                guard value <= UInt64(bytes.count) else {
                    throw corrupt("zip64 \(what) \(value) is larger than the file (\(bytes.count) bytes)")
                }
                return Int(value)
            }
            entryCount = try field(32, "entry count")
            directorySize = try field(40, "central directory size")
            directoryOffset = try field(48, "central directory offset")
        }
        guard directoryOffset + directorySize <= bytes.count else {
            throw DatasetError.truncated(path: path, problem: "zip central directory lies beyond the end of the file")
        }
        // Every central-directory entry takes at least 46 bytes.
        guard entryCount <= directorySize / 46 + 1 else {
            throw corrupt("\(entryCount) entries cannot fit in a \(directorySize)-byte central directory")
        }
        var entries = [Entry]()
        var offset = directoryOffset
        for index in 0..<entryCount {
            guard offset + 46 <= bytes.count, bytes.littleEndianUInt32(at: offset) == 0x0201_4b50 else {
                throw corrupt("central directory entry \(index) is damaged")
            }
            let nameLength = Int(bytes.littleEndianUInt16(at: offset + 28))
            let extraLength = Int(bytes.littleEndianUInt16(at: offset + 30))
            let commentLength = Int(bytes.littleEndianUInt16(at: offset + 32))
            guard offset + 46 + nameLength + extraLength + commentLength <= bytes.count else {
                throw corrupt("central directory entry \(index) runs past the end of the file")
            }
            var entry = Entry(
                name: String(decoding: bytes[(offset + 46)..<(offset + 46 + nameLength)], as: UTF8.self),
                method: bytes.littleEndianUInt16(at: offset + 10),
                flags: bytes.littleEndianUInt16(at: offset + 8),
                crc32: bytes.littleEndianUInt32(at: offset + 16),
                compressedSize: Int(bytes.littleEndianUInt32(at: offset + 20)),
                uncompressedSize: Int(bytes.littleEndianUInt32(at: offset + 24)),
                localHeaderOffset: Int(bytes.littleEndianUInt32(at: offset + 42)))
            // Zip64 extended information: the 8-byte values replace the fields that read 0xFFFFFFFF.
            var extra = offset + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let identifier = bytes.littleEndianUInt16(at: extra)
                let size = Int(bytes.littleEndianUInt16(at: extra + 2))
                if identifier == 0x0001 {
                    var field = extra + 4
                    func value(_ what: String) throws -> Int {
                        try UntrustedSize.int(
                            bytes.littleEndianUInt64(at: field), path: path, what: "zip64 \(what) of entry \(index)")
                    }
                    if entry.uncompressedSize == 0xFFFF_FFFF && field + 8 <= extraEnd {
                        entry.uncompressedSize = try value("uncompressed size")
                        field += 8
                    }
                    if entry.compressedSize == 0xFFFF_FFFF && field + 8 <= extraEnd {
                        entry.compressedSize = try value("compressed size")
                        field += 8
                    }
                    if entry.localHeaderOffset == 0xFFFF_FFFF && field + 8 <= extraEnd {
                        entry.localHeaderOffset = try value("local header offset")
                    }
                }
                extra += 4 + size
            }
            entries.append(entry)
            offset += 46 + nameLength + extraLength + commentLength
        }
        return entries
    }

    /// The uncompressed bytes of `entry`, with its CRC-32 checked.
    static func extract(_ entry: Entry, from bytes: [UInt8], path: String) throws -> [UInt8] {
        let what = "zip entry '\(entry.name)'"
        if entry.flags & 1 != 0 {
            throw DatasetError.unsupported(path: path, feature: "encrypted \(what)")
        }
        let local = entry.localHeaderOffset
        guard local >= 0, local <= bytes.count - 30, bytes.littleEndianUInt32(at: local) == 0x0403_4b50 else {
            throw DatasetError.corrupt(path: path, problem: "\(what): local header missing at offset \(local)")
        }
        let dataStart =
            local + 30 + Int(bytes.littleEndianUInt16(at: local + 26)) + Int(bytes.littleEndianUInt16(at: local + 28))
        guard entry.compressedSize >= 0, entry.compressedSize <= bytes.count - dataStart else {
            throw DatasetError.truncated(
                path: path, problem: "\(what): \(entry.compressedSize) bytes of data run past the end of the file")
        }
        let content: [UInt8]
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.uncompressedSize else {
                throw DatasetError.corrupt(path: path, problem: "\(what): stored entry with differing sizes")
            }
            content = Array(bytes[dataStart..<(dataStart + entry.compressedSize)])
        case 8:
            content = try bytes.withUnsafeBytes { raw in
                try Inflate.decompress(
                    UnsafeRawBufferPointer(rebasing: raw[dataStart..<(dataStart + entry.compressedSize)]),
                    zlibHeader: false, expectedCount: entry.uncompressedSize, path: path, what: what)
            }
        default:
            throw DatasetError.unsupported(
                path: path,
                feature: "\(what) uses compression method \(entry.method) (only stored and deflated are supported)")
        }
        let crc = content.withUnsafeBytes { CRC32.checksum($0) }
        guard crc == entry.crc32 else {
            throw DatasetError.corrupt(
                path: path,
                problem:
                    "\(what): CRC-32 \(String(crc, radix: 16)) does not match the directory's \(String(entry.crc32, radix: 16))"
            )
        }
        return content
    }
}
