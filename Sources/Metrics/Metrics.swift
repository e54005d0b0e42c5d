// Metrics: AUROC, average precision, F1, ROC and precision-recall curves, thresholds.
//
// Plain arrays in, numbers out; no tensor dependency. Conventions shared by every function:
//
// - Scores are *anomaly* scores: higher means more anomalous. A detector whose paper states a
//   normality score (Elsa, HSCL, CSI, DROCC) negates it once, at the detector boundary; for a
//   pair of score lists of either kind use `auroc(normalScores:anomalyScores:orientation:)`.
// - Labels are `Bool` (`true` = anomaly) or `Int` (`1` = anomaly, `0` = normal). The anomaly
//   class is the positive class unless a function says otherwise (`PositiveClass.normal`).
// - Scores may be `Float` or `Double` (any `BinaryFloatingPoint`); all arithmetic and every
//   result is `Double`.
// - A sample is predicted anomalous when its score is at or above the threshold (`score >=
//   threshold`), as in the DAGMM and GOAD protocols (METHODS.md §4.8); the two exceptions,
//   DROCC's rule and PyOD's precision@n, are documented where they occur.
// - Ranking metrics and curves follow scikit-learn (`roc_auc_score`, `average_precision_score`,
//   `roc_curve`, `precision_recall_curve`); percentiles follow NumPy's default ("linear").
//   `scripts/fixtures/metrics_fixtures.py` produces the reference values the tests compare with.
// - Problems that user data can cause (lengths differ, a NaN score, a label other than 0/1, a
//   test set with a single class, an argument out of range) throw `MetricsError`.
