import Datasets
import Detectors
import Foundation

/// The report's gallery for image data: the most and the least anomalous test images with their
/// scores and labels, as inline BMP data URIs (no encoder library, no external files).
struct ImageGallery {
    struct Item {
        let uri: String
        let caption: String
        let isAnomaly: Bool
    }

    /// Images shown per row.
    static let count = 8

    let most: [Item]
    let least: [Item]

    /// Nil unless the samples are images ([1 or 3, H, W] with values in [0, 1]).
    init?(samples: Samples, scores: [Float], isAnomaly: [Bool]) {
        let shape = samples.sampleShape
        guard shape.count == 3, shape[0] == 1 || shape[0] == 3, shape[1] <= 256, shape[2] <= 256,
            samples.count == scores.count, samples.count >= 2
        else { return nil }
        let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        func item(_ index: Int) -> Item {
            Item(
                uri: Self.bitmapURI(samples.row(index), shape: shape),
                caption: String(format: "#%d  %.4g  %@", index, scores[index], isAnomaly[index] ? "anomaly" : "normal"),
                isAnomaly: isAnomaly[index])
        }
        let shown = min(Self.count, samples.count / 2)
        most = order.prefix(shown).map(item)
        least = order.suffix(shown).reversed().map(item)
    }

    /// A 24-bit BMP of one image (channels-first values in [0, 1], clamped) as a data URI.
    static func bitmapURI(_ values: ArraySlice<Float>, shape: [Int]) -> String {
        let (channels, height, width) = (shape[0], shape[1], shape[2])
        let rowBytes = (width * 3 + 3) / 4 * 4
        let pixelBytes = rowBytes * height
        var bytes = [UInt8]()
        bytes.reserveCapacity(54 + pixelBytes)
        func le32(_ v: Int) { for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8((v >> shift) & 0xff)) } }
        func le16(_ v: Int) { bytes.append(UInt8(v & 0xff)); bytes.append(UInt8(v >> 8)) }
        bytes += [0x42, 0x4d]
        le32(54 + pixelBytes); le32(0); le32(54)
        le32(40); le32(width); le32(height); le16(1); le16(24); le32(0); le32(pixelBytes); le32(2835); le32(2835); le32(0); le32(0)
        let base = values.startIndex, plane = height * width
        func byte(_ v: Float) -> UInt8 { UInt8((min(max(v.isFinite ? v : 0, 0), 1) * 255).rounded()) }
        for y in stride(from: height - 1, through: 0, by: -1) {  // BMP rows run bottom-up
            for x in 0..<width {
                let p = y * width + x
                let (r, g, b) = channels == 3
                    ? (values[base + p], values[base + plane + p], values[base + 2 * plane + p])
                    : (values[base + p], values[base + p], values[base + p])
                bytes += [byte(b), byte(g), byte(r)]
            }
            bytes += [UInt8](repeating: 0, count: rowBytes - width * 3)
        }
        return "data:image/bmp;base64," + Data(bytes).base64EncodedString()
    }

    /// Titled rows of images a detector made (grey frames), each image with its caption, after
    /// `note`; sets that are not images of at most 256 × 256 are left out.
    static func html(_ sets: [ReportImages], note: String) -> String? {
        let rows = sets.compactMap { set -> String? in
            let shape = set.images.sampleShape
            guard shape.count == 3, shape[0] == 1 || shape[0] == 3, shape[1] <= 256, shape[2] <= 256,
                set.captions.count == set.images.count, set.images.count > 0
            else { return nil }
            return "<h3>\(SVGPlot.escape(set.title))</h3><div class=\"gallery\">"
                + set.captions.enumerated().map { i, caption in
                    "<figure class=\"made\"><img src=\"\(bitmapURI(set.images.row(i), shape: shape))\" alt=\"\(SVGPlot.escape(caption))\">"
                        + "<figcaption>\(SVGPlot.escape(caption))</figcaption></figure>"
                }.joined() + "</div>"
        }
        return rows.isEmpty ? nil : "<p>\(SVGPlot.escape(note))</p>" + rows.joined()
    }

    func html() -> String {
        func row(_ title: String, _ items: [Item]) -> String {
            "<h3>\(SVGPlot.escape(title))</h3><div class=\"gallery\">"
                + items.map {
                    "<figure class=\"\($0.isAnomaly ? "anomaly" : "normal")\"><img src=\"\($0.uri)\" alt=\"\(SVGPlot.escape($0.caption))\">"
                        + "<figcaption>\(SVGPlot.escape($0.caption))</figcaption></figure>"
                }.joined() + "</div>"
        }
        return row("Most anomalous test images (highest scores)", most) + row("Least anomalous test images (lowest scores)", least)
    }
}
