import Foundation
import Tensors

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A problem reading, validating or writing a checkpoint; the message names the file and the
/// problem (and the tensor, where one is at fault).
public enum CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    /// Fewer than the 8 bytes of the header-length field.
    case fileTooShort(path: String, size: Int)
    /// The header length field points past the end of the file.
    case headerLengthBeyondFile(path: String, headerLength: UInt64, fileSize: Int)
    /// The header is not valid JSON or does not have the safetensors structure.
    case invalidHeader(path: String, reason: String)
    case unsupportedDType(path: String, tensor: String, dtype: String)
    /// Data offsets out of range, inconsistent with the shape, overlapping or leaving holes.
    case invalidDataOffsets(path: String, tensor: String, reason: String)
    /// Strict loading: model tensors absent from the file, and file tensors the model lacks.
    case keyMismatch(path: String, missing: [String], unknown: [String])
    case shapeMismatch(path: String, tensor: String, checkpointShape: [Int], modelShape: [Int])
    case writeFailed(path: String, reason: String)

    /// The checkpoint file concerned.
    public var path: String {
        switch self {
        case .fileNotFound(let p), .unreadable(let p, _), .fileTooShort(let p, _),
            .headerLengthBeyondFile(let p, _, _), .invalidHeader(let p, _), .unsupportedDType(let p, _, _),
            .invalidDataOffsets(let p, _, _), .keyMismatch(let p, _, _), .shapeMismatch(let p, _, _, _),
            .writeFailed(let p, _):
            return p
        }
    }

    public var description: String {
        let file = "checkpoint \(path)"
        switch self {
        case .fileNotFound:
            return "\(file): no such file"
        case .unreadable(_, let reason):
            return "\(file): cannot be read: \(reason)"
        case .fileTooShort(_, let size):
            return "\(file): file is \(size) bytes, shorter than the 8-byte header length of a safetensors file"
        case .headerLengthBeyondFile(_, let length, let size):
            return
                "\(file): header length \(length) runs past the end of the \(size)-byte file (truncated, or not a safetensors file)"
        case .invalidHeader(_, let reason):
            return "\(file): invalid header: \(reason)"
        case .unsupportedDType(_, let tensor, let dtype):
            return "\(file): \(tensor): unsupported dtype \(dtype) (supported: F32, F16, BF16, F64)"
        case .invalidDataOffsets(_, let tensor, let reason):
            return "\(file): \(tensor): \(reason)"
        case .keyMismatch(_, let missing, let unknown):
            var parts: [String] = []
            if !missing.isEmpty {
                parts.append("missing keys (in the model, not in the file): \(missing.joined(separator: ", "))")
            }
            if !unknown.isEmpty {
                parts.append("unknown keys (in the file, not in the model): \(unknown.joined(separator: ", "))")
            }
            return "\(file): \(parts.joined(separator: "; "))"
        case .shapeMismatch(_, let tensor, let checkpointShape, let modelShape):
            return "\(file): \(tensor): checkpoint has shape \(checkpointShape), model has \(modelShape)"
        case .writeFailed(_, let reason):
            return "\(file): cannot be written: \(reason)"
        }
    }
}

/// Checkpoints in the safetensors format: an 8-byte little-endian header length N, N bytes of
/// JSON header (`{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, …,
/// "__metadata__": {…}}`, padded with spaces to 8-byte alignment), then the raw little-endian
/// values; offsets are relative to the data section, which the tensors tile exactly.
///
/// Writes are atomic (temporary file in the same directory, fsync, rename), so the destination
/// holds either its old contents or the complete new checkpoint. Reads validate the whole file
/// before returning anything, and `load` checks every name and shape before assigning a value.
public enum Checkpoint {
    /// A checkpoint's tensors (as Float32) and metadata.
    public struct Contents {
        /// Tensors by name.
        public var tensors: [String: Tensor]
        /// Tensor names in the order of their data in the file.
        public var names: [String]
        /// The header's `__metadata__` (empty if absent).
        public var metadata: [String: String]

        public init(tensors: [String: Tensor], names: [String], metadata: [String: String]) {
            self.tensors = tensors
            self.names = names
            self.metadata = metadata
        }
    }

    /// What a non-strict `load` skipped.
    public struct LoadResult: Equatable, Sendable {
        /// Model tensors the file does not have (left unchanged).
        public var missingKeys: [String]
        /// File tensors the model does not have (ignored).
        public var unknownKeys: [String]

