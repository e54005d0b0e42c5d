import Foundation

/// An n-dimensional array read from a NumPy `.npy` file, in C (row-major) order.
public struct NumpyArray: Sendable, Equatable {
    /// The element values, in the array's own type.
    public enum Values: Sendable, Equatable {
        case float32([Float])
        case float64([Double])
        case uint8([UInt8])
        case int32([Int32])
        case int64([Int64])
        case bool([Bool])
    }

    /// The dimensions (empty for a 0-d scalar array).
    public var shape: [Int]
    public var values: Values

    public init(shape: [Int], values: Values) {
        self.shape = shape
        self.values = values
        precondition(shape.reduce(1, *) == count, "NumpyArray: \(count) values do not fill shape \(shape)")
    }

    /// Number of elements.
    public var count: Int {
        switch values {
        case .float32(let array): return array.count
        case .float64(let array): return array.count
        case .uint8(let array): return array.count
        case .int32(let array): return array.count
        case .int64(let array): return array.count
        case .bool(let array): return array.count
        }
    }

    /// The NumPy type string of the elements (`<f4`, `<f8`, `|u1`, `<i4`, `<i8`, `|b1`).
    public var typeDescriptor: String {
        switch values {
        case .float32: return "<f4"
        case .float64: return "<f8"
        case .uint8: return "|u1"
        case .int32: return "<i4"
        case .int64: return "<i8"
        case .bool: return "|b1"
        }
    }

    /// The elements converted to Float (booleans as 0 and 1).
    public func floatValues() -> [Float] {
        switch values {
        case .float32(let array): return array
        case .float64(let array): return array.map { Float($0) }
        case .uint8(let array): return array.map { Float($0) }
        case .int32(let array): return array.map { Float($0) }
        case .int64(let array): return array.map { Float($0) }
        case .bool(let array): return array.map { $0 ? 1 : 0 }
        }
    }

    /// The elements as integers, or nil when a value is not an integer (NaN, fraction, too large).
    public func integerValues() -> [Int]? {
        switch values {
        case .uint8(let array): return array.map { Int($0) }
        case .int32(let array): return array.map { Int($0) }
        case .int64(let array): return array.map { Int($0) }
        case .bool(let array): return array.map { $0 ? 1 : 0 }
        case .float32(let array): return Self.exactIntegers(array)
        case .float64(let array): return Self.exactIntegers(array)
        }
    }

    /// `values` as integers, or nil when one is not a whole number below 10^15 in magnitude.
    private static func exactIntegers<Value: BinaryFloatingPoint>(_ values: [Value]) -> [Int]? {
        var out = [Int]()
        out.reserveCapacity(values.count)
        for value in values {
            guard value.isFinite, value == value.rounded(), abs(value) < 1e15 else { return nil }
            out.append(Int(value))
        }
        return out
    }
}

/// Reader for NumPy `.npy` files (format versions 1, 2 and 3; little-endian `f4`, `f8`, `u1`,
/// `i4`, `i8`, `b1`; C order) and `.npz` archives of them (zip, stored or deflated entries).
public enum NumpyReader {
    /// Reads one `.npy` file.
    public static func readArray(at url: URL) throws -> NumpyArray {
        try parseArray(FileBytes.read(url), path: url.path)
    }

    /// Reads every array of an `.npz` archive, keyed by name without the `.npy` suffix.
    public static func readArchive(at url: URL) throws -> [String: NumpyArray] {
        let bytes = try FileBytes.read(url)
        var arrays = [String: NumpyArray]()
        for entry in try ZipArchive.entries(of: bytes, path: url.path) {
            guard entry.name.hasSuffix(".npy") else { continue }
            let content = try ZipArchive.extract(entry, from: bytes, path: url.path)
            let name = String(entry.name.dropLast(4))
            arrays[name] = try parseArray(content, path: "\(url.path)[\(entry.name)]")
        }
        return arrays
    }

    /// Reads a table from an `.npz` archive holding a 2-d feature array and a 1-d integer label
    /// array (ADBench's layout: `X` and `y`). Feature names are `x0`, `x1`, ….
    public static func readLabeledTable(
        archiveAt url: URL, featuresKey: String = "X", labelsKey: String = "y", classNames: [String] = []
    ) throws -> LabeledTable {
        let arrays = try readArchive(at: url)
        guard let features = arrays[featuresKey], let labelArray = arrays[labelsKey] else {
            throw DatasetError.corrupt(
                path: url.path,
                problem:
                    "expected arrays '\(featuresKey)' and '\(labelsKey)', the archive holds \(arrays.keys.sorted().joined(separator: ", "))"
            )
        }
        guard features.shape.count == 2 else {
            throw DatasetError.corrupt(
                path: url.path, problem: "'\(featuresKey)' has shape \(features.shape), expected 2-d")
        }
        guard labelArray.count == features.shape[0] else {
            throw DatasetError.corrupt(
                path: url.path,
                problem:
                    "'\(featuresKey)' has \(features.shape[0]) rows but '\(labelsKey)' has \(labelArray.count) values")
        }
        guard let labels = labelArray.integerValues() else {
            throw DatasetError.corrupt(path: url.path, problem: "'\(labelsKey)' holds values that are not integers")
        }
        let samples = Samples(values: features.floatValues(), shape: features.shape)
        return LabeledTable(
            samples: LabeledSamples(samples: samples, labels: labels, classNames: classNames),
            featureNames: (0..<features.shape[1]).map { "x\($0)" }, labelColumnName: labelsKey)
    }

