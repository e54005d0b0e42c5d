import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A numeric table with one integer label per row.
public struct LabeledTable: Sendable, Equatable {
    /// Rows as samples of shape `[N, d]`, with the label column's values as labels.
    public var samples: LabeledSamples
    /// Names of the `d` feature columns, in order (the header without the label column).
    public var featureNames: [String]
    /// Name of the column the labels came from; empty when the table had no label column
    /// (`LabelColumn.ifPresent` found none: every row is labelled 0).
    public var labelColumnName: String

    /// Whether the labels came from a column of the file.
    public var hasLabelColumn: Bool { !labelColumnName.isEmpty }

    public init(samples: LabeledSamples, featureNames: [String], labelColumnName: String) {
        precondition(
            samples.samples.shape.count == 2 && samples.samples.shape[1] == featureNames.count,
            "LabeledTable: shape \(samples.samples.shape) does not match \(featureNames.count) feature names")
        self.samples = samples
        self.featureNames = featureNames
        self.labelColumnName = labelColumnName
    }

    /// Number of rows.
    public var count: Int { samples.count }
}

/// Reader for comma-separated tables (gzip-compressed or raw) with one header row and numeric
/// fields, one of which holds an integer label.
public enum CSVReader {
    /// Which column holds the labels.
    public enum LabelColumn: Sendable, Hashable {
        /// The column named `label` when there is one, otherwise the last column.
        case automatic
        /// The column with this header name.
        case named(String)
        /// The column at this 0-based position.
        case position(Int)
        /// The last column.
        case last
        /// The column with this header name when there is one; otherwise every column is a
        /// feature and every row is labelled 0 (normal), with `labelColumnName` empty.
        case ifPresent(String)
    }

    /// Reads the table at `url`. Every field must be a number; label values must be integers.
    /// Blank lines are skipped; `\r\n` line ends are accepted.
    public static func readLabeledTable(
        at url: URL, labelColumn: LabelColumn = .automatic, classNames: [String] = []
    ) throws -> LabeledTable {
        var bytes = try FileBytes.readDecompressingGzip(url)
        bytes.append(0)  // terminator for strtod
        return try parse(bytes, path: url.path, labelColumn: labelColumn, classNames: classNames)
    }

    /// Parses CSV text held in memory (an HTTP body, say; gzip-compressed or raw); `path`
    /// names it in errors.
    public static func parseLabeledTable(
        _ bytes: [UInt8], path: String, labelColumn: LabelColumn = .automatic, classNames: [String] = []
    ) throws -> LabeledTable {
        var text = try FileBytes.decompressingGzip(bytes, path: path)
        text.append(0)  // terminator for strtod
        return try parse(text, path: path, labelColumn: labelColumn, classNames: classNames)
    }

