import Metrics
import Testing

/// Every fixture case against the values scikit-learn and NumPy computed for it.
@Suite("scikit-learn parity on the committed fixtures")
struct SklearnParityTests {
    @Test func fixturesAreLoadedAndCoverTiesAndALargeSet() throws {
        let fixtures = try MetricsFixtures.load()
        #expect(fixtures.cases.count >= 10)
        #expect(fixtures.cases.contains { $0.name == "methods_oracle" && $0.auroc == 0.875 })
        let large = try #require(fixtures.cases.first { $0.scores.count == 1000 })
        #expect(Set(large.scores).count < 200, "the 1000-element case must be full of ties")
    }

    @Test(arguments: try MetricsFixtures.cases())
    func aurocAveragePrecisionAndTrapezoidalAUPR(_ fixture: MetricsFixtures.Case) throws {
        expectClose(try auroc(scores: fixture.scores, labels: fixture.labels), fixture.auroc, "auroc")
        expectClose(
            try averagePrecision(scores: fixture.scores, labels: fixture.labels), fixture.averagePrecision,
            "averagePrecision")
        expectClose(
            try auprTrapezoidal(scores: fixture.scores, labels: fixture.labels), fixture.auprTrapezoidal,
            "auprTrapezoidal")
    }

    @Test(arguments: try MetricsFixtures.cases())
    func floatScoresAndBoolLabelsGiveTheSameNumbers(_ fixture: MetricsFixtures.Case) throws {
        let floatScores = fixture.scores.map { Float($0) }
        let boolLabels = fixture.labels.map { $0 == 1 }
        // Rounding these scores to Float must keep their ties; then the ranking, and every number, is unchanged.
        #expect(Set(floatScores).count == Set(fixture.scores).count)
        expectClose(try auroc(scores: floatScores, labels: boolLabels), fixture.auroc, "auroc(Float, Bool)")
        expectClose(
            try averagePrecision(scores: floatScores, labels: boolLabels), fixture.averagePrecision,
            "averagePrecision(Float, Bool)")
    }

    @Test(arguments: try MetricsFixtures.cases())
    func rocCurves(_ fixture: MetricsFixtures.Case) throws {
        for (dropIntermediate, expected) in [(true, fixture.rocCurve), (false, fixture.rocCurveAllThresholds)] {
            let curve = try rocCurve(scores: fixture.scores, labels: fixture.labels, dropIntermediate: dropIntermediate)
            let what = "rocCurve(dropIntermediate: \(dropIntermediate))"
            expectClose(curve.falsePositiveRates, expected.fpr, "\(what) fpr")
            expectClose(curve.truePositiveRates, expected.tpr, "\(what) tpr")
            #expect(curve.thresholds.first == .infinity)
            expectClose(Array(curve.thresholds.dropFirst()), expected.thresholdsAfterInfinity, "\(what) thresholds")
        }
    }

    @Test(arguments: try MetricsFixtures.cases())
    func precisionRecallCurves(_ fixture: MetricsFixtures.Case) throws {
        for (dropIntermediate, expected) in [(false, fixture.prCurve), (true, fixture.prCurveDropped)] {
            let curve = try precisionRecallCurve(
                scores: fixture.scores, labels: fixture.labels, dropIntermediate: dropIntermediate)
            let what = "precisionRecallCurve(dropIntermediate: \(dropIntermediate))"
            expectClose(curve.precisions, expected.precision, "\(what) precision")
            expectClose(curve.recalls, expected.recall, "\(what) recall")
            expectClose(curve.thresholds, expected.thresholds, "\(what) thresholds")
        }
    }

    @Test(arguments: try MetricsFixtures.cases())
    func f1AtFixedThresholdsForBothClasses(_ fixture: MetricsFixtures.Case) throws {
        #expect(!fixture.f1AtThresholds.isEmpty)
        for expected in fixture.f1AtThresholds {
            for (positiveClass, reference) in [(PositiveClass.anomaly, expected.anomaly), (.normal, expected.normal)] {
                let score = try f1(
                    scores: fixture.scores, labels: fixture.labels, threshold: expected.threshold,
                    positiveClass: positiveClass)
                let what = "f1 of \(positiveClass) at \(expected.threshold)"
                expectClose(score.precision, reference.precision, "\(what): precision")
                expectClose(score.recall, reference.recall, "\(what): recall")
                expectClose(score.f1, reference.f1, "\(what): f1")
            }
        }
    }