        public init(missingKeys: [String], unknownKeys: [String]) {
            self.missingKeys = missingKeys
            self.unknownKeys = unknownKeys
        }
    }

    // MARK: Saving

    /// Writes every parameter and buffer of `module` under its dotted name, atomically.
    public static func save(_ module: Module, to url: URL, metadata: [String: String] = [:]) throws {
        try save(module.namedTensors(), to: url, metadata: metadata)
    }

    /// Writes named tensors (as F32), atomically.
    public static func save(
        _ tensors: [(name: String, tensor: Tensor)], to url: URL, metadata: [String: String] = [:]
    ) throws {
        try save(tensors, to: url, metadata: metadata, afterWriting: nil)
    }

    /// `afterWriting` (tests) is called with the byte count written so far after the header
    /// and after each tensor; an error it throws aborts the write like an I/O failure.
    @_spi(Testing)
    public static func save(
        _ tensors: [(name: String, tensor: Tensor)], to url: URL, metadata: [String: String],
        afterWriting: ((Int) throws -> Void)?
    ) throws {
        let payloads = tensors.map { name, tensor in
            Payload(name: name, dtype: "F32", shape: tensor.shape, byteCount: tensor.count * 4) { write in
                let values = tensor.device == .cpu ? tensor : tensor.to(.cpu)
                try write(UnsafeRawPointer(values.pointer))
            }
        }
        try writeFile(payloads, to: url, metadata: metadata, afterWriting: afterWriting)
    }

    /// Values stored at their own precision: F32 for `Float`, F64 for `Double`.
    public enum StoredValues: Sendable, Equatable {
        case float32([Float])
        case float64([Double])

        var count: Int {
            switch self {
            case .float32(let v): return v.count
            case .float64(let v): return v.count
            }
        }
    }

    /// Writes named arrays at full precision (a classical detector's fitted state, which must
    /// load back bit for bit), atomically. Each shape's product must equal its value count.
    public static func save(
        arrays: [(name: String, shape: [Int], values: StoredValues)], to url: URL, metadata: [String: String] = [:]
    ) throws {
        let payloads = arrays.map { name, shape, values in
            precondition(shape.reduce(1, *) == values.count, "Checkpoint.save: \(name) has \(values.count) values for shape \(shape)")
            switch values {
            case .float32(let v):
                return Payload(name: name, dtype: "F32", shape: shape, byteCount: v.count * 4) { write in
                    try v.withUnsafeBytes { try write($0.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!) }
                }
            case .float64(let v):
                return Payload(name: name, dtype: "F64", shape: shape, byteCount: v.count * 8) { write in
                    try v.withUnsafeBytes { try write($0.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!) }
                }
            }
        }
        try writeFile(payloads, to: url, metadata: metadata, afterWriting: nil)
    }

    /// Reads a checkpoint's arrays exactly, widened to Float64 (F32 and F64 entries round-trip
    /// bit for bit; F16/BF16 are widened too), with its metadata.
    public static func readArrays(from url: URL) throws -> (arrays: [String: (shape: [Int], values: [Double])], metadata: [String: String]) {
        let data = try readBytes(url)
        return try data.withUnsafeBytes { raw in
            let (entries, dataStart) = try parseLayout(raw, path: url.path)
            var arrays: [String: (shape: [Int], values: [Double])] = [:]
            for entry in entries.tensors {
                let count = entry.shape.reduce(1, *)
                arrays[entry.name] = (entry.shape, entry.dtype.widened(raw.baseAddress! + dataStart + entry.begin, count: count))
            }
            return (arrays, entries.metadata)
        }
    }

    /// One entry of the file being written: its header fields and a writer of its bytes.
    private struct Payload {
        let name: String
        let dtype: String
        let shape: [Int]
        let byteCount: Int
        /// Calls its argument with a pointer to `byteCount` little-endian bytes.
        let bytes: (_ write: (UnsafeRawPointer) throws -> Void) throws -> Void
    }

