// Percentiles and the thresholds derived from them.

/// The `q`-th percentile (0…100) of `values`, by NumPy's default rule (`np.percentile`,
/// method "linear", Hyndman & Fan type 7).
///
/// With the values sorted ascending as `v[0…n−1]`, the position `h = (n − 1)·q/100` is split into
/// `i = ⌊h⌋` and `γ = h − i`, and the result is `v[i] + γ·(v[i+1] − v[i])` (computed as NumPy
/// does, from the upper end when `γ ≥ ½`, so results agree to the last bit for finite values).
/// Where NumPy would produce NaN from infinite neighbours (`γ = 0`, or two equal infinities) this
/// returns the neighbour instead.
/// - Throws: `MetricsError` when `values` is empty or holds NaN, or `q` is outside 0…100.
public func percentile<Value: BinaryFloatingPoint>(_ values: [Value], _ q: Double) throws -> Double {
    let metric = "percentile"
    guard (0...100).contains(q) else {
        throw MetricsError.invalidArgument(metric: metric, message: "q must be in 0...100, got \(q)")
    }
    return linearPercentile(sorted: try validatedScores(metric: metric, values).sorted(), q)
}

/// The anomaly-score threshold that flags a `contamination` fraction of the training scores:
/// their `100·(1 − contamination)`-th percentile, as PyOD's `threshold_`.
///
/// Predict anomaly when `score >= threshold` (PyOD's `predict` uses `>`; the two differ only
/// for scores exactly at the threshold).
/// - Throws: `MetricsError` for empty or NaN scores, or `contamination` outside 0…1.
public func threshold<Score: BinaryFloatingPoint>(contamination: Double, scores: [Score]) throws -> Double {
    try upperTailThreshold(
        metric: "threshold(contamination:)", fractionName: "contamination", fraction: contamination, scores)
}

/// The anomaly-score threshold for a target false-positive rate, from held-out normal data:
/// the `100·(1 − falsePositiveRate)`-th percentile of `normalScores` (same estimator as
/// `threshold(contamination:scores:)`).
///
/// On `normalScores` themselves, the fraction with `score >= threshold` differs from
/// `falsePositiveRate` by about `1/n` (interpolation), more when many scores tie at the
/// threshold; on new normal data it is an estimate.
/// - Throws: `MetricsError` for empty or NaN scores, or `falsePositiveRate` outside 0…1.
public func threshold<Score: BinaryFloatingPoint>(
    normalScores: [Score], falsePositiveRate: Double
) throws -> Double {
    try upperTailThreshold(
        metric: "threshold(normalScores:falsePositiveRate:)", fractionName: "falsePositiveRate",
        fraction: falsePositiveRate, normalScores)
}

/// Predictions at a threshold: `true` (anomaly) where `score >= threshold`.
/// - Throws: `MetricsError.notANumber` for a NaN score.
public func anomalyPredictions<Score: BinaryFloatingPoint>(scores: [Score], threshold: Double) throws -> [Bool] {
    try scores.enumerated().map { index, score in
        guard !score.isNaN else {
            throw MetricsError.notANumber(metric: "anomalyPredictions", index: index)
        }
        return Double(score) >= threshold
    }
}

/// The `100·(1 − fraction)`-th percentile of `scores`: the cut above which `fraction` of them lie.
func upperTailThreshold<Score: BinaryFloatingPoint>(
    metric: String, fractionName: String, fraction: Double, _ scores: [Score]
) throws -> Double {
    guard (0...1).contains(fraction) else {
        throw MetricsError.invalidArgument(metric: metric, message: "\(fractionName) must be in 0...1, got \(fraction)")
    }
    return linearPercentile(sorted: try validatedScores(metric: metric, scores).sorted(), 100 * (1 - fraction))
}

/// NumPy's linear percentile of ascending, non-empty, NaN-free `sorted`; `q` in 0…100.
func linearPercentile(sorted: [Double], _ q: Double) -> Double {
    precondition(!sorted.isEmpty && (0...100).contains(q), "linearPercentile: empty input or q out of range")
    let quantile = q / 100
    let virtualIndex = Double(sorted.count - 1) * quantile
    if virtualIndex >= Double(sorted.count - 1) { return sorted[sorted.count - 1] }
    let lowerIndex = virtualIndex.rounded(.down)
    let gamma = virtualIndex - lowerIndex
    let lower = sorted[Int(lowerIndex)]
    let upper = sorted[Int(lowerIndex) + 1]
    if gamma == 0 || lower == upper { return lower }
    let difference = upper - lower
    return gamma >= 0.5 ? upper - difference * (1 - gamma) : lower + difference * gamma
}
