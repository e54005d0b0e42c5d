import Metrics
import Testing

@Suite("Percentiles and thresholds")
struct ThresholdTests {
    @Test func percentileInterpolatesLinearlyLikeNumPy() throws {
        let values = [4.0, 1, 3, 2]
        #expect(try percentile(values, 0) == 1)
        #expect(try percentile(values, 50) == 2.5)
        #expect(try percentile(values, 100) == 4)
        #expect(try percentile(values, 20) == 1.6)  // position 0.6 between 1 and 2
        #expect(try percentile([Float(7)], 33) == 7)
    }

    @Test func percentileToleratesInfiniteNeighbours() throws {
        // NumPy returns NaN for q=0 here (−inf + (inf − (−inf))·0); the neighbour is the sensible answer.
        #expect(try percentile([-Double.infinity, .infinity], 0) == -.infinity)
        #expect(try percentile([1, Double.infinity], 100) == .infinity)
        #expect(try percentile([1, Double.infinity, .infinity], 75) == .infinity)
    }

    @Test func percentileRejectsBadInput() {
        #expect(throws: MetricsError.self) { try percentile([1.0, 2], 101) }
        #expect(throws: MetricsError.self) { try percentile([1.0, 2], -1) }
        #expect(throws: MetricsError.self) { try percentile([Double](), 50) }
        #expect(throws: MetricsError.notANumber(metric: "percentile", index: 0)) { try percentile([Double.nan], 50) }
    }

    @Test func contaminationThresholdFlagsThatShareOfTrainingScores() throws {
        let training = (0..<100).map(Double.init)
        let cut = try threshold(contamination: 0.1, scores: training)
        #expect(abs(cut - 89.1) < 1e-12)  // 90th percentile: 0.9·99
        #expect(try anomalyPredictions(scores: training, threshold: cut).filter { $0 }.count == 10)
        #expect(throws: MetricsError.self) { try threshold(contamination: 1.5, scores: training) }
    }

    @Test func falsePositiveRateThresholdHoldsOnTheNormalData() throws {
        var generator = SplitMix64(seed: 3)
        let normals = (0..<1000).map { _ in Double(generator.next() % 1_000_000) / 1000 }
        for rate in [0.01, 0.05, 0.1, 0.25] {
            let cut = try threshold(normalScores: normals, falsePositiveRate: rate)
            let flagged = Double(normals.filter { $0 >= cut }.count) / Double(normals.count)
            #expect(abs(flagged - rate) <= 2.0 / Double(normals.count), "rate \(rate): flagged \(flagged)")
        }
        #expect(throws: MetricsError.self) { try threshold(normalScores: normals, falsePositiveRate: -0.1) }
    }

    @Test func predictionsUseAtOrAbove() throws {
        #expect(try anomalyPredictions(scores: [0.1, 0.5, 0.9], threshold: 0.5) == [false, true, true])
        #expect(throws: MetricsError.self) { try anomalyPredictions(scores: [Float.nan], threshold: 0) }
    }
}
