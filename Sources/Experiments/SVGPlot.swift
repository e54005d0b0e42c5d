import Foundation

/// Small, dependency-free SVG charts for the HTML report: line charts (ROC, PR curves) and
/// overlaid histograms (score distributions of normals and anomalies).
public enum SVGPlot {
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var color: String
        public init(name: String, points: [(x: Double, y: Double)], color: String) {
            self.name = name
            self.points = points
            self.color = color
        }
    }

    static let width = 420.0, height = 320.0
    static let left = 56.0, right = 14.0, top = 28.0, bottom = 44.0

    /// A line chart on fixed axes (both [0, 1] by default), with an optional diagonal.
    public static func lineChart(
        title: String, xLabel: String, yLabel: String, series: [Series],
        xRange: ClosedRange<Double> = 0...1, yRange: ClosedRange<Double> = 0...1, diagonal: Bool = false
    ) -> String {
        var svg = frame(title: title, xLabel: xLabel, yLabel: yLabel, xRange: xRange, yRange: yRange)
        if diagonal {
            let (x0, y0) = map(xRange.lowerBound, yRange.lowerBound, xRange, yRange)
            let (x1, y1) = map(xRange.upperBound, yRange.upperBound, xRange, yRange)
            svg += "<line x1=\"\(f(x0))\" y1=\"\(f(y0))\" x2=\"\(f(x1))\" y2=\"\(f(y1))\" stroke=\"#bbb\" stroke-dasharray=\"4 4\"/>\n"
        }
        for s in series {
            let thinned = thin(s.points, limit: 800)
            let path = thinned.map { p -> String in
                let (x, y) = map(p.x, p.y, xRange, yRange)
                return "\(f(x)),\(f(y))"
            }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
        }
        svg += legend(series.map { ($0.name, $0.color) })
        return svg + "</svg>"
    }

    /// Overlaid histograms of several groups of values on shared bins.
    public static func histogram(
        title: String, xLabel: String, groups: [(name: String, values: [Double], color: String)], bins: Int = 40
    ) -> String {
        let all = groups.flatMap { $0.values }.filter { $0.isFinite }
        guard let lo = all.min(), let hi = all.max() else {
            return frame(title: title, xLabel: xLabel, yLabel: "density", xRange: 0...1, yRange: 0...1) + "</svg>"
        }
        let span = hi > lo ? hi - lo : 1
        var densities: [[Double]] = []
        for g in groups {
            var counts = [Double](repeating: 0, count: bins)
            for v in g.values where v.isFinite {
                counts[min(bins - 1, Int((v - lo) / span * Double(bins)))] += 1
            }
            let n = max(Double(g.values.count), 1)
            densities.append(counts.map { $0 / n })
        }
        let yMax = max(densities.flatMap { $0 }.max() ?? 1, 1e-9)
        let xRange = lo...(lo + span), yRange = 0...(yMax * 1.05)
        var svg = frame(title: title, xLabel: xLabel, yLabel: "fraction of group", xRange: xRange, yRange: yRange)
        let binWidth = span / Double(bins)
        for (g, d) in zip(groups, densities) {
            for (i, v) in d.enumerated() where v > 0 {
                let (x0, y0) = map(lo + Double(i) * binWidth, v, xRange, yRange)
                let (x1, y1) = map(lo + Double(i + 1) * binWidth, 0, xRange, yRange)
                svg += "<rect x=\"\(f(x0))\" y=\"\(f(y0))\" width=\"\(f(max(x1 - x0, 0.5)))\" height=\"\(f(max(y1 - y0, 0)))\" fill=\"\(g.color)\" fill-opacity=\"0.45\"/>\n"
            }
        }
        svg += legend(groups.map { ($0.name, $0.color) })
        return svg + "</svg>"
    }

    // MARK: Pieces

    static func frame(title: String, xLabel: String, yLabel: String, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>) -> String {
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(f(width / 2))\" y=\"16\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(escape(title))</text>\n"
        let (x0, y0) = map(xRange.lowerBound, yRange.lowerBound, xRange, yRange)
        let (x1, y1) = map(xRange.upperBound, yRange.upperBound, xRange, yRange)
        s += "<rect x=\"\(f(x0))\" y=\"\(f(y1))\" width=\"\(f(x1 - x0))\" height=\"\(f(y0 - y1))\" fill=\"none\" stroke=\"#444\"/>\n"
        for i in 0...4 {
            let t = Double(i) / 4
            let xv = xRange.lowerBound + t * (xRange.upperBound - xRange.lowerBound)
            let yv = yRange.lowerBound + t * (yRange.upperBound - yRange.lowerBound)
            let (gx, _) = map(xv, yRange.lowerBound, xRange, yRange)
            let (_, gy) = map(xRange.lowerBound, yv, xRange, yRange)
            s += "<line x1=\"\(f(gx))\" y1=\"\(f(y0))\" x2=\"\(f(gx))\" y2=\"\(f(y0 + 4))\" stroke=\"#444\"/>"
            s += "<text x=\"\(f(gx))\" y=\"\(f(y0 + 16))\" text-anchor=\"middle\">\(tick(xv))</text>\n"
            s += "<line x1=\"\(f(x0 - 4))\" y1=\"\(f(gy))\" x2=\"\(f(x0))\" y2=\"\(f(gy))\" stroke=\"#444\"/>"
            s += "<text x=\"\(f(x0 - 6))\" y=\"\(f(gy + 4))\" text-anchor=\"end\">\(tick(yv))</text>\n"
        }
        s += "<text x=\"\(f((x0 + x1) / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text x=\"14\" y=\"\(f((y0 + y1) / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(f((y0 + y1) / 2)))\">\(escape(yLabel))</text>\n"
        return s
    }

    static func legend(_ items: [(String, String)]) -> String {
        var s = ""
        for (i, (name, color)) in items.enumerated() {
            let y = top + 14 + Double(i) * 15
            s += "<rect x=\"\(f(width - right - 130))\" y=\"\(f(y - 9))\" width=\"10\" height=\"10\" fill=\"\(color)\"/>"
            s += "<text x=\"\(f(width - right - 116))\" y=\"\(f(y))\">\(escape(name))</text>\n"
        }
        return s
    }

    static func map(_ x: Double, _ y: Double, _ xr: ClosedRange<Double>, _ yr: ClosedRange<Double>) -> (Double, Double) {
        let xs = (x - xr.lowerBound) / max(xr.upperBound - xr.lowerBound, 1e-12)
        let ys = (y - yr.lowerBound) / max(yr.upperBound - yr.lowerBound, 1e-12)
        return (left + xs * (width - left - right), height - bottom - ys * (height - top - bottom))
    }

    static func thin(_ points: [(x: Double, y: Double)], limit: Int) -> [(x: Double, y: Double)] {
        guard points.count > limit else { return points }
        let step = Double(points.count - 1) / Double(limit - 1)
        return (0..<limit).map { points[Int((Double($0) * step).rounded())] }
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func tick(_ v: Double) -> String {
        let a = Swift.abs(v)
        if a != 0 && (a >= 1e4 || a < 1e-2) { return String(format: "%.1e", v) }
        return String(format: "%.2f", v)
    }

    /// Escapes text for XML/HTML.
    public static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