    private static func writeFile(
        _ payloads: [Payload], to url: URL, metadata: [String: String], afterWriting: ((Int) throws -> Void)?
    ) throws {
        let path = url.path
        var seen = Set<String>()
        for payload in payloads {
            precondition(payload.name != "__metadata__", "Checkpoint.save: \"__metadata__\" cannot name a tensor")
            precondition(seen.insert(payload.name).inserted, "Checkpoint.save: duplicate tensor name \(payload.name)")
        }
        let header = Array(makeHeader(payloads.map { ($0.name, $0.dtype, $0.shape, $0.byteCount) }, metadata: metadata).utf8)

        let directory = url.deletingLastPathComponent().path
        let temporary = "\(directory)/.\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CheckpointError.writeFailed(path: path, reason: "cannot create \(temporary): \(errnoMessage())")
        }
        var isOpen = true
        do {
            var length = UInt64(header.count).littleEndian
            try withUnsafeBytes(of: &length) { try writeAll(fd, $0.baseAddress!, $0.count) }
            try header.withUnsafeBytes { try writeAll(fd, $0.baseAddress!, $0.count) }
            var written = 8 + header.count
            try afterWriting?(written)
            for payload in payloads {
                try payload.bytes { try writeAll(fd, $0, payload.byteCount) }
                written += payload.byteCount
                try afterWriting?(written)
            }
            guard fsync(fd) == 0 else { throw WriteFailure("fsync failed: \(errnoMessage())") }
            isOpen = false
            guard close(fd) == 0 else { throw WriteFailure("close failed: \(errnoMessage())") }
            guard rename(temporary, path) == 0 else {
                throw WriteFailure("cannot rename \(temporary) to the destination: \(errnoMessage())")
            }
        } catch {
            if isOpen { close(fd) }
            unlink(temporary)
            let reason = (error as? WriteFailure)?.reason ?? String(describing: error)
            throw CheckpointError.writeFailed(path: path, reason: reason)
        }
        // Make the rename durable (best effort: some file systems refuse fsync on directories).
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    private struct WriteFailure: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    private static func errnoMessage() -> String { String(cString: strerror(errno)) }

    private static func writeAll(_ fd: Int32, _ base: UnsafeRawPointer, _ count: Int) throws {
        var done = 0
        while done < count {
            let n = write(fd, base + done, min(count - done, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw WriteFailure("write failed: \(errnoMessage())")
            }
            done += n
        }
    }

    /// The JSON header, tensors in the given order and contiguous, padded with spaces so that
    /// the data section starts 8-byte aligned.
    static func makeHeader(_ entries: [(name: String, dtype: String, shape: [Int], byteCount: Int)], metadata: [String: String])
        -> String
    {
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for (name, dtype, shape, byteCount) in entries {
            let end = offset + byteCount
            let dimensions = shape.map(String.init).joined(separator: ",")
            fields.append(
                "\(jsonString(name)):{\"dtype\":\"\(dtype)\",\"shape\":[\(dimensions)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = "{\(fields.joined(separator: ","))}"
        let padding = (8 - header.utf8.count % 8) % 8
        header += String(repeating: " ", count: padding)
        return header
    }

    private static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    // MARK: Reading

    /// Reads and validates a whole checkpoint.
    public static func read(from url: URL) throws -> Contents {
        try parse(try readBytes(url), path: url.path)
    }

    /// The header's `__metadata__` alone, after validating the layout (the tensors' bytes are
    /// mapped, not read).
    public static func readMetadata(from url: URL) throws -> [String: String] {
        try readBytes(url).withUnsafeBytes { raw in try parseLayout(raw, path: url.path).0.metadata }
    }

    /// The file's bytes (mapped when safe), with the checkpoint errors for a missing or
    /// unreadable file.
    private static func readBytes(_ url: URL) throws -> Data {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError.fileNotFound(path: path)
        }
        if isDirectory.boolValue { throw CheckpointError.unreadable(path: path, reason: "it is a directory") }
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw CheckpointError.unreadable(path: path, reason: error.localizedDescription)
        }
        return data
    }

    /// The validated header of safetensors bytes and where their data section starts.
    private static func parseLayout(_ raw: UnsafeRawBufferPointer, path: String) throws -> (Header, Int) {
        let fileSize = raw.count
        guard fileSize >= 8 else { throw CheckpointError.fileTooShort(path: path, size: fileSize) }
        let headerLength = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard headerLength <= UInt64(fileSize - 8) else {
            throw CheckpointError.headerLengthBeyondFile(path: path, headerLength: headerLength, fileSize: fileSize)
        }
        let dataStart = 8 + Int(headerLength)
        let entries = try parseHeader(UnsafeRawBufferPointer(rebasing: raw[8..<dataStart]), path: path)
        try validateLayout(entries, dataSize: fileSize - dataStart, path: path)
        return (entries, dataStart)
    }

    /// Parses safetensors bytes; `path` names the file in errors.
    static func parse(_ data: Data, path: String) throws -> Contents {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Contents in
            let (entries, dataStart) = try parseLayout(raw, path: path)
            var tensors: [String: Tensor] = [:]
            for entry in entries.tensors {
                let tensor = Tensor.zeros(entry.shape)
                entry.dtype.convert(
                    raw.baseAddress! + dataStart + entry.begin, count: tensor.count, into: tensor.pointer)
                tensors[entry.name] = tensor
            }
            let names = entries.tensors.sorted { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }.map(\.name)
            return Contents(tensors: tensors, names: names, metadata: entries.metadata)
        }
    }