    /// Parses the bytes of a `.npy` file; `path` names it in errors.
    public static func parseArray(_ bytes: [UInt8], path: String) throws -> NumpyArray {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard bytes.count >= 10 else {
            throw DatasetError.truncated(path: path, problem: "\(bytes.count) bytes, too short for a .npy header")
        }
        guard Array(bytes[0..<6]) == magic else {
            throw DatasetError.corrupt(path: path, problem: "not a .npy file (the magic string \\x93NUMPY is missing)")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes.littleEndianUInt16(at: 8))
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else {
                throw DatasetError.truncated(
                    path: path, problem: "\(bytes.count) bytes, too short for a .npy v\(major) header")
            }
            headerLength = Int(bytes.littleEndianUInt32(at: 8))
            headerStart = 12
        default:
            throw DatasetError.unsupported(
                path: path, feature: ".npy format version \(major).\(bytes[7]) (versions 1–3 are supported)")
        }
        let dataStart = headerStart + headerLength
        guard bytes.count >= dataStart else {
            throw DatasetError.truncated(
                path: path,
                problem:
                    "the header says it is \(headerLength) bytes long, the file has \(bytes.count - headerStart) after the preamble"
            )
        }
        guard let headerText = String(validating: bytes[headerStart..<dataStart], as: UTF8.self) else {
            throw DatasetError.corrupt(
                path: path, problem: "the .npy header is not \(major == 3 ? "UTF-8" : "ASCII") text")
        }
        let header = try NumpyHeader(parsing: headerText, path: path)
        if header.fortranOrder {
            throw DatasetError.unsupported(
                path: path,
                feature: "fortran_order=True (column-major) arrays; save with np.ascontiguousarray(array) first")
        }
        let itemSize = header.elementType.itemSize
        let count = try UntrustedSize.product(header.shape, path: path, what: "the .npy shape")
        let byteCount = try UntrustedSize.product([count, itemSize], path: path, what: "the .npy data size")
        let available = bytes.count - dataStart
        guard available >= byteCount else {
            throw DatasetError.truncated(
                path: path,
                problem:
                    "header says shape \(header.shape) of \(header.descriptor) = \(byteCount) bytes of data, file has \(available)"
            )
        }
        guard available == byteCount else {
            throw DatasetError.corrupt(
                path: path,
                problem:
                    "header says shape \(header.shape) of \(header.descriptor) = \(byteCount) bytes of data, file has \(available)"
            )
        }
        func load<T>(_: T.Type) -> [T] {
            [T](unsafeUninitializedCapacity: count) { out, initialized in
                bytes.withUnsafeBytes { source in
                    UnsafeMutableRawBufferPointer(out).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: source[dataStart..<(dataStart + byteCount)]))
                }
                initialized = count
            }
        }
        let values: NumpyArray.Values
        switch header.elementType {
        case .float32: values = .float32(load(Float.self))
        case .float64: values = .float64(load(Double.self))
        case .uint8: values = .uint8(load(UInt8.self))
        case .int32: values = .int32(load(Int32.self))
        case .int64: values = .int64(load(Int64.self))
        case .bool:
            let raw = load(UInt8.self)
            if let bad = raw.firstIndex(where: { $0 > 1 }) {
                throw DatasetError.corrupt(path: path, problem: "boolean element \(bad) has byte value \(raw[bad])")
            }
            values = .bool(raw.map { $0 != 0 })
        }
        return NumpyArray(shape: header.shape, values: values)
    }
}

/// The dictionary of a `.npy` header: `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
struct NumpyHeader {
    enum ElementType {
        case float32, float64, uint8, int32, int64, bool

        var itemSize: Int {
            switch self {
            case .float32, .int32: return 4
            case .float64, .int64: return 8
            case .uint8, .bool: return 1
            }
        }
    }

    var descriptor: String
    var elementType: ElementType
    var fortranOrder: Bool
    var shape: [Int]

    private enum Value {
        case string(String)
        case bool(Bool)
        case tuple([Int])
        case other
    }

