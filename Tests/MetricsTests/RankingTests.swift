import Metrics
import Testing

@Suite("AUROC, average precision and curves")
struct RankingTests {
    @Test func methodsOracleWithNormalityScores() throws {
        // METHODS.md §8: normal [3, 2], anomaly [1, 2] as normality scores ⇒ (1 + 1 + 1 + ½)/4.
        #expect(try auroc(normalScores: [3.0, 2], anomalyScores: [1, 2], orientation: .higherIsNormal) == 0.875)
        // The same data in this module's convention: anomaly score = −normality.
        #expect(try auroc(scores: [-3.0, -2, -1, -2], labels: [0, 0, 1, 1]) == 0.875)
        #expect(
            try auroc(normalScores: [-3.0, -2], anomalyScores: [-1, -2], orientation: .higherIsAnomalous) == 0.875)
        // Reading normality scores as anomaly scores gives the complement.
        #expect(try auroc(normalScores: [3.0, 2], anomalyScores: [1, 2], orientation: .higherIsAnomalous) == 0.125)
    }

    @Test func aurocCountsTiedPairsAsHalf() throws {
        #expect(try auroc(scores: [1.0, 1, 1, 1], labels: [0, 1, 0, 1]) == 0.5)
        // One anomaly tied with one of two normals, above the other: (1 + ½)/2.
        #expect(try auroc(scores: [0.5, 0.5, 0.1], labels: [1, 0, 0]) == 0.75)
    }

    @Test func aurocIsInvariantToOrderAndComplementaryUnderNegation() throws {
        var generator = SplitMix64(seed: 7)
        let labels = (0..<300).map { _ in generator.next() % 4 == 0 ? 1 : 0 }
        let scores = labels.map { Double(generator.next() % 20) / 4 + Double($0) }  // many ties
        let value = try auroc(scores: scores, labels: labels)
        let permutation = Array(scores.indices).shuffled(using: &generator)
        let shuffled = try auroc(scores: permutation.map { scores[$0] }, labels: permutation.map { labels[$0] })
        #expect(abs(value - shuffled) < 1e-12)
        #expect(abs(try auroc(scores: scores.map { -$0 }, labels: labels) - (1 - value)) < 1e-12)
        #expect(value > 0.5 && value < 1)
    }

    @Test func infiniteScoresRankLikeAnyOther() throws {
        #expect(try auroc(scores: [-Double.infinity, 0, .infinity], labels: [0, 1, 1]) == 1)
        #expect(try auroc(scores: [Float.infinity, .infinity, 0], labels: [1, 0, 0]) == 0.75)
        let curve = try rocCurve(scores: [-Double.infinity, 0, .infinity], labels: [0, 1, 1])
        #expect(curve.truePositiveRates.last == 1 && curve.falsePositiveRates.last == 1)
    }

    @Test func averagePrecisionByHand() throws {
        // Ranked: a(0.9) n(0.8) a(0.7) n(0.1): AP = ½·1 + ½·⅔.
        let value = try averagePrecision(scores: [0.9, 0.8, 0.7, 0.1], labels: [1, 0, 1, 0])
        #expect(abs(value - (0.5 + 1.0 / 3)) < 1e-15)
        // Only anomalies: defined (scikit-learn returns 1), unlike AUROC.
        #expect(try averagePrecision(scores: [0.2, 0.4], labels: [1, 1]) == 1)
    }

    @Test func rocCurveStartsAtTheOriginWithAnInfiniteThreshold() throws {
        let curve = try rocCurve(
            scores: [0.1, 0.4, 0.35, 0.8], labels: [0, 0, 1, 1], dropIntermediate: false)
        #expect(curve.thresholds == [.infinity, 0.8, 0.4, 0.35, 0.1])
        #expect(curve.falsePositiveRates == [0, 0, 0.5, 0.5, 1])
        #expect(curve.truePositiveRates == [0, 0.5, 0.5, 1, 1])
    }

    @Test func precisionRecallCurveLayoutMatchesScikitLearn() throws {
        let curve = try precisionRecallCurve(scores: [0.1, 0.4, 0.35, 0.8], labels: [0, 0, 1, 1])
        #expect(curve.thresholds == [0.1, 0.35, 0.4, 0.8])
        #expect(curve.precisions == [0.5, 2.0 / 3, 0.5, 1, 1])
        #expect(curve.recalls == [1, 1, 0.5, 0.5, 0])
    }

    @Test func precisionAtNFlagsTheTopN() throws {
        let scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
        let labels = [1, 0, 1, 0, 0, 1]
        #expect(try precisionAtN(scores: scores, labels: labels) == 2.0 / 3)  // n = 3 anomalies
        #expect(try precisionAtN(scores: scores, labels: labels, n: 1) == 1)
        #expect(try precisionAtN(scores: scores, labels: labels, n: 2) == 0.5)
        #expect(throws: MetricsError.self) { try precisionAtN(scores: scores, labels: labels, n: 0) }
        #expect(throws: MetricsError.self) { try precisionAtN(scores: scores, labels: labels, n: 7) }
    }

    @Test func oneClassTestSetsThrowWithAClearMessage() throws {
        let error = #expect(throws: MetricsError.self) { try auroc(scores: [0.1, 0.2, 0.3], labels: [0, 0, 0]) }
        #expect(
            error
                == .missingClass(
                    metric: "auroc", required: "at least one anomaly and one normal sample", anomalyCount: 0,
                    normalCount: 3))
        #expect(error?.description.contains("0 anomalies and 3 normal samples") == true)
        #expect(throws: MetricsError.self) { try auroc(scores: [0.1, 0.2], labels: [true, true]) }
        #expect(throws: MetricsError.self) { try rocCurve(scores: [0.1, 0.2], labels: [1, 1]) }
        #expect(throws: MetricsError.self) { try averagePrecision(scores: [0.1, 0.2], labels: [0, 0]) }
        #expect(throws: MetricsError.self) { try precisionRecallCurve(scores: [0.1], labels: [0]) }
        #expect(throws: MetricsError.self) { try EvaluationSummary(scores: [0.1, 0.2], labels: [1, 1]) }
    }

    @Test func malformedInputThrows() throws {
        #expect(throws: MetricsError.lengthMismatch(metric: "auroc", scoreCount: 2, labelCount: 3)) {
            try auroc(scores: [0.1, 0.2], labels: [0, 1, 1])
        }
        #expect(throws: MetricsError.notANumber(metric: "auroc", index: 1)) {
            try auroc(scores: [0.1, .nan, 0.3], labels: [0, 1, 1])
        }
        #expect(throws: MetricsError.invalidLabel(metric: "averagePrecision", index: 2, value: 2)) {
            try averagePrecision(scores: [0.1, 0.2, 0.3], labels: [0, 1, 2])
        }
        #expect(throws: MetricsError.empty(metric: "auroc")) { try auroc(scores: [Double](), labels: [Int]()) }
        let message = MetricsError.lengthMismatch(metric: "auroc", scoreCount: 2, labelCount: 3).description
        #expect(message == "auroc: scores and labels differ in length (2 scores, 3 labels)")
    }

    @Test func aurocOfAMillionScoresIsQuick() throws {
        var generator = SplitMix64(seed: 11)
        let labels = (0..<1_000_000).map { _ in generator.next() % 10 == 0 }
        let scores = labels.map { Float(generator.next() % 1000) + ($0 ? 100 : 0) }
        let clock = ContinuousClock()
        var value = 0.0
        let elapsed = try clock.measure { value = try auroc(scores: scores, labels: labels) }
        #expect(value > 0.55 && value < 0.65)
        // O(n log n): well under a second in release, a few seconds at most in a debug build.
        #expect(elapsed < .seconds(10))
    }
}

/// A small deterministic generator for tests (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
