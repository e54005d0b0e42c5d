import Datasets
import Foundation
import Layers

/// One fuzz harness: a named way of handing arbitrary bytes to one of the file readers.
///
/// This target is the single home of the harness logic. The fuzzer (`anomaly-fuzz` built with
/// `ANOMALY_FUZZING`), its replay tool (the same target built normally) and the regression
/// test (`Tests/DatasetsTests/FuzzRegressionTests.swift`) all call `run(_:scratch:)`, so a
/// finding replays in the test exactly as the fuzzer saw it. It lives in its own target
/// rather than in Datasets because the checkpoint loader is in Layers, which Datasets does
/// not depend on.
///
/// A harness may throw: the readers report damaged input with errors, and that is the
/// expected outcome for most inputs. Only a trap, a sanitizer report, a hang or an
/// out-of-memory is a finding.
public struct FuzzHarness: Sendable {
    /// The target name (`ANOMALY_FUZZ_TARGET`, the folder under `Fuzz/corpus/`).
    public let name: String
    /// Extension of the temporary file the input is written to, for readers that take a URL.
    public let fileExtension: String
    private let body: @Sendable (Input) throws -> Void

    /// One input as a harness sees it.
    struct Input {
        let bytes: [UInt8]
        /// The temporary file's path; readers of bytes use it to name the input in errors.
        let url: URL
        let scratch: URL

        /// Writes the bytes to `url` (only readers that take a URL pay for the I/O).
        func written() throws -> URL {
            try Data(bytes).write(to: url)
            return url
        }
    }

    fileprivate init(_ name: String, _ fileExtension: String, _ body: @escaping @Sendable (Input) throws -> Void) {
        self.name = name
        self.fileExtension = fileExtension
        self.body = body
    }

    /// Runs the reader(s) of this harness on `bytes`. `scratch` is a folder the harness may use
    /// for its temporary files (the input file, extracted tar members); it is reused across
    /// calls, so one folder per process (or per test) is enough, but it must not be shared
    /// between concurrent calls.
    public func run(_ bytes: [UInt8], scratch: URL) throws {
        try body(Input(bytes: bytes, url: inputFile(in: scratch), scratch: scratch))
    }

    /// The path of the temporary input file in `scratch` (error messages name it).
    public func inputFile(in scratch: URL) -> URL {
        scratch.appendingPathComponent("input.\(fileExtension)")
    }
}