    init(parsing text: String, path: String) throws {
        let characters = Array(text.unicodeScalars)
        var index = 0
        func fail(_ problem: String) -> DatasetError {
            DatasetError.corrupt(
                path: path,
                problem:
                    "bad .npy header \(text.trimmingCharacters(in: .whitespacesAndNewlines).debugDescription): \(problem)"
            )
        }
        func skipSpace() { while index < characters.count && characters[index].properties.isWhitespace { index += 1 } }
        func expect(_ character: Unicode.Scalar) throws {
            skipSpace()
            guard index < characters.count, characters[index] == character else {
                throw fail("expected '\(character)' at offset \(index)")
            }
            index += 1
        }
        func peek() -> Unicode.Scalar? {
            skipSpace()
            return index < characters.count ? characters[index] : nil
        }
        func parseString() throws -> String {
            skipSpace()
            guard index < characters.count, characters[index] == "'" || characters[index] == "\"" else {
                throw fail("expected a quoted string at offset \(index)")
            }
            let quote = characters[index]
            index += 1
            var result = ""
            while index < characters.count && characters[index] != quote {
                result.unicodeScalars.append(characters[index])
                index += 1
            }
            guard index < characters.count else { throw fail("unterminated string") }
            index += 1
            return result
        }
        func parseInteger() throws -> Int {
            skipSpace()
            var digits = ""
            while index < characters.count, characters[index].properties.numericType != nil || characters[index] == "L"
            {
                if characters[index] != "L" { digits.unicodeScalars.append(characters[index]) }
                index += 1
            }
            guard let value = Int(digits), value >= 0 else { throw fail("expected a dimension at offset \(index)") }
            return value
        }
        func parseValue() throws -> Value {
            switch peek() {
            case "'", "\"": return .string(try parseString())
            case "(":
                index += 1
                var dimensions = [Int]()
                while peek() != ")" {
                    dimensions.append(try parseInteger())
                    if peek() == "," { index += 1 } else { break }
                }
                try expect(")")
                return .tuple(dimensions)
            case "T", "F":
                let rest = String(String.UnicodeScalarView(characters[index...]))
                if rest.hasPrefix("True") {
                    index += 4
                    return .bool(true)
                }
                if rest.hasPrefix("False") {
                    index += 5
                    return .bool(false)
                }
                throw fail("unexpected value at offset \(index)")
            default:
                // Something we do not interpret (a list for structured dtypes, for example):
                // skip to the next top-level comma or closing brace.
                var depth = 0
                while index < characters.count {
                    let character = characters[index]
                    if character == "[" || character == "(" || character == "{" { depth += 1 }
                    if character == "]" || character == ")" || character == "}" {
                        if depth == 0 { break }
                        depth -= 1
                    }
                    if character == "," && depth == 0 { break }
                    index += 1
                }
                return .other
            }
        }

        try expect("{")
        var fields = [String: Value]()
        while peek() != "}" {
            let key = try parseString()
            try expect(":")
            fields[key] = try parseValue()
            if peek() == "," { index += 1 } else { break }
        }
        try expect("}")

        guard let descrValue = fields["descr"] else { throw fail("no 'descr' key") }
        guard case .string(let descriptor) = descrValue else {
            throw DatasetError.unsupported(
                path: path, feature: "structured .npy arrays (descr is not a simple type string)")
        }
        guard case .bool(let fortranOrder) = fields["fortran_order"] ?? .other else {
            throw fail("no boolean 'fortran_order' key")
        }
        guard case .tuple(let shape) = fields["shape"] ?? .other else { throw fail("no 'shape' tuple") }

        let byteOrder = descriptor.first
        let kind = String(descriptor.dropFirst())
        let elementType: ElementType
        switch kind {
        case "f4": elementType = .float32
        case "f8": elementType = .float64
        case "u1": elementType = .uint8
        case "i4": elementType = .int32
        case "i8": elementType = .int64
        case "b1": elementType = .bool
        default:
            throw DatasetError.unsupported(
                path: path, feature: "element type '\(descriptor)' (supported: <f4, <f8, |u1, <i4, <i8, |b1)")
        }
        let littleEndianHost = 1.littleEndian == 1
        let byteOrderOK =
            elementType.itemSize == 1
            ? (byteOrder == "|" || byteOrder == "<" || byteOrder == ">" || byteOrder == "=")
            : (byteOrder == "<" || (byteOrder == "=" && littleEndianHost))
        guard byteOrderOK && littleEndianHost else {
            throw DatasetError.unsupported(
                path: path, feature: "byte order of element type '\(descriptor)' (only little-endian data is supported)"
            )
        }
        self.descriptor = descriptor
        self.elementType = elementType
        self.fortranOrder = fortranOrder
        self.shape = shape
    }
}
