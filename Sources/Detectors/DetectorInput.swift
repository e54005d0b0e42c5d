import Datasets

/// The one input validator of every detector, classical and deep, so all of them throw the same
/// `DetectorError`s for the same faults.
public enum DetectorInput {
    /// The training matrix of a detector: `data.unlabeled` followed by `data.labeledNormal` (when
    /// present). Labelled anomalies are not included (see `labeledAnomalies`). Parts with equal sample shapes keep it; parts that
    /// agree only in feature count are flattened.
    ///
    /// Throws `emptyTrainingData` when there is no sample, `shapeMismatch` when the two parts
    /// disagree on the sample shape, `invalidConfiguration` for samples without features, and
    /// `nonFiniteInput` with the index of the first offending sample (counted over the
    /// concatenation: unlabelled first, then labelled normals).
    public static func trainingSamples(_ data: TrainingData, detector: String) throws -> Samples {
        var parts = [data.unlabeled]
        if let normals = data.labeledNormal { parts.append(normals) }
        parts = parts.filter { $0.count > 0 }
        guard let first = parts.first else { throw DetectorError.emptyTrainingData(detector) }
        for part in parts.dropFirst() where part.featureCount != first.featureCount {
            throw DetectorError.shapeMismatch(
                detector: detector, expected: first.sampleShape, got: part.sampleShape)
        }
        guard first.featureCount > 0 else {
            throw DetectorError.invalidConfiguration(
                "\(detector): training samples of shape \(first.sampleShape) have no features")
        }
        let sameShape = parts.allSatisfy { $0.sampleShape == first.sampleShape }
        let samples = parts.count == 1 ? first : Samples.concatenating(sameShape ? parts : parts.map(flattened))
        try checkFinite(samples, detector: detector)
        return samples
    }

    /// Checks samples to be scored against the sample shape seen at fit time.
    public static func checkQuery(_ samples: Samples, fittedShape: [Int]?, detector: String) throws {
        guard let fittedShape else { throw DetectorError.notFitted(detector) }
        if samples.count == 0 { return }
        if samples.featureCount != fittedShape.reduce(1, *) {
            throw DetectorError.shapeMismatch(detector: detector, expected: fittedShape, got: samples.sampleShape)
        }
        try checkFinite(samples, detector: detector)
    }

    /// Throws `nonFiniteInput` naming the first sample that holds a NaN or an infinity.
    public static func checkFinite(_ samples: Samples, detector: String) throws {
        let width = max(samples.featureCount, 1)
        let bad = samples.values.withUnsafeBufferPointer { values -> Int? in
            for index in 0..<values.count where !values[index].isFinite { return index }
            return nil
        }
        if let bad { throw DetectorError.nonFiniteInput(detector: detector, index: bad / width) }
    }

    /// The labelled anomalies, checked like the training samples against `shape` (nil when none).
    public static func labeledAnomalies(_ data: TrainingData, shape: [Int], detector: String) throws -> Samples? {
        guard let anomalies = data.labeledAnomalies, anomalies.count > 0 else { return nil }
        guard anomalies.featureCount == shape.reduce(1, *) else {
            throw DetectorError.shapeMismatch(detector: detector, expected: shape, got: anomalies.sampleShape)
        }
        try checkFinite(anomalies, detector: detector)
        return Samples(values: anomalies.values, shape: [anomalies.count] + shape)
    }

    /// Semi-label of an unlabelled sample, a labelled normal and a labelled anomaly (Deep SAD's
    /// convention; Elsa's code writes −1 for labelled anomalies too).
    public static let unlabeled = 0, labeledNormal = 1, labeledAnomaly = -1

    /// Every training sample of a semi-supervised detector with its semi-label: the unlabelled
    /// samples (0), the labelled normals (+1), then the labelled anomalies (−1), each part checked
    /// as `trainingSamples` and `labeledAnomalies` do.
    public static func semiSupervised(_ data: TrainingData, detector: String) throws
        -> (samples: Samples, semiLabels: [Int])
    {
        let normal = try trainingSamples(data, detector: detector)
        let unlabeledCount = data.unlabeled.count
        var semiLabels = [Int](repeating: unlabeled, count: unlabeledCount)
            + [Int](repeating: labeledNormal, count: normal.count - unlabeledCount)
        guard let anomalies = try labeledAnomalies(data, shape: normal.sampleShape, detector: detector) else {
            return (normal, semiLabels)
        }
        semiLabels += [Int](repeating: labeledAnomaly, count: anomalies.count)
        return (Samples.concatenating([normal, anomalies]), semiLabels)
    }

    private static func flattened(_ samples: Samples) -> Samples {
        Samples(values: samples.values, shape: [samples.count, samples.featureCount])
    }
}