    private struct Entry {
        let name: String
        let dtype: DType
        let shape: [Int]
        let begin: Int
        let end: Int
    }

    private struct Header {
        var tensors: [Entry]
        var metadata: [String: String]
    }

    private enum DType {
        case f32, f16, bf16, f64

        init?(_ name: String) {
            switch name {
            case "F32": self = .f32
            case "F16": self = .f16
            case "BF16": self = .bf16
            case "F64": self = .f64
            default: return nil
            }
        }

        var byteCount: Int {
            switch self {
            case .f32: return 4
            case .f16, .bf16: return 2
            case .f64: return 8
            }
        }

        /// Little-endian values at `source` (any alignment) to Float32.
        func convert(_ source: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
            switch self {
            case .f32:
                for i in 0..<count {
                    out[i] = Float(
                        bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                }
            case .f64:
                for i in 0..<count {
                    out[i] = Float(
                        Double(
                            bitPattern: UInt64(
                                littleEndian: source.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
                }
            case .bf16:
                for i in 0..<count {
                    let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                    out[i] = Float(bitPattern: UInt32(bits) << 16)
                }
            case .f16:
                for i in 0..<count {
                    out[i] = halfToFloat(
                        UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                }
            }
        }

        /// Little-endian values at `source` widened to Float64 (exact for every dtype).
        func widened(_ source: UnsafeRawPointer, count: Int) -> [Double] {
            if self == .f64 {
                return (0..<count).map {
                    Double(bitPattern: UInt64(littleEndian: source.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)))
                }
            }
            var floats = [Float](repeating: 0, count: count)
            floats.withUnsafeMutableBufferPointer { out in
                if let base = out.baseAddress { convert(source, count: count, into: base) }
            }
            return floats.map(Double.init)
        }
    }

    private static func parseHeader(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Header {
        func invalid(_ reason: String) -> CheckpointError { .invalidHeader(path: path, reason: reason) }
        guard let first = bytes.first(where: { $0 != 0x20 }), first == UInt8(ascii: "{") else {
            throw invalid("the header does not start with a JSON object")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            throw invalid("not valid JSON (\(error.localizedDescription))")
        }
        guard let top = object as? [String: Any] else { throw invalid("the header is not a JSON object") }

        var metadata: [String: String] = [:]
        if let raw = top["__metadata__"] {
            guard let m = raw as? [String: String] else { throw invalid("__metadata__ must map strings to strings") }
            metadata = m
        }
        var entries: [Entry] = []
        for name in top.keys.sorted() where name != "__metadata__" {
            guard let fields = top[name] as? [String: Any] else { throw invalid("\(name): entry is not a JSON object") }
            guard let dtypeName = fields["dtype"] as? String else {
                throw invalid("\(name): missing or non-string \"dtype\"")
            }
            guard let shape = integers(fields["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw invalid("\(name): \"shape\" must be an array of non-negative integers")
            }
            guard let offsets = integers(fields["data_offsets"]), offsets.count == 2 else {
                throw invalid("\(name): \"data_offsets\" must be an array of two integers")
            }
            guard let dtype = DType(dtypeName) else {
                throw CheckpointError.unsupportedDType(path: path, tensor: name, dtype: dtypeName)
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1]))
        }
        return Header(tensors: entries, metadata: metadata)
    }

    /// Integers of a JSON array (booleans and fractions rejected).
    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        let booleanType = type(of: NSNumber(value: true))
        var result: [Int] = []
        for element in array {
            guard let number = element as? NSNumber, type(of: number) != booleanType, let i = element as? Int else {
                return nil
            }
            result.append(i)
        }
        return result
    }

    /// Every tensor's bytes lie inside the data section, match its shape and dtype, and the
    /// tensors tile the section without overlaps or holes.
    private static func validateLayout(_ header: Header, dataSize: Int, path: String) throws {
        func invalid(_ name: String, _ reason: String) -> CheckpointError {
            .invalidDataOffsets(path: path, tensor: name, reason: reason)
        }
        for entry in header.tensors {
            guard entry.begin >= 0, entry.begin <= entry.end else {
                throw invalid(entry.name, "data offsets [\(entry.begin), \(entry.end)] are not an increasing pair")
            }
            guard entry.end <= dataSize else {
                throw invalid(
                    entry.name, "data offsets [\(entry.begin), \(entry.end)] run past the \(dataSize)-byte data section"
                )
            }
            var bytes = entry.dtype.byteCount
            var overflow = false
            for d in entry.shape where !overflow { (bytes, overflow) = bytes.multipliedReportingOverflow(by: d) }
            // A zero dimension makes any size fit; the other dimensions must still have a
            // product (the tensor's strides) that does not overflow.
            var strides = entry.dtype.byteCount
            for d in entry.shape where d > 0 && !overflow { (strides, overflow) = strides.multipliedReportingOverflow(by: d) }
            guard !overflow, bytes == entry.end - entry.begin else {
                throw invalid(
                    entry.name,
                    "data offsets [\(entry.begin), \(entry.end)] hold \(entry.end - entry.begin) bytes, but shape \(entry.shape) needs \(overflow ? "more" : String(bytes))"
                )
            }
        }
        var position = 0
        for entry in header.tensors.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            if entry.begin < position {
                throw invalid(entry.name, "data offsets [\(entry.begin), \(entry.end)] overlap another tensor")
            }
            if entry.begin > position {
                throw invalid(
                    entry.name,
                    "data offsets [\(entry.begin), \(entry.end)] leave bytes \(position)..<\(entry.begin) unused")
            }
            position = entry.end
        }
        if position != dataSize {
            throw CheckpointError.invalidDataOffsets(
                path: path, tensor: "(data section)",
                reason: "\(dataSize - position) bytes after the last tensor are not described by the header")
        }
    }

