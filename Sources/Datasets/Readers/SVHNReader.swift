import Foundation

/// Reader for SVHN's cropped-digit files (`train_32x32.mat`, `test_32x32.mat`): MATLAB v5
/// files holding `X` (32×32×3×N unsigned bytes, column-major) and `y` (N labels 1…10, where 10
/// stands for the digit 0).
public enum SVHNReader {
    /// Reads an SVHN `.mat` file as `[N, 3, 32, 32]` bytes with labels 0…9.
    public static func read(at url: URL) throws -> LabeledImageBytes {
        let path = url.path
        let variables = try MATv5Reader.read(FileBytes.read(url), path: path)
        guard let images = variables["X"], let labelVariable = variables["y"] else {
            throw DatasetError.corrupt(
                path: path,
                problem: "expected variables X and y, the file holds \(variables.keys.sorted().joined(separator: ", "))"
            )
        }
        guard images.dimensions.count == 4, images.dimensions[0] == 32, images.dimensions[1] == 32,
            images.dimensions[2] == 3, case .uint8(let columnMajor) = images.values
        else {
            throw DatasetError.corrupt(
                path: path, problem: "X is \(images.dimensions) of \(images.values.typeName), expected 32×32×3×N uint8")
        }
        let count = images.dimensions[3]
        let labelValues = labelVariable.values.doubles
        guard labelValues.count == count else {
            throw DatasetError.corrupt(
                path: path, problem: "X holds \(count) images but y holds \(labelValues.count) labels")
        }
        var labels = [Int]()
        labels.reserveCapacity(count)
        for (index, value) in labelValues.enumerated() {
            guard value >= 1, value <= 10, value == value.rounded() else {
                throw DatasetError.corrupt(path: path, problem: "label \(index) is \(value), expected 1…10")
            }
            labels.append(value == 10 ? 0 : Int(value))
        }
        // Column-major X[h, w, c, n] (h fastest) → NCHW (w fastest).
        let pixels = [UInt8](unsafeUninitializedCapacity: columnMajor.count) { out, initialized in
            columnMajor.withUnsafeBufferPointer { source in
                for image in 0..<count {
                    for channel in 0..<3 {
                        let from = source.baseAddress! + image * 3072 + channel * 1024
                        let to = out.baseAddress! + image * 3072 + channel * 1024
                        for column in 0..<32 {
                            for row in 0..<32 { to[row * 32 + column] = from[column * 32 + row] }
                        }
                    }
                }
            }
            initialized = columnMajor.count
        }
        return LabeledImageBytes(
            images: ImageBytes(pixels: pixels, shape: [count, 3, 32, 32]), labels: labels,
            classNames: (0...9).map(String.init))
    }
}

/// A minimal MATLAB v5 (`.mat`, not v7.3/HDF5) reader: numeric matrices, compressed or not,
/// little-endian.
enum MATv5Reader {
    enum Values {
        case uint8([UInt8])
        case numbers([Double])

        var typeName: String {
            switch self {
            case .uint8: return "uint8"
            case .numbers: return "numeric"
            }
        }

        var doubles: [Double] {
            switch self {
            case .uint8(let bytes): return bytes.map { Double($0) }
            case .numbers(let numbers): return numbers
            }
        }
    }

    struct Variable {
        var dimensions: [Int]
        var values: Values
    }

    private static let miINT8: UInt32 = 1, miUINT8: UInt32 = 2, miINT16: UInt32 = 3, miUINT16: UInt32 = 4
    private static let miINT32: UInt32 = 5, miUINT32: UInt32 = 6, miSINGLE: UInt32 = 7, miDOUBLE: UInt32 = 9
    private static let miINT64: UInt32 = 12, miUINT64: UInt32 = 13, miMATRIX: UInt32 = 14
    private static let miCOMPRESSED: UInt32 = 15

    /// The numeric variables of a MATLAB v5 file, by name. Other kinds (cells, structs,
    /// sparse, complex) are skipped.
    static func read(_ bytes: [UInt8], path: String) throws -> [String: Variable] {
        guard bytes.count >= 128 else {
            throw DatasetError.truncated(path: path, problem: "\(bytes.count) bytes, too short for a MATLAB v5 header")
        }
        if bytes.count >= 8 && Array(bytes[0..<8]) == [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A] {
            throw DatasetError.unsupported(path: path, feature: "MATLAB v7.3 (HDF5) files; save with -v7 or older")
        }
        let headerText = String(decoding: bytes[0..<116], as: UTF8.self)
        guard headerText.hasPrefix("MATLAB 5.0 MAT-file") else {
            throw DatasetError.corrupt(path: path, problem: "not a MATLAB 5.0 MAT-file (header text missing)")
        }
        guard bytes[126] == UInt8(ascii: "I"), bytes[127] == UInt8(ascii: "M") else {
            throw DatasetError.unsupported(path: path, feature: "big-endian MAT-file")
        }
        var variables = [String: Variable]()
        var offset = 128
        while offset + 8 <= bytes.count {
            let type = bytes.littleEndianUInt32(at: offset)
            let size = Int(bytes.littleEndianUInt32(at: offset + 4))
            let dataStart = offset + 8
            guard dataStart + size <= bytes.count else {
                throw DatasetError.truncated(
                    path: path, problem: "data element at byte \(offset) says \(size) bytes, the file ends first")
            }
            var element = Array(bytes[dataStart..<(dataStart + size)])
            var elementType = type
            if type == miCOMPRESSED {
                element = try inflateUnknownSize(element, path: path)
                guard element.count >= 8 else {
                    throw DatasetError.corrupt(path: path, problem: "empty compressed element at byte \(offset)")
                }
                elementType = element.littleEndianUInt32(at: 0)
                let innerSize = Int(element.littleEndianUInt32(at: 4))
                guard 8 + innerSize <= element.count else {
                    throw DatasetError.truncated(
                        path: path, problem: "compressed element at byte \(offset) is incomplete")
                }
                element = Array(element[8..<(8 + innerSize)])
                offset = dataStart + size
            } else {
                offset = dataStart + ((size + 7) & ~7)
            }
            if elementType == miMATRIX, let (name, variable) = try parseMatrix(element, path: path) {
                variables[name] = variable
            }
        }
        return variables
    }

