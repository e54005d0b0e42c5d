import Foundation

/// Streaming extraction of regular files from a tar stream (ustar / GNU / pax headers), fed
/// in arbitrary pieces — for example straight out of `GzipDecoder.decompressFile`. Members
/// whose path starts with `memberPrefix` are written flat into `destination` (each to a
/// temporary file, then renamed); everything else is skipped.
final class TarExtractor {
    private let destination: URL
    private let memberPrefix: String
    private let archivePath: String
    private var header = [UInt8]()
    private var remainingData = 0
    private var remainingPadding = 0
    private var output: FileHandle?
    private var outputTemporary: URL?
    private var outputFinal: URL?
    private var longName: [UInt8]?
    private var collectingLongName = false
    private var sawEndBlock = false
    /// The files written so far.
    private(set) var extracted = [URL]()

    init(destination: URL, memberPrefix: String, archivePath: String) {
        self.destination = destination
        self.memberPrefix = memberPrefix
        self.archivePath = archivePath
    }

    deinit {
        try? output?.close()
        if let outputTemporary { try? FileManager.default.removeItem(at: outputTemporary) }
    }

    func consume(_ piece: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < piece.count {
            if remainingData > 0 {
                let take = min(remainingData, piece.count - offset)
                let slice = UnsafeRawBufferPointer(rebasing: piece[offset..<(offset + take)])
                if collectingLongName {
                    longName?.append(contentsOf: slice)
                } else if let output {
                    do {
                        try output.write(contentsOf: Data(slice))
                    } catch {
                        throw DatasetFetchError.fileSystem(path: outputTemporary?.path ?? "", problem: "\(error)")
                    }
                }
                remainingData -= take
                offset += take
                if remainingData == 0 { try finishMember() }
                continue
            }
            if remainingPadding > 0 {
                let take = min(remainingPadding, piece.count - offset)
                remainingPadding -= take
                offset += take
                continue
            }
            let take = min(512 - header.count, piece.count - offset)
            header.append(contentsOf: UnsafeRawBufferPointer(rebasing: piece[offset..<(offset + take)]))
            offset += take
            if header.count == 512 {
                let block = header
                header.removeAll(keepingCapacity: true)
                try beginMember(block)
            }
        }
    }

    /// Checks that the stream ended between members.
    func finish() throws {
        if remainingData > 0 || !header.isEmpty || (remainingPadding > 0 && !sawEndBlock) {
            throw DatasetError.truncated(path: archivePath, problem: "the tar stream ends inside a member")
        }
    }

    private func beginMember(_ block: [UInt8]) throws {
        if block.allSatisfy({ $0 == 0 }) {
            sawEndBlock = true
            return
        }
        if sawEndBlock { sawEndBlock = false }
        func field(_ range: Range<Int>) -> String {
            let bytes = block[range].prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        func octal(_ range: Range<Int>) throws -> Int {
            if block[range.lowerBound] & 0x80 != 0 {  // GNU base-256: refuse values beyond 2^56
                let digits = block[(range.lowerBound + 1)..<range.upperBound]
                guard digits.dropLast(7).allSatisfy({ $0 == 0 }) else {
                    throw DatasetError.corrupt(path: archivePath, problem: "tar header with an out-of-range size")
                }
                return digits.suffix(7).reduce(0) { $0 << 8 | Int($1) }
            }
            let text = field(range).trimmingCharacters(in: .whitespaces)
            guard let value = Int(text.isEmpty ? "0" : text, radix: 8) else {
                throw DatasetError.corrupt(path: archivePath, problem: "tar header with a bad number '\(text)'")
            }
            return value
        }
        let storedChecksum = try octal(148..<156)
        var checksum = 0
        for (index, byte) in block.enumerated() { checksum += (148..<156).contains(index) ? 0x20 : Int(byte) }
        guard checksum == storedChecksum else {
            throw DatasetError.corrupt(path: archivePath, problem: "tar header checksum mismatch (not a tar stream?)")
        }
        let size = try octal(124..<136)
        let type = block[156]
        var name = field(0..<100)
        if field(257..<262) == "ustar" {
            let prefix = field(345..<500)
            if !prefix.isEmpty { name = prefix + "/" + name }
        }
        if let pending = longName {
            name = String(decoding: pending.prefix { $0 != 0 }, as: UTF8.self)
            longName = nil
        }
        if type == UInt8(ascii: "L") && size > 1 << 16 {
            throw DatasetError.corrupt(path: archivePath, problem: "tar long name of \(size) bytes")
        }
        remainingData = size
        remainingPadding = (512 - size % 512) % 512
        collectingLongName = false
        switch type {
        case UInt8(ascii: "L"):  // GNU long name: the data is the next member's name
            longName = []
            collectingLongName = true
        case UInt8(ascii: "0"), 0:
            let relative = name.hasPrefix(memberPrefix) ? String(name.dropFirst(memberPrefix.count)) : nil
            if let relative, !relative.isEmpty, !relative.contains("/"), relative != "..", relative != "." {
                let final = destination.appendingPathComponent(relative)
                let temporary = destination.appendingPathComponent(".\(relative).extract-\(UUID().uuidString)")
                guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
                    let handle = FileHandle(forWritingAtPath: temporary.path)
                else {
                    throw DatasetFetchError.fileSystem(path: temporary.path, problem: "cannot create the file")
                }
                output = handle
                outputTemporary = temporary
                outputFinal = final
            }
        default:
            break  // directories, links, pax headers: skip their data
        }
        if remainingData == 0 { try finishMember() }
    }

    private func finishMember() throws {
        collectingLongName = false
        guard let handle = output, let temporary = outputTemporary, let final = outputFinal else { return }
        output = nil
        outputTemporary = nil
        outputFinal = nil
        do {
            try handle.synchronize()
            try handle.close()
        } catch {
            throw DatasetFetchError.fileSystem(path: temporary.path, problem: "\(error)")
        }
        try FileReplacement.moveAtomically(from: temporary, to: final)
        extracted.append(final)
    }
}