    // MARK: Loading into a module

    /// Reads `url` and copies its tensors into `module`'s parameters and buffers by name.
    /// Strict: the names must match exactly. Either way every shape must match. Nothing is
    /// assigned unless the whole file is valid and every check passes.
    @discardableResult
    public static func load(into module: Module, from url: URL, strict: Bool = true) throws -> LoadResult {
        let contents = try read(from: url)
        return try assign(contents.tensors, names: contents.names, to: module.namedTensors(), path: url.path, strict: strict)
    }

    /// Copies stored tensors into `targets` by name (`names`: the stored names, in file order),
    /// with the checks of `load(into:from:strict:)`: nothing is assigned unless all pass.
    @discardableResult
    public static func assign(
        _ stored: [String: Tensor], names: [String], to targets: [(name: String, tensor: Tensor)], path: String,
        strict: Bool = true
    ) throws -> LoadResult {
        let modelNames = Set(targets.map(\.name))
        let missing = targets.map(\.name).filter { stored[$0] == nil }
        let unknown = names.filter { !modelNames.contains($0) }
        if strict && !(missing.isEmpty && unknown.isEmpty) {
            throw CheckpointError.keyMismatch(path: path, missing: missing, unknown: unknown)
        }
        for (name, tensor) in targets {
            if let value = stored[name], value.shape != tensor.shape {
                throw CheckpointError.shapeMismatch(
                    path: path, tensor: name, checkpointShape: value.shape, modelShape: tensor.shape)
            }
        }
        for (name, tensor) in targets {
            if let value = stored[name] { tensor.assign(value.to(tensor.device)) }
        }
        return LoadResult(missingKeys: missing, unknownKeys: unknown)
    }
}

/// IEEE 754 half precision bits to Float (subnormals, infinities and NaN included).
private func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exponent = Int((h >> 10) & 0x1F)
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0x1F {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    if exponent == 0 {
        // ±mantissa · 2⁻²⁴ (zero or subnormal), exact in Float.
        let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign != 0 ? -magnitude : magnitude
    }
    return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
}