    /// Parses the sub-elements of a miMATRIX element; nil for kinds we skip.
    private static func parseMatrix(_ bytes: [UInt8], path: String) throws -> (String, Variable)? {
        var offset = 0
        func next() throws -> (type: UInt32, data: ArraySlice<UInt8>) {
            // Small and normal data elements both take at least 8 bytes.
            guard offset + 8 <= bytes.count else {
                throw DatasetError.truncated(path: path, problem: "MATLAB matrix element ends early")
            }
            let first = bytes.littleEndianUInt32(at: offset)
            if first >> 16 != 0 {  // small data element: type and size in 4 bytes, data in the next 4
                let size = Int(first >> 16)
                let data = bytes[(offset + 4)..<(offset + 4 + min(size, 4))]
                offset += 8
                return (first & 0xffff, data)
            }
            let size = Int(bytes.littleEndianUInt32(at: offset + 4))
            guard offset + 8 + size <= bytes.count else {
                throw DatasetError.truncated(path: path, problem: "MATLAB matrix sub-element ends early")
            }
            let data = bytes[(offset + 8)..<(offset + 8 + size)]
            offset += 8 + ((size + 7) & ~7)
            return (first, data)
        }
        let flags = try next()
        guard flags.data.count >= 8 else { return nil }
        let flagWord = Array(flags.data).littleEndianUInt32(at: 0)
        let matrixClass = flagWord & 0xff
        let isComplex = flagWord & 0x800 != 0
        // Numeric classes: double 6, single 7, int8 8 … uint64 15.
        guard (6...15).contains(matrixClass), !isComplex else { return nil }
        let dimensionElement = try next()
        let dimensionBytes = Array(dimensionElement.data)
        let dimensions = stride(from: 0, to: dimensionBytes.count - 3, by: 4).map {
            Int(Int32(bitPattern: dimensionBytes.littleEndianUInt32(at: $0)))
        }
        let nameElement = try next()
        let name = String(decoding: nameElement.data, as: UTF8.self)
        let real = try next()
        let raw = Array(real.data)
        let count = try UntrustedSize.product(dimensions, path: path, what: "the dimensions of variable \(name)")
        let values: Values
        if matrixClass == 9 && real.type == miUINT8 {  // uint8 class stored as uint8
            values = .uint8(raw)
        } else {
            values = .numbers(try numbers(raw, type: real.type, path: path))
        }
        let valueCount: Int
        switch values {
        case .uint8(let array): valueCount = array.count
        case .numbers(let array): valueCount = array.count
        }
        guard valueCount == count else {
            throw DatasetError.corrupt(
                path: path, problem: "variable \(name) has dimensions \(dimensions) but \(valueCount) values")
        }
        return (name, Variable(dimensions: dimensions, values: values))
    }

    private static func numbers(_ raw: [UInt8], type: UInt32, path: String) throws -> [Double] {
        func load<T>(_: T.Type, _ convert: (T) -> Double) -> [Double] {
            let count = raw.count / MemoryLayout<T>.size
            return raw.withUnsafeBytes { buffer in
                (0..<count).map { convert(buffer.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
            }
        }
        switch type {
        case miINT8: return load(Int8.self) { Double($0) }
        case miUINT8: return raw.map { Double($0) }
        case miINT16: return load(Int16.self) { Double($0) }
        case miUINT16: return load(UInt16.self) { Double($0) }
        case miINT32: return load(Int32.self) { Double($0) }
        case miUINT32: return load(UInt32.self) { Double($0) }
        case miSINGLE: return load(Float.self) { Double($0) }
        case miDOUBLE: return load(Double.self) { $0 }
        case miINT64: return load(Int64.self) { Double($0) }
        case miUINT64: return load(UInt64.self) { Double($0) }
        default:
            throw DatasetError.unsupported(path: path, feature: "MATLAB data type \(type)")
        }
    }

    private static func inflateUnknownSize(_ compressed: [UInt8], path: String) throws -> [UInt8] {
        let inflater = try ZlibInflater(framing: .zlib, path: path)
        var output = [UInt8]()
        try compressed.withUnsafeBytes { input in
            try inflater.feed(input) { piece in
                guard output.count + piece.count <= ReadLimits.decompressedBytes else {
                    throw ReadLimits.decompressedTooLarge(path: path, what: "a compressed MATLAB element")
                }
                output.append(contentsOf: piece)
            }
        }
        try inflater.finish()
        return output
    }
}