public enum FuzzHarnesses {
    /// Every harness, by target name.
    public static let all: [FuzzHarness] = [
        FuzzHarness("idx-images", "idx3-ubyte") { input in
            _ = try IDXReader.readImages(at: input.written())
        },
        FuzzHarness("idx-labels", "idx1-ubyte") { input in
            _ = try IDXReader.readLabels(at: input.written())
        },
        FuzzHarness("cifar", "bin") { input in
            // Both record sizes (3073 and 3074 bytes), and the label check against class names.
            let file = try input.written()
            try attemptAll(
                { _ = try CIFARReader.read(at: file, layout: .cifar10, classNames: (0..<10).map(String.init)) },
                { _ = try CIFARReader.read(at: file, layout: .cifar100Fine) })
        },
        FuzzHarness("csv", "csv") { input in
            let file = try input.written()
            try attemptAll(
                { _ = try CSVReader.readLabeledTable(at: file) },
                { _ = try CSVReader.readLabeledTable(at: file, labelColumn: .position(0), classNames: ["a", "b", "c"]) })
        },
        FuzzHarness("npy", "npy") { input in
            let array = try NumpyReader.readArray(at: input.written())
            // The conversions the data-set code applies to what it reads.
            _ = array.floatValues()
            _ = array.integerValues()
        },
        FuzzHarness("npz", "npz") { input in
            // The archive as arrays, then as ADBench's X/y table (shape checks on top).
            let file = try input.written()
            try attemptAll(
                { _ = try NumpyReader.readArchive(at: file) },
                { _ = try NumpyReader.readLabeledTable(archiveAt: file) })
        },
        FuzzHarness("png", "png") { input in
            try withRepairedChecksums(input.bytes, repair: ChecksumRepair.png) { bytes in
                let image = try PNGDecoder.decode(bytes, path: input.url.path)
                // What ImageFolderReader does with a decoded image.
                _ = image.converted(toChannels: 1).planarPixels()
                _ = image.converted(toChannels: 3).planarPixels()
            }
        },
        FuzzHarness("svhn", "mat") { input in
            _ = try SVHNReader.read(at: input.written())
        },
        FuzzHarness("gzip", "gz") { input in
            // The in-memory decoder (IDX, CIFAR, CSV) and the streaming one (fetched archives).
            let file = try input.written()
            try attemptAll(
                { _ = try GzipDecoder.decompress(input.bytes, path: input.url.path) },
                { try GzipDecoder.decompressFile(at: file) { _ in } })
        },
        FuzzHarness("tar", "tar") { input in
            let folder = input.scratch.appendingPathComponent("tar-members", isDirectory: true)
            try withRepairedChecksums(input.bytes, repair: ChecksumRepair.tar) { bytes in
                // A fresh folder per input: members of one input must not meet the next one's.
                try? FileManager.default.removeItem(at: folder)
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: folder) }
                // The prefix as the fetcher uses it (`cifar-10-batches-bin/`); odd-sized pieces
                // so that headers straddle the boundaries.
                try ReaderEntryPoints.extractTar(bytes, into: folder, memberPrefix: "data/", pieceSize: 700)
            }
        },
        FuzzHarness("zip", "zip") { input in
            _ = try ReaderEntryPoints.zipEntries(input.bytes, path: input.url.path)
        },
        FuzzHarness("safetensors", "safetensors") { input in
            // The module loader (Float32 tensors) and the fitted-state loader (exact Float64).
            let file = try input.written()
            try attemptAll(
                { _ = try Checkpoint.read(from: file) },
                { _ = try Checkpoint.readArrays(from: file) })
        },
    ]

    /// The harness called `name`, if any.
    public static func named(_ name: String) -> FuzzHarness? { all.first { $0.name == name } }

    /// A new folder for one process's temporary inputs: in `/dev/shm` when it is writable (the
    /// fuzzer writes a file per input, so memory is better than disk), else in the temporary
    /// directory. The caller removes it.
    public static func makeScratchFolder() throws -> URL {
        let shm = "/dev/shm"
        let base =
            FileManager.default.isWritableFile(atPath: shm)
            ? URL(fileURLWithPath: shm, isDirectory: true) : FileManager.default.temporaryDirectory
        let folder = base.appendingPathComponent(
            "anomaly-fuzz-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))",
            isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Runs every call even when an earlier one throws, so that one input exercises all of
    /// them (the calls are alternatives: two record layouts, two label columns). Throws the
    /// first error only when every call threw, so "ok" means some reader accepted the input.
    static func attemptAll(_ calls: () throws -> Void...) throws {
        var firstError: Error?
        var accepted = false
        for call in calls {
            do {
                try call()
                accepted = true
            } catch {
                firstError = firstError ?? error
            }
        }
        if !accepted, let firstError { throw firstError }
    }

    /// Runs `body` on `bytes` and, when they differ, on `bytes` with their checksums repaired;
    /// reports the outcome for `bytes` as they are.
    /// Formats whose every chunk or header carries a checksum (PNG's CRC-32, tar's header sum)
    /// reject almost every mutation at the first check; the repaired copy lets the fuzzer
    /// reach the code behind it, while the original still exercises the checks themselves.
    static func withRepairedChecksums(_ bytes: [UInt8], repair: ([UInt8]) -> [UInt8], body: ([UInt8]) throws -> Void)
        throws
    {
        let repaired = repair(bytes)
        // The original's outcome is the one reported; the repaired copy only adds coverage.
        var outcome: Error?
        do { try body(bytes) } catch { outcome = error }
        if repaired != bytes { try? body(repaired) }
        if let outcome { throw outcome }
    }
}

/// Checksum repair for the harnesses (see `FuzzHarnesses.withRepairedChecksums`).
enum ChecksumRepair {
    /// `bytes` with each complete PNG chunk's CRC-32 recomputed (from the signature on; the
    /// walk stops at the first chunk that runs past the end).
    static func png(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        var offset = 8
        while offset + 12 <= out.count {
            let length =
                Int(out[offset]) << 24 | Int(out[offset + 1]) << 16 | Int(out[offset + 2]) << 8 | Int(out[offset + 3])
            guard length <= out.count - offset - 12 else { break }
            let crc = crc32(out[(offset + 4)..<(offset + 8 + length)])
            let at = offset + 8 + length
            for index in 0..<4 { out[at + index] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(index))) }
            offset = at + 4
        }
        return out
    }

    /// `bytes` with each tar header's checksum field rewritten (`%06o\0 `), following the
    /// members' sizes; the walk stops at a size it cannot read.
    static func tar(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        var offset = 0
        while offset + 512 <= out.count {
            let block = out[offset..<(offset + 512)]
            if block.allSatisfy({ $0 == 0 }) {
                offset += 512
                continue
            }
            var sum = 0
            for index in 0..<512 { sum += (148..<156).contains(index) ? 0x20 : Int(out[offset + index]) }
            let field = Array(String(sum, radix: 8).utf8)
            guard field.count <= 6 else { break }
            let digits = [UInt8](repeating: UInt8(ascii: "0"), count: 6 - field.count) + field + [0, 0x20]
            for index in 0..<8 { out[offset + 148 + index] = digits[index] }
            // The size field (octal text; GNU base-256 is left alone and ends the walk).
            let sizeText = String(decoding: out[(offset + 124)..<(offset + 136)].prefix { $0 != 0 }, as: UTF8.self)
                .trimmingCharacters(in: .whitespaces)
            guard let size = Int(sizeText.isEmpty ? "0" : sizeText, radix: 8), size >= 0, size <= out.count else {
                break
            }
            offset += 512 + (size + 511) / 512 * 512
        }
        return out
    }

    /// CRC-32 (the PNG/zip/gzip polynomial, reflected 0xEDB88320).
    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }

    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 != 0 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }
}
