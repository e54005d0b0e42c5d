import Foundation

/// A decoded 8-bit image with interleaved channels (`pixels` in row-major `H×W×C` order, as
/// PNG stores them).
public struct PNGImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. Palette images decode to RGB, or RGBA when the
    /// file has a `tRNS` chunk.
    public var channels: Int
    /// `height·width·channels` bytes, row-major, channels interleaved.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(
            pixels.count == width * height * channels,
            "PNGImage: pixel count does not match \(height)×\(width)×\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// The same image with `targetChannels` channels: colour to grey with the ITU-R 601 luma
    /// weights (as Pillow's `convert("L")`), grey replicated to RGB, alpha dropped or set opaque.
    public func converted(toChannels targetChannels: Int) -> PNGImage {
        precondition((1...4).contains(targetChannels), "PNGImage: channel count must be 1…4, got \(targetChannels)")
        if targetChannels == channels { return self }
        let pixelCount = width * height
        let source = channels
        let out = [UInt8](unsafeUninitializedCapacity: pixelCount * targetChannels) { out, initialized in
            pixels.withUnsafeBufferPointer { input in
                for index in 0..<pixelCount {
                    let from = index * source
                    let hasColour = source >= 3
                    let red = input[from]
                    let green = hasColour ? input[from + 1] : red
                    let blue = hasColour ? input[from + 2] : red
                    let alpha: UInt8 = (source == 2 || source == 4) ? input[from + source - 1] : 255
                    let to = index * targetChannels
                    switch targetChannels {
                    case 1, 2:
                        out[to] = hasColour ? luma(red: red, green: green, blue: blue) : red
                        if targetChannels == 2 { out[to + 1] = alpha }
                    default:
                        out[to] = red
                        out[to + 1] = green
                        out[to + 2] = blue
                        if targetChannels == 4 { out[to + 3] = alpha }
                    }
                }
            }
            initialized = pixelCount * targetChannels
        }
        return PNGImage(width: width, height: height, channels: targetChannels, pixels: out)
    }

    /// ITU-R 601 luma in 16-bit fixed point, rounded: (299 R + 587 G + 114 B) / 1000.
    @inline(__always)
    private func luma(red: UInt8, green: UInt8, blue: UInt8) -> UInt8 {
        let weighted: UInt32 = UInt32(red) * 19595 + UInt32(green) * 38470 + UInt32(blue) * 7471
        return UInt8((weighted + 0x8000) >> 16)
    }

    /// The pixels in planar `C×H×W` order (one plane per channel), as `ImageBytes` wants them.
    public func planarPixels() -> [UInt8] {
        let planeSize = width * height
        let channelCount = channels
        return [UInt8](unsafeUninitializedCapacity: pixels.count) { out, initialized in
            pixels.withUnsafeBufferPointer { input in
                for channel in 0..<channelCount {
                    for index in 0..<planeSize {
                        out[channel * planeSize + index] = input[index * channelCount + channel]
                    }
                }
            }
            initialized = pixels.count
        }
    }
}

/// A PNG decoder on top of zlib: 8-bit greyscale, grey + alpha, RGB, RGBA and palette images,
/// non-interlaced, all five scanline filters; every chunk's CRC-32 is checked.
public enum PNGDecoder {
    /// Decodes the PNG file at `url`.
    public static func decode(fileAt url: URL) throws -> PNGImage {
        try decode(FileBytes.read(url), path: url.path)
    }

