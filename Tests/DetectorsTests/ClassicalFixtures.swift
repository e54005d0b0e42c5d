import Datasets
import Detectors
import Foundation
import Testing

// Reference data for the classical-detector tests: the JSON written by
// scripts/fixtures/classical_fixtures.py (scikit-learn / PyOD scores) and the thyroid table.

/// A fitted-and-scored run of any detector.
func fitAndScore<Detector: AnomalyDetector>(
    _ detector: Detector, train: Samples, test: Samples, seed: UInt64 = 0
) throws -> [Float] {
    var detector = detector
    try detector.fit(TrainingData(unlabeled: train), context: TrainingContext(seed: seed))
    return try detector.score(test, context: InferenceContext(seed: seed))
}

/// AUROC with anomalies (label 1) as the positive class; ties count one half (Mann–Whitney).
func testAUROC(_ scores: [Float], _ labels: [Int]) -> Double {
    let order = scores.indices.sorted { scores[$0] < scores[$1] }
    var rankSumPositive = 0.0
    var position = 0
    while position < order.count {
        var end = position
        while end + 1 < order.count && scores[order[end + 1]] == scores[order[position]] { end += 1 }
        let averageRank = Double(position + end) / 2 + 1
        for index in position...end where labels[order[index]] == 1 { rankSumPositive += averageRank }
        position = end + 1
    }
    let positives = Double(labels.filter { $0 == 1 }.count)
    let negatives = Double(labels.count) - positives
    return (rankSumPositive - positives * (positives + 1) / 2) / (positives * negatives)
}

/// Largest `|ours − reference| / (relative·|reference| + absolute)`; at most 1 means "close".
func worstMismatch(_ ours: [Float], _ reference: [Double], relative: Double, absolute: Double = 1e-6) -> Double {
    precondition(ours.count == reference.count, "\(ours.count) scores against \(reference.count) references")
    return zip(ours, reference).map { abs(Double($0) - $1) / (relative * abs($1) + absolute) }.max() ?? 0
}

/// The parsed reference.json.
struct ClassicalReference: @unchecked Sendable {
    let root: [String: Any]

    static let shared: ClassicalReference = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/classical/reference.json")
        guard let data = try? Data(contentsOf: url),
            let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { fatalError("cannot read \(url.path); run scripts/fixtures/classical_fixtures.py") }
        return ClassicalReference(root: root)
    }()

    /// The value at a dotted path such as `"thyroid.kde.scores"`.
    func value(_ path: String) -> Any {
        var node: Any = root
        for key in path.split(separator: ".") {
            guard let object = node as? [String: Any], let next = object[String(key)] else {
                fatalError("reference.json has no \(path)")
            }
            node = next
        }
        return node
    }

    func doubles(_ path: String) -> [Double] { (value(path) as! [Any]).map { ($0 as! NSNumber).doubleValue } }
    func double(_ path: String) -> Double { (value(path) as! NSNumber).doubleValue }
    func ints(_ path: String) -> [Int] { (value(path) as! [Any]).map { ($0 as! NSNumber).intValue } }

    /// The 2-D blob: training samples, samples to score and their labels.
    var blob: (train: Samples, test: Samples, labels: [Int]) {
        let train = doubles("blob.train").map(Float.init)
        let test = doubles("blob.test").map(Float.init)
        return (
            Samples(values: train, shape: [train.count / 2, 2]), Samples(values: test, shape: [test.count / 2, 2]),
            ints("blob.labels")
        )
    }
}

/// The thyroid table (Float) with GOAD's split, z-scored by the Datasets protocol's
/// `Standardizer` with GOAD's rule (training mean and standard deviation, 0 → 1) — the fixture
/// script repeats the same Float arithmetic.
struct ThyroidSplit: Sendable {
    let train: Samples
    let test: Samples
    let labels: [Int]

    static let shared: ThyroidSplit = {
        do { return try load() } catch { fatalError("thyroid split: \(error)") }
    }()

    private static func load() throws -> ThyroidSplit {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let candidates = [
            root.appendingPathComponent("Data/mini/tabular/thyroid.csv.gz").path,
            "/work/shared/data/mini/tabular/thyroid.csv.gz",
        ]
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            fatalError("thyroid.csv.gz not found at \(candidates)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-dc", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()

        var values = [Float]()
        var labels = [Int]()
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",")
            values += fields.dropLast().map { Float($0)! }
            labels.append(Int(fields.last!)!)
        }
        let table = Samples(values: values, shape: [labels.count, values.count / labels.count])
        let reference = ClassicalReference.shared
        let trainIndices = reference.ints("thyroid.train_indices")
        let testIndices = reference.ints("thyroid.test_indices")
        let standardizer = try Standardizer(fitting: table, rows: trainIndices, guard: .goad)
        return ThyroidSplit(
            train: try standardizer.apply(table.selecting(trainIndices)),
            test: try standardizer.apply(table.selecting(testIndices)), labels: testIndices.map { labels[$0] })
    }
}

/// Records what a detector reports.
final class RecordingProgress: ProgressReporter, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var phases: [(String, Int)] = []
    private(set) var lastCompleted = 0
    private(set) var updates = 0

    func begin(_ phase: String, total: Int) {
        lock.lock()
        phases.append((phase, total))
        lock.unlock()
    }

    func update(completed: Int, metrics: [String: Double]) {
        lock.lock()
        lastCompleted = max(lastCompleted, completed)
        updates += 1
        lock.unlock()
    }

    func end() {}
}
