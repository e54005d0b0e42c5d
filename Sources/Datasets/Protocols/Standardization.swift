/// How a zero (or tiny) standard deviation is kept from blowing up a z-score (METHODS.md §4.8).
public enum ScaleGuard: Codable, Sendable, Equatable {
    /// GOAD: a standard deviation of exactly 0 becomes 1.
    case zeroBecomesOne
    /// DROCC: divide by `std + epsilon` (DROCC uses 1e-4) for every column.
    case addEpsilon(Double)

    /// GOAD's rule (std 0 → 1).
    public static let goad = ScaleGuard.zeroBecomesOne
    /// DROCC's rule (std + 1e-4).
    public static let drocc = ScaleGuard.addEpsilon(1e-4)
}

/// Column-wise z-scores with the *training* mean and (population, ddof = 0) standard deviation,
/// as GOAD and DROCC standardize tabular data (METHODS.md §4.8). Columns left out of `columns`
/// pass through unchanged: GOAD standardizes only the continuous columns of KDDCUP, not the
/// one-hot ones.
public struct Standardizer: Codable, Sendable, Equatable {
    /// Per column: subtracted mean (0 for columns that pass through).
    public var mean: [Float]
    /// Per column: divisor (1 for columns that pass through).
    public var scale: [Float]

    /// Fits on the rows `rows` of `table` (all rows when `nil`; normally `split.unlabeled`),
    /// standardizing the columns `columns` (all when `nil`).
    public init(fitting table: Samples, rows: [Int]? = nil, columns: [Int]? = nil, guard scaleGuard: ScaleGuard) throws
    {
        let width = table.featureCount
        let rows = rows ?? Array(0..<table.count)
        guard !rows.isEmpty else {
            throw ProtocolError.notEnoughSamples(option: "Standardizer rows", requested: 1, available: 0)
        }
        if let bad = rows.first(where: { $0 < 0 || $0 >= table.count }) {
            throw ProtocolError.invalidOption(
                option: "Standardizer rows", value: "\(bad)",
                problem: "is not a row of a table with \(table.count) rows")
        }
        let columns = columns ?? Array(0..<width)
        if let bad = columns.first(where: { $0 < 0 || $0 >= width }) {
            throw ProtocolError.invalidOption(
                option: "Standardizer columns", value: "\(bad)",
                problem: "is not a column of a table with \(width) columns")
        }
        if case .addEpsilon(let epsilon) = scaleGuard, !(epsilon > 0) {
            throw ProtocolError.invalidOption(option: "addEpsilon", value: "\(epsilon)", problem: "must be positive")
        }
        var mean = [Float](repeating: 0, count: width)
        var scale = [Float](repeating: 1, count: width)
        let count = Double(rows.count)
        for column in Set(columns) {
            var sum = 0.0
            for row in rows { sum += Double(table.values[row * width + column]) }
            let mu = sum / count
            var squares = 0.0
            for row in rows {
                let d = Double(table.values[row * width + column]) - mu
                squares += d * d
            }
            let std = (squares / count).squareRoot()
            mean[column] = Float(mu)
            switch scaleGuard {
            case .zeroBecomesOne: scale[column] = Float(std == 0 ? 1 : std)
            case .addEpsilon(let epsilon): scale[column] = Float(std + epsilon)
            }
        }
        self.mean = mean
        self.scale = scale
    }

    /// `(x − mean) / scale`, column by column.
    public func apply(_ samples: Samples) throws -> Samples {
        let width = mean.count
        guard samples.featureCount == width else {
            throw ProtocolError.invalidOption(
                option: "Standardizer.apply", value: "shape \(samples.shape)",
                problem: "expects \(width) columns, as the table it was fitted on")
        }
        var values = samples.values
        for i in values.indices {
            let column = i % width
            values[i] = (values[i] - mean[column]) / scale[column]
        }
        return Samples(values: values, shape: samples.shape)
    }
}