    /// Decodes PNG bytes; `path` names the source in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> PNGImage {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else {
            throw DatasetError.corrupt(path: path, problem: "not a PNG file (bad signature)")
        }
        var offset = 8
        var header: (width: Int, height: Int, bitDepth: UInt8, colorType: UInt8, interlace: UInt8)?
        var palette = [UInt8]()
        var paletteAlpha = [UInt8]()
        var imageData = [UInt8]()
        var sawEnd = false
        while !sawEnd {
            guard offset + 12 <= bytes.count else {
                throw DatasetError.truncated(
                    path: path, problem: "the file ends at byte \(bytes.count) before the IEND chunk")
            }
            let length = Int(bytes.bigEndianUInt32(at: offset))
            let typeBytes = Array(bytes[(offset + 4)..<(offset + 8)])
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard length <= Int(Int32.max), offset + 12 + length <= bytes.count else {
                throw DatasetError.truncated(
                    path: path, problem: "chunk \(type) at byte \(offset) says \(length) bytes, the file ends first")
            }
            let dataStart = offset + 8
            let storedCRC = bytes.bigEndianUInt32(at: dataStart + length)
            let computedCRC = bytes.withUnsafeBytes {
                CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[(offset + 4)..<(dataStart + length)]))
            }
            guard storedCRC == computedCRC else {
                throw DatasetError.corrupt(
                    path: path,
                    problem:
                        "CRC mismatch in chunk \(type) at byte \(offset) (stored \(String(storedCRC, radix: 16)), computed \(String(computedCRC, radix: 16)))"
                )
            }
            let data = bytes[dataStart..<(dataStart + length)]
            if header == nil && type != "IHDR" {
                throw DatasetError.corrupt(path: path, problem: "the first chunk is \(type), expected IHDR")
            }
            switch type {
            case "IHDR":
                guard length == 13 else {
                    throw DatasetError.corrupt(path: path, problem: "IHDR is \(length) bytes, expected 13")
                }
                let fields = Array(data)
                let width = Int(fields.bigEndianUInt32(at: 0))
                let height = Int(fields.bigEndianUInt32(at: 4))
                guard width > 0, height > 0, width < 1 << 24, height < 1 << 24 else {
                    throw DatasetError.corrupt(path: path, problem: "image size \(width)×\(height)")
                }
                guard fields[10] == 0, fields[11] == 0 else {
                    throw DatasetError.corrupt(path: path, problem: "unknown compression or filter method in IHDR")
                }
                header = (width, height, fields[8], fields[9], fields[12])
            case "PLTE":
                guard length % 3 == 0, length <= 768 else {
                    throw DatasetError.corrupt(path: path, problem: "PLTE of \(length) bytes")
                }
                palette = Array(data)
            case "tRNS":
                if header?.colorType == 3 { paletteAlpha = Array(data) }
            case "IDAT":
                imageData.append(contentsOf: data)
            case "IEND":
                sawEnd = true
            default:
                // Critical chunks have an upper-case first letter; we must understand them.
                if typeBytes[0] & 0x20 == 0 {
                    throw DatasetError.unsupported(path: path, feature: "critical PNG chunk \(type)")
                }
            }
            offset = dataStart + length + 4
        }
        guard let header else { throw DatasetError.corrupt(path: path, problem: "no IHDR chunk") }
        let sourceChannels: Int
        switch header.colorType {
        case 0: sourceChannels = 1
        case 2: sourceChannels = 3
        case 3: sourceChannels = 1
        case 4: sourceChannels = 2
        case 6: sourceChannels = 4
        default:
            throw DatasetError.corrupt(path: path, problem: "unknown PNG colour type \(header.colorType)")
        }
        guard header.bitDepth == 8 else {
            throw DatasetError.unsupported(
                path: path, feature: "bit depth \(header.bitDepth) (only 8-bit PNG images are supported)")
        }
        guard header.interlace == 0 else {
            throw DatasetError.unsupported(
                path: path,
                feature: "Adam7 interlaced PNG (only non-interlaced images are supported; re-save without interlacing)")
        }
        if header.colorType == 3 && palette.isEmpty {
            throw DatasetError.corrupt(path: path, problem: "palette image without a PLTE chunk")
        }
        guard !imageData.isEmpty else { throw DatasetError.corrupt(path: path, problem: "no IDAT chunk") }

        let width = header.width
        let height = header.height
        let rowBytes = width * sourceChannels
        let filtered = try imageData.withUnsafeBytes {
            try Inflate.decompress(
                $0, zlibHeader: true, expectedCount: height * (rowBytes + 1), path: path, what: "PNG image data")
        }
        var unfiltered = [UInt8](repeating: 0, count: height * rowBytes)
        try unfilter(
            filtered, into: &unfiltered, width: width, height: height, bytesPerPixel: sourceChannels, path: path)

        if header.colorType != 3 {
            return PNGImage(width: width, height: height, channels: sourceChannels, pixels: unfiltered)
        }
        // Palette: expand indices to RGB (or RGBA with tRNS alpha).
        let entries = palette.count / 3
        let outChannels = paletteAlpha.isEmpty ? 3 : 4
        var expanded = [UInt8](repeating: 0, count: width * height * outChannels)
        for index in 0..<(width * height) {
            let entry = Int(unfiltered[index])
            guard entry < entries else {
                throw DatasetError.corrupt(
                    path: path, problem: "pixel \(index) uses palette entry \(entry), the palette has \(entries)")
            }
            let to = index * outChannels
            expanded[to] = palette[3 * entry]
            expanded[to + 1] = palette[3 * entry + 1]
            expanded[to + 2] = palette[3 * entry + 2]
            if outChannels == 4 { expanded[to + 3] = entry < paletteAlpha.count ? paletteAlpha[entry] : 255 }
        }
        return PNGImage(width: width, height: height, channels: outChannels, pixels: expanded)
    }

    /// Reverses the per-scanline filters (None, Sub, Up, Average, Paeth).
    private static func unfilter(
        _ filtered: [UInt8], into output: inout [UInt8], width: Int, height: Int, bytesPerPixel: Int, path: String
    ) throws {
        let rowBytes = width * bytesPerPixel
        try filtered.withUnsafeBufferPointer { input in
            try output.withUnsafeMutableBufferPointer { out in
                let zeroRow = [UInt8](repeating: 0, count: rowBytes)
                try zeroRow.withUnsafeBufferPointer { zero in
                    for row in 0..<height {
                        let filterType = input[row * (rowBytes + 1)]
                        let source = input.baseAddress! + row * (rowBytes + 1) + 1
                        let current = out.baseAddress! + row * rowBytes
                        let previous = row == 0 ? zero.baseAddress! : UnsafePointer(current - rowBytes)
                        switch filterType {
                        case 0:
                            current.update(from: source, count: rowBytes)
                        case 1:
                            for index in 0..<rowBytes {
                                let left = index >= bytesPerPixel ? current[index - bytesPerPixel] : 0
                                current[index] = source[index] &+ left
                            }
                        case 2:
                            for index in 0..<rowBytes { current[index] = source[index] &+ previous[index] }
                        case 3:
                            for index in 0..<rowBytes {
                                let left = index >= bytesPerPixel ? Int(current[index - bytesPerPixel]) : 0
                                current[index] = source[index] &+ UInt8((left + Int(previous[index])) >> 1)
                            }
                        case 4:
                            for index in 0..<rowBytes {
                                let left = index >= bytesPerPixel ? Int(current[index - bytesPerPixel]) : 0
                                let up = Int(previous[index])
                                let upLeft = index >= bytesPerPixel ? Int(previous[index - bytesPerPixel]) : 0
                                let estimate = left + up - upLeft
                                let distanceLeft = abs(estimate - left)
                                let distanceUp = abs(estimate - up)
                                let distanceUpLeft = abs(estimate - upLeft)
                                let predictor =
                                    (distanceLeft <= distanceUp && distanceLeft <= distanceUpLeft)
                                    ? left : (distanceUp <= distanceUpLeft ? up : upLeft)
                                current[index] = source[index] &+ UInt8(predictor)
                            }
                        default:
                            throw DatasetError.corrupt(
                                path: path, problem: "row \(row) has unknown filter type \(filterType)")
                        }
                    }
                }
            }
        }
    }
}
