import Foundation
import Metrics
import Testing

@Suite("F1 at a threshold and the tabular protocols")
struct F1Tests {
    // Ranked: a(0.9) n(0.8) a(0.7) n(0.6) n(0.5) a(0.4) n(0.3) n(0.2)
    let scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    let labels = [1, 0, 1, 0, 0, 1, 0, 0]

    @Test func anomalyClassF1ByHand() throws {
        let score = try f1(scores: scores, labels: labels, threshold: 0.7)
        #expect(
            score.confusion == ConfusionMatrix(truePositives: 2, falsePositives: 1, falseNegatives: 1, trueNegatives: 4)
        )
        #expect(score.precision == 2.0 / 3)
        #expect(score.recall == 2.0 / 3)
        #expect(score.f1 == 2.0 / 3)
        #expect(score.rule == .scoreAtOrAboveThreshold)
    }

    @Test func normalClassF1ByHand() throws {
        let score = try f1(scores: scores, labels: labels, threshold: 0.7, positiveClass: .normal)
        // Normal positives: predicted normal = 5 (4 right), actual normal = 5.
        #expect(score.precision == 0.8)
        #expect(score.recall == 0.8)
        #expect(abs(score.f1 - 0.8) < 1e-15)
    }

    @Test func nothingFlaggedGivesZeroNotNaN() throws {
        let score = try f1(scores: scores, labels: labels, threshold: 1)
        #expect(score.precision == 0 && score.recall == 0 && score.f1 == 0)
        // A single-class set is allowed for F1.
        #expect(try f1(scores: [0.1, 0.9], labels: [0, 0], threshold: 0.5).precision == 0)
    }

    @Test func goadFlagsAsManyAsThereAreAnomalies() throws {
        let score = try f1(scores: scores, labels: labels, protocol: .goad)
        #expect(score.confusion.truePositives + score.confusion.falsePositives == 3)
        #expect(score.precision == score.recall && score.recall == score.f1)
        #expect(abs(score.f1 - 2.0 / 3) < 1e-12)
    }

    @Test func dagmmUsesTheGivenRatioNotTheTestComposition() throws {
        let score = try f1(scores: scores, labels: labels, protocol: .dagmm(anomalyRatio: 0.25))
        // 75th percentile of 8 scores = position 5.25 ⇒ 0.7 + 0.25·(0.8 − 0.7): flags 0.8 and 0.9.
        #expect(score.confusion.truePositives == 1 && score.confusion.falsePositives == 1)
        #expect(score.recall == 1.0 / 3)
        #expect(throws: MetricsError.self) { try f1(scores: scores, labels: labels, protocol: .dagmm(anomalyRatio: 2)) }
    }

    @Test func droccReportsTheNormalClassAndCountsTiesAsNormal() throws {
        // Normality −score; the 20th percentile of 6 normality scores [−0.9, −0.5, −0.5, −0.5, −0.1,
        // −0.05] sits at position 1, i.e. −0.5 exactly, so all three tied samples are predicted normal.
        let score = try f1(
            scores: [0.9, 0.5, 0.5, 0.5, 0.1, 0.05], labels: [1, 0, 1, 0, 0, 0], protocol: .drocc())
        #expect(score.positiveClass == .normal)
        #expect(score.threshold == 0.5 && score.rule == .scoreAboveThreshold)
        #expect(
            score.confusion == ConfusionMatrix(truePositives: 1, falsePositives: 0, falseNegatives: 1, trueNegatives: 4)
        )
        #expect(score.precision == 0.8 && score.recall == 1)
        let stricter = try f1(scores: scores, labels: labels, protocol: .drocc(normalityPercentile: 50))
        #expect(stricter.confusion.truePositives + stricter.confusion.falsePositives == 4)
    }

    @Test func confusionMatrixFromPredictions() throws {
        let confusion = try ConfusionMatrix(
            predictions: [true, true, false, false], labels: [true, false, true, false])
        #expect(confusion == ConfusionMatrix(truePositives: 1, falsePositives: 1, falseNegatives: 1, trueNegatives: 1))
        #expect(throws: MetricsError.self) { try ConfusionMatrix(predictions: [true], labels: [3]) }
    }

    @Test func reportsRoundTripThroughJSON() throws {
        let summary = try EvaluationSummary(scores: scores, labels: labels, threshold: 0.7)
        #expect(summary.f1.f1 == 2.0 / 3)
        let decoded = try JSONDecoder().decode(EvaluationSummary.self, from: JSONEncoder().encode(summary))
        #expect(decoded == summary)
        let protocols: [F1Protocol] = [.dagmm(anomalyRatio: 0.2), .goad, .drocc()]
        #expect(try JSONDecoder().decode([F1Protocol].self, from: JSONEncoder().encode(protocols)) == protocols)
    }
}
