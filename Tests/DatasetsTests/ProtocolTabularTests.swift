import Testing

import Datasets

@Suite("Tabular splits and standardization (METHODS.md §4.8)")
struct ProtocolTabularTests {
    let labels = SyntheticLabels.thyroid  // 3772 rows, 93 anomalies, 3679 normals

    @Test("GOAD in file order: train 1839 first normals; test 1840 normals + 93 anomalies")
    func goadFileOrder() throws {
        let split = try TabularProtocol(rule: .goad(shuffleNormals: false)).makeSplit(labels: labels, seed: 0)
        let normals = labels.indices.filter { labels[$0] == 0 }
        #expect(split.unlabeled == Array(normals.prefix(1839)))
        #expect(split.test.count == 1840 + 93)
        #expect(split.testIsAnomaly.filter { $0 }.count == 93)
        #expect(split.trainingSource == SplitSource.table && split.testSourceNames == [SplitSource.table])
        #expect(Set(split.test).isDisjoint(with: split.unlabeled))
        #expect(split.inconsistencies().isEmpty)
        #expect(try TabularProtocol(rule: .goad(shuffleNormals: false)).makeSplit(labels: labels, seed: 99) == split)
    }

    @Test("GOAD with shuffled normals (KDD): same sizes, seed-dependent membership")
    func goadShuffled() throws {
        let rule = TabularProtocol(rule: .goad(shuffleNormals: true))
        let a = try rule.makeSplit(labels: labels, seed: 1)
        let b = try rule.makeSplit(labels: labels, seed: 1)
        let c = try rule.makeSplit(labels: labels, seed: 2)
        #expect(a.unlabeled.count == 1839 && a.test.count == 1933)
        #expect(a == b && a.unlabeled != c.unlabeled)
        #expect(a.unlabeled.allSatisfy { labels[$0] == 0 })
        let limited = try TabularProtocol(rule: .goad(shuffleNormals: true, anomalyLimit: 20)).makeSplit(
            labels: labels, seed: 1)
        #expect(limited.testIsAnomaly.filter { $0 }.count == 20)
    }

    @Test("DROCC: test = 93 anomalies + 93 random normals; train = the other 3586 normals")
    func drocc() throws {
        let split = try TabularProtocol(rule: .drocc).makeSplit(labels: labels, seed: 4)
        #expect(split.test.count == 186)
        #expect(split.testIsAnomaly.filter { $0 }.count == 93)
        #expect(split.unlabeled.count == 3586)
        #expect(split.unlabeled.allSatisfy { labels[$0] == 0 })
        #expect(Set(split.unlabeled).union(split.test).count == 3772)
        #expect(try TabularProtocol(rule: .drocc).makeSplit(labels: labels, seed: 5).test != split.test)
    }

    @Test("DAGMM: random half for training (normals only), the other half for testing")
    func dagmm() throws {
        let split = try TabularProtocol(rule: .dagmm()).makeSplit(labels: labels, seed: 8)
        #expect(split.test.count == 1886)
        #expect(split.unlabeled.allSatisfy { labels[$0] == 0 })
        #expect(Set(split.unlabeled).isDisjoint(with: split.test))
        let trainHalfAnomalies = 93 - split.testIsAnomaly.filter { $0 }.count
        #expect(split.unlabeled.count + trainHalfAnomalies == 1886)
        #expect(zip(split.test, split.testIsAnomaly).allSatisfy { (labels[$0] == 1) == $1 })
    }

    @Test("ADBench: stratified 70/30 split, training keeps its anomalies (unsupervised setting)")
    func adbench() throws {
        let split = try TabularProtocol(rule: .adbench()).makeSplit(labels: labels, seed: 3)
        #expect(split.test.count == 1132)  // ⌈0.3 · 3772⌉, as scikit-learn
        #expect(split.unlabeled.count == 2640)
        #expect(split.pollution.count == 65)  // 93 · 2640 / 3772 = 65.09
        #expect(split.pollution.allSatisfy { labels[$0] == 1 })
        #expect(split.testIsAnomaly.filter { $0 }.count == 28)
        #expect(Set(split.unlabeled).union(split.test).count == 3772)
        #expect(split.inconsistencies().isEmpty)
    }

    @Test("Tabular input errors")
    func errors() {
        #expect(throws: ProtocolError.self) { try TabularProtocol(rule: .drocc).makeSplit(labels: [0, 1, 2], seed: 0) }
        #expect(throws: ProtocolError.self) { try TabularProtocol(rule: .drocc).makeSplit(labels: [0, 0], seed: 0) }
        #expect(throws: ProtocolError.invalidRatio(option: "trainFraction", value: 1, allowed: "(0, 1)")) {
            try TabularProtocol(rule: .dagmm(trainFraction: 1)).makeSplit(labels: labels, seed: 0)
        }
        #expect(throws: ProtocolError.self) {  // more anomalies than normals
            try TabularProtocol(rule: .drocc).makeSplit(labels: [0, 1, 1], seed: 0)
        }
        #expect(throws: ProtocolError.self) {  // test labels make no sense for a table
            try ExperimentProtocol.tabular(TabularProtocol(rule: .drocc))
                .makeSplit(trainLabels: labels, testLabels: [0, 1], seed: 0)
        }
    }

    @Test("Standardizer: training mean/std; GOAD std 0 → 1; DROCC std + 1e-4; listed columns only")
    func standardize() throws {
        // Rows 0–3 are the training rows. Column 0: 1,2,3,4 (mean 2.5, std √1.25); column 1 constant 7.
        let table = Samples(rows: [[1, 7, 10], [2, 7, 20], [3, 7, 30], [4, 7, 40], [100, 0, 0]])
        let goad = try Standardizer(fitting: table, rows: [0, 1, 2, 3], guard: .goad)
        #expect(abs(goad.mean[0] - 2.5) < 1e-6 && abs(goad.scale[0] - Float(1.25.squareRoot())) < 1e-6)
        #expect(goad.mean[1] == 7 && goad.scale[1] == 1)
        let scaled = try goad.apply(table)
        #expect(abs(scaled.values[0] - Float(-1.5 / 1.25.squareRoot())) < 1e-5)
        #expect(scaled.values[1] == 0)
        let drocc = try Standardizer(fitting: table, rows: [0, 1, 2, 3], guard: .drocc)
        #expect(abs(drocc.scale[1] - 1e-4) < 1e-9)
        #expect(abs(drocc.scale[0] - Float(1.25.squareRoot() + 1e-4)) < 1e-6)
        let partial = try Standardizer(fitting: table, rows: [0, 1, 2, 3], columns: [2], guard: .goad)
        #expect(partial.mean == [0, 0, 25] && partial.scale[0] == 1 && partial.scale[1] == 1)
        #expect(try partial.apply(table).values[0] == 1)
        #expect(throws: ProtocolError.self) { try goad.apply(Samples(rows: [[1, 2]])) }
        #expect(throws: ProtocolError.self) { try Standardizer(fitting: table, columns: [3], guard: .goad) }
        #expect(throws: ProtocolError.self) { try Standardizer(fitting: table, rows: [], guard: .goad) }
    }
}