    /// Parses CSV text whose last byte is a 0 terminator.
    static func parse(_ bytes: [UInt8], path: String, labelColumn: LabelColumn, classNames: [String]) throws
        -> LabeledTable
    {
        let end = bytes.count - 1  // the terminator
        let comma = UInt8(ascii: ",")
        let newline = UInt8(ascii: "\n")
        let carriageReturn = UInt8(ascii: "\r")
        return try bytes.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress!
            // Header (skipping a UTF-8 byte-order mark).
            var position = (end >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF) ? 3 : 0
            var headerEnd = position
            while headerEnd < end && base[headerEnd] != newline { headerEnd += 1 }
            guard let headerText = String(validating: buffer[position..<headerEnd], as: UTF8.self) else {
                throw DatasetError.corrupt(path: path, problem: "the header line is not UTF-8 text")
            }
            let columnNames = headerText.trimmingCharacters(in: .newlines).split(
                separator: ",", omittingEmptySubsequences: false
            ).map { name -> String in
                var trimmed = name.trimmingCharacters(in: .whitespaces)
                if trimmed.count >= 2 && trimmed.hasPrefix("\"") && trimmed.hasSuffix("\"") {
                    trimmed = String(trimmed.dropFirst().dropLast())
                }
                return trimmed
            }
            // Only a missing optional label column leaves every column a feature.
            var minimumColumns = 2
            if case .ifPresent(let name) = labelColumn, !columnNames.contains(name) { minimumColumns = 1 }
            guard headerEnd > position, columnNames.count >= minimumColumns else {
                throw DatasetError.corrupt(
                    path: path,
                    problem:
                        "the header line must name at least \(minimumColumns == 1 ? "one column" : "two columns (features and a label)"), found \(headerEnd > position ? columnNames.count : 0)"
                )
            }
            let columnCount = columnNames.count
            let labelIndex: Int?
            switch labelColumn {
            case .ifPresent(let name): labelIndex = columnNames.firstIndex(of: name)
            case .automatic: labelIndex = columnNames.firstIndex(of: "label") ?? columnCount - 1
            case .last: labelIndex = columnCount - 1
            case .named(let name):
                guard let index = columnNames.firstIndex(of: name) else {
                    throw DatasetError.corrupt(
                        path: path,
                        problem:
                            "no label column named '\(name)'; the header has \(columnNames.joined(separator: ", "))")
                }
                labelIndex = index
            case .position(let index):
                guard index >= 0 && index < columnCount else {
                    throw DatasetError.corrupt(
                        path: path,
                        problem: "label column \(index) does not exist; the header has \(columnCount) columns")
                }
                labelIndex = index
            }
            var featureNames = columnNames
            if let labelIndex { featureNames.remove(at: labelIndex) }
            let featureCount = featureNames.count

            // Rows: estimate the count from the newlines to reserve once — but never more values
            // than the text can hold (each takes at least two bytes, "0,"): a wide header over
            // many short lines must not reserve rows × columns.
            var newlineCount = 0
            for index in headerEnd..<end where base[index] == newline { newlineCount += 1 }
            let (estimate, overflow) = (newlineCount + 1).multipliedReportingOverflow(by: featureCount)
            var values = [Float]()
            values.reserveCapacity(min(overflow ? Int.max : estimate, (end - headerEnd) / 2 + 1))
            var labels = [Int]()
            labels.reserveCapacity(newlineCount + 1)
            var rowValues = [Double](repeating: 0, count: columnCount)

            var lineNumber = 1
            position = headerEnd + 1
            while position < end {
                lineNumber += 1
                var lineEnd = position
                while lineEnd < end && base[lineEnd] != newline { lineEnd += 1 }
                var contentEnd = lineEnd
                if contentEnd > position && base[contentEnd - 1] == carriageReturn { contentEnd -= 1 }
                defer { position = lineEnd + 1 }
                if contentEnd == position { continue }  // blank line

                var fieldStart = position
                var column = 0
                while true {
                    var fieldEnd = fieldStart
                    while fieldEnd < contentEnd && base[fieldEnd] != comma { fieldEnd += 1 }
                    if column >= columnCount {
                        var fields = column + 1
                        for index in fieldEnd..<contentEnd where base[index] == comma { fields += 1 }
                        throw DatasetError.invalidField(
                            path: path, line: lineNumber, column: column + 1,
                            problem: "ragged row: \(fields) fields, but the header has \(columnCount) columns")
                    }
                    var trimmedEnd = fieldEnd
                    while trimmedEnd > fieldStart && (base[trimmedEnd - 1] == 0x20 || base[trimmedEnd - 1] == 0x09) {
                        trimmedEnd -= 1
                    }
                    var trimmedStart = fieldStart
                    while trimmedStart < trimmedEnd && (base[trimmedStart] == 0x20 || base[trimmedStart] == 0x09) {
                        trimmedStart += 1
                    }
                    if trimmedStart == trimmedEnd {
                        throw DatasetError.invalidField(
                            path: path, line: lineNumber, column: column + 1,
                            problem: "missing value in column '\(columnNames[column])'")
                    }
                    var parsedEnd: UnsafeMutablePointer<CChar>?
                    let start = UnsafeRawPointer(base + trimmedStart).assumingMemoryBound(to: CChar.self)
                    let value = strtod(start, &parsedEnd)
                    if parsedEnd.map({ UnsafeRawPointer($0) }) != UnsafeRawPointer(base + trimmedEnd) {
                        let text = String(decoding: buffer[trimmedStart..<trimmedEnd].prefix(40), as: UTF8.self)
                        throw DatasetError.invalidField(
                            path: path, line: lineNumber, column: column + 1,
                            problem: "'\(text)' in column '\(columnNames[column])' is not a number")
                    }
                    if !value.isFinite || !Float(value).isFinite {
                        let text = String(decoding: buffer[trimmedStart..<trimmedEnd].prefix(40), as: UTF8.self)
                        throw DatasetError.invalidField(
                            path: path, line: lineNumber, column: column + 1,
                            problem: "'\(text)' in column '\(columnNames[column])' is not a finite number (NaN, infinity or beyond Float32's range)")
                    }
                    rowValues[column] = value
                    column += 1
                    if fieldEnd >= contentEnd { break }
                    fieldStart = fieldEnd + 1
                }
                if column != columnCount {
                    throw DatasetError.invalidField(
                        path: path, line: lineNumber, column: column,
                        problem: "ragged row: \(column) fields, but the header has \(columnCount) columns")
                }
                for index in 0..<columnCount where index != labelIndex { values.append(Float(rowValues[index])) }
                guard let labelIndex else {
                    labels.append(0)
                    continue
                }
                let label = rowValues[labelIndex]
                guard label.isFinite, label == label.rounded(), abs(label) < 1e15 else {
                    throw DatasetError.invalidField(
                        path: path, line: lineNumber, column: labelIndex + 1,
                        problem: "label \(label) in column '\(columnNames[labelIndex])' is not an integer")
                }
                if !classNames.isEmpty && (label < 0 || Int(label) >= classNames.count) {
                    throw DatasetError.invalidField(
                        path: path, line: lineNumber, column: labelIndex + 1,
                        problem: "label \(Int(label)) is outside 0..<\(classNames.count)")
                }
                labels.append(Int(label))
            }
            let samples = Samples(values: values, shape: [labels.count, featureCount])
            return LabeledTable(
                samples: LabeledSamples(samples: samples, labels: labels, classNames: classNames),
                featureNames: featureNames, labelColumnName: labelIndex.map { columnNames[$0] } ?? "")
        }
    }
}