    @Test(arguments: try MetricsFixtures.cases())
    func tabularF1Protocols(_ fixture: MetricsFixtures.Case) throws {
        func check(_ score: F1Score, _ expected: MetricsFixtures.ProtocolScore, _ what: String) {
            expectClose(score.precision, expected.precision, "\(what): precision")
            expectClose(score.recall, expected.recall, "\(what): recall")
            expectClose(score.f1, expected.f1, "\(what): f1")
        }
        for expected in fixture.f1Protocols.dagmm {
            let ratio = try #require(expected.anomalyRatio)
            let score = try f1(scores: fixture.scores, labels: fixture.labels, protocol: .dagmm(anomalyRatio: ratio))
            #expect(score.positiveClass == .anomaly)
            expectClose(score.threshold, try #require(expected.threshold), "dagmm(\(ratio)) threshold")
            check(score, expected, "dagmm(\(ratio))")
        }
        let goad = try f1(scores: fixture.scores, labels: fixture.labels, protocol: .goad)
        expectClose(goad.threshold, try #require(fixture.f1Protocols.goad.threshold), "goad threshold")
        check(goad, fixture.f1Protocols.goad, "goad")

        let drocc = try f1(scores: fixture.scores, labels: fixture.labels, protocol: .drocc())
        #expect(drocc.positiveClass == .normal)
        #expect(drocc.rule == .scoreAboveThreshold)
        expectClose(-drocc.threshold, try #require(fixture.f1Protocols.drocc.normalityThreshold), "drocc threshold")
        check(drocc, fixture.f1Protocols.drocc, "drocc")
    }

    @Test(arguments: try MetricsFixtures.cases())
    func precisionAtNAsPyOD(_ fixture: MetricsFixtures.Case) throws {
        for expected in fixture.precisionAtN {
            expectClose(
                try precisionAtN(scores: fixture.scores, labels: fixture.labels, n: expected.n), expected.value,
                "precisionAtN(n: \(expected.n.map(String.init) ?? "nil"))")
        }
    }

    @Test(arguments: try MetricsFixtures.cases())
    func percentilesAndThresholdsAsNumPy(_ fixture: MetricsFixtures.Case) throws {
        for expected in fixture.percentiles {
            // Same arithmetic as NumPy, so the agreement is exact, not just within the tolerance.
            #expect(try percentile(fixture.scores, expected.q) == expected.value, "percentile q=\(expected.q)")
        }
        for expected in fixture.contaminationThresholds {
            let c = expected.contamination
            #expect(try threshold(contamination: c, scores: fixture.scores) == expected.threshold)
            #expect(try threshold(normalScores: fixture.scores, falsePositiveRate: c) == expected.threshold)
        }
    }

    @Test(arguments: try MetricsFixtures.cases())
    func summaryMatchesTheIndividualMetrics(_ fixture: MetricsFixtures.Case) throws {
        let summary = try EvaluationSummary(scores: fixture.scores, labels: fixture.labels)
        #expect(summary.sampleCount == fixture.scores.count)
        #expect(summary.anomalyCount == fixture.labels.filter { $0 == 1 }.count)
        expectClose(summary.auroc, fixture.auroc, "summary auroc")
        expectClose(summary.averagePrecision, fixture.averagePrecision, "summary averagePrecision")
        expectClose(summary.auprTrapezoidal, fixture.auprTrapezoidal, "summary auprTrapezoidal")
        expectClose(summary.f1.f1, fixture.f1Protocols.goad.f1, "summary f1 (GOAD rule)")
        let pyodDefault = try #require(fixture.precisionAtN.first { $0.n == nil })
        expectClose(summary.precisionAtN, pyodDefault.value, "summary precisionAtN")
    }
}
