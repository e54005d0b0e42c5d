/// Metrics: AUROC, AUPR, F1, curves, thresholds. Plain [Float] in, numbers out.
