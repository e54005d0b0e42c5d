/// Any experiment protocol of METHODS.md §4, with all its parameters: what a run manifest
/// records and what `makeSplit` turns into index sets.
///
/// JSON form: the parameters of the protocol beside a `kind` key, e.g.
/// `{"kind": "semiSupervised", "normalClasses": [0], "knownAnomalyClasses": [1], …}`.
public enum ExperimentProtocol: Codable, Sendable, Equatable {
    /// §4.1 one class normal, the rest anomalies.
    case oneClass(OneClassProtocol)
    /// One-vs-rest multimodal ("one-vs-nine"): one class anomalous, the rest normal.
    case oneVsRest(OneVsRestProtocol)
    /// §4.2 one-class with unlabelled pollution.
    case contaminatedOneClass(ContaminatedOneClassProtocol)
    /// §4.3 / §2.2.5 labelled normals and anomalies plus pollution.
    case semiSupervised(SemiSupervisedProtocol)
    /// §4.5 cross-data-set and §4.7 MNIST-C: all of A normal, other test sets anomalous.
    case crossDataset(CrossDatasetProtocol)
    /// §4.8 one table with 0/1 labels.
    case tabular(TabularProtocol)

    /// The protocol's name, as written under `kind`.
    public var kind: String {
        switch self {
        case .oneClass: return "oneClass"
        case .oneVsRest: return "oneVsRest"
        case .contaminatedOneClass: return "contaminatedOneClass"
        case .semiSupervised: return "semiSupervised"
        case .crossDataset: return "crossDataset"
        case .tabular: return "tabular"
        }
    }

    /// The normal classes (empty where a protocol has none: tables, cross-data-set).
    public var normalClasses: [Int] {
        switch self {
        case .oneClass(let p): return p.normalClasses
        case .contaminatedOneClass(let p): return p.normalClasses
        case .semiSupervised(let p): return p.normalClasses
        case .oneVsRest, .crossDataset, .tabular: return []
        }
    }

    /// The known (labelled) anomaly classes of a semi-supervised protocol, the anomalous classes
    /// of one-vs-rest (empty otherwise).
    public var anomalyClasses: [Int] {
        switch self {
        case .semiSupervised(let p): return p.knownAnomalyClasses ?? []
        case .oneVsRest(let p): return p.anomalyClasses
        default: return []
        }
    }

    /// Builds the split.
    /// - Parameters:
    ///   - trainLabels: class ids of the training file; for `.tabular`, the 0/1 anomaly labels of
    ///     the table.
    ///   - testLabels: class ids of the test file (of data set A for `.crossDataset`); empty for
    ///     `.tabular`.
    ///   - anomalyTestCounts: sizes of the anomalous test sets of `.crossDataset`, by source name.
    ///   - seed: seeds every random choice; the same inputs and seed give the same split.
    public func makeSplit(
        trainLabels: [Int], testLabels: [Int] = [], anomalyTestCounts: [String: Int] = [:], seed: UInt64
    ) throws -> Split {
        switch self {
        case .oneClass(let p): return try p.makeSplit(trainLabels: trainLabels, testLabels: testLabels, seed: seed)
        case .oneVsRest(let p): return try p.makeSplit(trainLabels: trainLabels, testLabels: testLabels, seed: seed)
        case .contaminatedOneClass(let p):
            return try p.makeSplit(trainLabels: trainLabels, testLabels: testLabels, seed: seed)
        case .semiSupervised(let p):
            return try p.makeSplit(trainLabels: trainLabels, testLabels: testLabels, seed: seed)
        case .crossDataset(let p):
            return try p.makeSplit(
                trainLabels: trainLabels, testLabels: testLabels, anomalyTestCounts: anomalyTestCounts, seed: seed)
        case .tabular(let p):
            guard testLabels.isEmpty else {
                throw ProtocolError.invalidLabels(
                    name: "testLabels",
                    problem: "a tabular protocol splits one table: pass its 0/1 labels as trainLabels and no testLabels"
                )
            }
            return try p.makeSplit(labels: trainLabels, seed: seed)
        }
    }

    private enum KindKey: String, CodingKey { case kind }

    public init(from decoder: any Decoder) throws {
        let kind = try decoder.container(keyedBy: KindKey.self).decode(String.self, forKey: .kind)
        switch kind {
        case "oneClass": self = .oneClass(try OneClassProtocol(from: decoder))
        case "oneVsRest": self = .oneVsRest(try OneVsRestProtocol(from: decoder))
        case "contaminatedOneClass": self = .contaminatedOneClass(try ContaminatedOneClassProtocol(from: decoder))
        case "semiSupervised": self = .semiSupervised(try SemiSupervisedProtocol(from: decoder))
        case "crossDataset": self = .crossDataset(try CrossDatasetProtocol(from: decoder))
        case "tabular": self = .tabular(try TabularProtocol(from: decoder))
        default:
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath + [KindKey.kind],
                    debugDescription: "unknown protocol kind '\(kind)'"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: KindKey.self)
        try container.encode(kind, forKey: .kind)
        switch self {
        case .oneClass(let p): try p.encode(to: encoder)
        case .oneVsRest(let p): try p.encode(to: encoder)
        case .contaminatedOneClass(let p): try p.encode(to: encoder)
        case .semiSupervised(let p): try p.encode(to: encoder)
        case .crossDataset(let p): try p.encode(to: encoder)
        case .tabular(let p): try p.encode(to: encoder)
        }
    }
}
