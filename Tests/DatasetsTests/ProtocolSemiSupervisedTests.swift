import Testing

import Datasets

@Suite("Semi-supervised and contaminated splits (METHODS.md §4.2, §4.3, §2.2.5)")
struct ProtocolSemiSupervisedTests {
    let train = SyntheticLabels.cifar10Train
    let test = SyntheticLabels.cifar10Test

    struct CountOracle: Sendable, CustomTestStringConvertible {
        var ratios: (labeledNormal: Double, labeledAnomaly: Double, pollution: Double)
        var expected: (Int, Int, Int, Int)
        var testDescription: String { "γ = \(ratios) ⇒ \(expected)" }
    }

    /// §8 oracles plus the §4.2 and §4.3 tables (CIFAR-10, N_norm = 5000).
    static let oracles: [CountOracle] = [
        CountOracle(ratios: (0.05, 0.05, 0), expected: (263, 4736, 0, 263)),
        CountOracle(ratios: (0.05, 0.05, 0.10), expected: (290, 4709, 523, 290)),
        CountOracle(ratios: (0, 0, 0.10), expected: (0, 5000, 555, 0)),
        CountOracle(ratios: (0, 0, 0.05), expected: (0, 5000, 263, 0)),
        CountOracle(ratios: (0.05, 0.05, 0.05), expected: (276, 4723, 248, 276)),
        CountOracle(ratios: (0.01, 0.01, 0), expected: (50, 4949, 0, 50)),
        CountOracle(ratios: (0.10, 0.10, 0), expected: (555, 4444, 0, 555)),
    ]

    @Test("Deep SAD linear-system counts", arguments: oracles)
    func deepSADCounts(_ oracle: CountOracle) throws {
        let counts = try SemiSupervisedCounts.deepSAD(
            normalCount: 5000, labeledNormalRatio: oracle.ratios.labeledNormal,
            labeledAnomalyRatio: oracle.ratios.labeledAnomaly, pollutionRatio: oracle.ratios.pollution)
        #expect(counts.labeledNormal == oracle.expected.0)
        #expect(counts.unlabeledNormal == oracle.expected.1)
        #expect(counts.pollution == oracle.expected.2)
        #expect(counts.labeledAnomalies == oracle.expected.3)
    }

    @Test("Deep SAD split on CIFAR-10 labels has the oracle counts and roles", arguments: oracles)
    func deepSADSplit(_ oracle: CountOracle) throws {
        let normal = 3
        let known = 5
        let split = try SemiSupervisedProtocol(
            normalClasses: [normal], knownAnomalyClasses: [known],
            labeledNormalRatio: oracle.ratios.labeledNormal, labeledAnomalyRatio: oracle.ratios.labeledAnomaly,
            pollutionRatio: oracle.ratios.pollution, counting: .deepSAD
        ).makeSplit(trainLabels: train, testLabels: test, seed: 7)
        #expect(split.labeledNormal.count == oracle.expected.0)
        #expect(split.unlabeled.count == oracle.expected.1 + oracle.expected.2)
        #expect(split.pollution.count == oracle.expected.2)
        #expect(split.labeledAnomalies.count == oracle.expected.3)
        #expect(split.inconsistencies().isEmpty)
        #expect(split.trainingRolesAreDisjoint)
        #expect(split.labeledNormal.allSatisfy { train[$0] == normal })
        #expect(split.labeledAnomalies.allSatisfy { train[$0] == known })
        #expect(split.pollution.allSatisfy { train[$0] != normal })
        let pollution = Set(split.pollution)
        #expect(split.unlabeled.allSatisfy { train[$0] == normal || pollution.contains($0) })
        // Test: the whole test file, every other class anomalous (not only the known one).
        #expect(split.test == Array(0..<10_000))
        #expect(split.testIsAnomaly.filter { $0 }.count == 9000)
        #expect(zip(split.test, split.testIsAnomaly).allSatisfy { (test[$0] != normal) == $1 })
    }

    @Test("Deep SAD pollution comes from all anomaly classes, labelled anomalies from the known one only")
    func deepSADPollutionSpread() throws {
        let split = try SemiSupervisedProtocol.elsa(
            normalClass: 0, knownAnomalyClass: 1, labeledRatio: 0.05, pollutionRatio: 0.10, validationFraction: 0
        ).makeSplit(trainLabels: train, testLabels: test, seed: 1)
        let pollutionClasses = Set(split.pollution.map { train[$0] })
        #expect(pollutionClasses == Set(1...9))
        #expect(Set(split.labeledAnomalies.map { train[$0] }) == [1])
    }

    @Test("Elsa holds out 5 % of the unlabelled indices, normal and polluted alike (§2.1.6)")
    func elsaValidation() throws {
        let split = try SemiSupervisedProtocol.elsa(
            normalClass: 2, knownAnomalyClass: 7, labeledRatio: 0.05, pollutionRatio: 0.10
        ).makeSplit(trainLabels: train, testLabels: test, seed: 11)
        let unlabeledTotal = 4709 + 523
        #expect(split.validation.count == Int(Double(unlabeledTotal) * 0.05))  // 261
        #expect(split.validation.count == 261)
        #expect(split.unlabeled.count == unlabeledTotal - 261)
        #expect(split.trainingRolesAreDisjoint)
        #expect(split.inconsistencies().isEmpty)
        let validation = Set(split.validation)
        let pollution = Set(split.pollution)
        #expect(split.pollution.count == 523)
        #expect(!validation.isDisjoint(with: pollution))  // polluted samples can land in validation
        #expect(validation.allSatisfy { train[$0] == 2 || pollution.contains($0) })
        #expect(validation.isDisjoint(with: split.labeledNormal) && validation.isDisjoint(with: split.labeledAnomalies))
    }

    @Test(
        "HSCL counting: 250 labelled normals, 29 labelled anomalies per class, in index order",
        arguments: [
            (0.05, 29), (0.10, 62),
        ])
    func hsclCounts(pollutionRatio: Double, pollutionPerClass: Int) throws {
        let normal = 4
        let split = try SemiSupervisedProtocol.hscl(normalClasses: [normal], pollutionRatio: pollutionRatio)
            .makeSplit(trainLabels: train, testLabels: test, seed: 0)
        let normals = train.indices.filter { train[$0] == normal }
        #expect(split.labeledNormal == Array(normals.prefix(250)))
        #expect(split.labeledAnomalies.count == 261)
        #expect(split.pollution.count == pollutionPerClass * 9)
        for c in 0..<10 where c != normal {
            let members = train.indices.filter { train[$0] == c }
            #expect(split.labeledAnomalies.filter { train[$0] == c } == Array(members.prefix(29)))
            #expect(split.pollution.filter { train[$0] == c } == Array(members[29..<(29 + pollutionPerClass)]))
        }
        #expect(split.unlabeled.count == 4750 + pollutionPerClass * 9)
        #expect(split.trainingRolesAreDisjoint)
        // Labelled anomalies cover every anomaly class (unlike Deep SAD's single known class).
        #expect(Set(split.labeledAnomalies.map { train[$0] }) == Set((0..<10).filter { $0 != normal }))
        // Deterministic: the seed plays no part.
        let again = try SemiSupervisedProtocol.hscl(normalClasses: [normal], pollutionRatio: pollutionRatio)
            .makeSplit(trainLabels: train, testLabels: test, seed: 999)
        #expect(again == split)
    }

    @Test("HSCL per-fine-class rounding on CIFAR-100 superclasses (§2.2.5)")
    func hsclCIFAR100() throws {
        let group = SuperclassMapping.cifar100CSI.groups[0]
        let split = try SemiSupervisedProtocol.hscl(normalClasses: group, pollutionRatio: 0.05)
            .makeSplit(trainLabels: SyntheticLabels.cifar100Train, testLabels: SyntheticLabels.cifar100Test, seed: 0)
        #expect(split.labeledNormal.count == 125)  // round(2500 · .05)
        #expect(split.labeledAnomalies.count == 95)  // 1 per fine anomaly class
        #expect(split.pollution.count == 95)
        #expect(split.testIsAnomaly.filter { !$0 }.count == 500)
    }

    @Test(
        "Contaminated one-class: the three pollution rules of §4.2",
        arguments: [
            (PollutionRule.deepSAD, 0.05, 263), (.deepSAD, 0.10, 555),
            (.hscl, 0.05, 261), (.hscl, 0.10, 558),
            (.nsa, 0.05, 263), (.nsa, 0.10, 556),
        ])
    func contaminated(rule: PollutionRule, ratio: Double, expected: Int) throws {
        let split = try ContaminatedOneClassProtocol(normalClass: 6, pollutionRatio: ratio, rule: rule)
            .makeSplit(trainLabels: train, testLabels: test, seed: 3)
        #expect(split.pollution.count == expected)
        #expect(split.unlabeled.count == 5000 + expected)
        #expect(split.labeledNormal.isEmpty && split.labeledAnomalies.isEmpty)
        #expect(split.pollution.allSatisfy { train[$0] != 6 })
        #expect(split.inconsistencies().isEmpty)
        if rule == .hscl {
            // Deterministic, first in index order, equal count per class.
            for c in 0..<10 where c != 6 {
                let members = train.indices.filter { train[$0] == c }
                #expect(split.pollution.filter { train[$0] == c } == Array(members.prefix(expected / 9)))
            }
        }
    }

    @Test("Same seed, same split; different seed, different random roles")
    func reproducibility() throws {
        let setting = SemiSupervisedProtocol.elsa(
            normalClass: 1, knownAnomalyClass: 8, labeledRatio: 0.05, pollutionRatio: 0.05)
        let a = try setting.makeSplit(trainLabels: train, testLabels: test, seed: 42)
        let b = try setting.makeSplit(trainLabels: train, testLabels: test, seed: 42)
        let c = try setting.makeSplit(trainLabels: train, testLabels: test, seed: 43)
        #expect(a == b)
        #expect(a.labeledNormal != c.labeledNormal)
        #expect(a.labeledAnomalies != c.labeledAnomalies)
        #expect(a.pollution != c.pollution)
        #expect(a.validation != c.validation)
        #expect(a.labeledNormal.count == c.labeledNormal.count && a.pollution.count == c.pollution.count)
    }

    @Test(
        "Ratios outside [0, 1) are refused, naming the option",
        arguments: [
            ("pollutionRatio", 1.0), ("pollutionRatio", -0.1), ("labeledNormalRatio", 1.5),
            ("labeledAnomalyRatio", Double.nan), ("validationFraction", 1.0),
        ])
    func badRatios(option: String, value: Double) throws {
        var setting = SemiSupervisedProtocol.elsa(
            normalClass: 0, knownAnomalyClass: 1, labeledRatio: 0.05, pollutionRatio: 0.05)
        switch option {
        case "pollutionRatio": setting.pollutionRatio = value
        case "labeledNormalRatio": setting.labeledNormalRatio = value
        case "labeledAnomalyRatio": setting.labeledAnomalyRatio = value
        default: setting.validationFraction = value
        }
        let error = #expect(throws: ProtocolError.self) {
            try setting.makeSplit(trainLabels: train, testLabels: test, seed: 0)
        }
        guard case .invalidRatio(let named, _, _) = error else {
            Issue.record("expected invalidRatio, got \(String(describing: error))")
            return
        }
        #expect(named == option)
        #expect(error!.description.contains(option))
    }

    @Test("Unknown, repeated or misplaced classes are refused")
    func badClasses() throws {
        #expect(throws: ProtocolError.unknownClass(option: "normalClasses", value: 12, available: Array(0..<10))) {
            try SemiSupervisedProtocol.elsa(
                normalClass: 12, knownAnomalyClass: 1, labeledRatio: 0.05, pollutionRatio: 0
            )
            .makeSplit(trainLabels: train, testLabels: test, seed: 0)
        }
        #expect(throws: ProtocolError.unknownClass(option: "knownAnomalyClasses", value: -1, available: Array(0..<10)))
        {
            try SemiSupervisedProtocol.elsa(
                normalClass: 0, knownAnomalyClass: -1, labeledRatio: 0.05, pollutionRatio: 0
            )
            .makeSplit(trainLabels: train, testLabels: test, seed: 0)
        }
        #expect(throws: ProtocolError.self) {  // known anomaly class = normal class
            try SemiSupervisedProtocol.elsa(normalClass: 0, knownAnomalyClass: 0, labeledRatio: 0.05, pollutionRatio: 0)
                .makeSplit(trainLabels: train, testLabels: test, seed: 0)
        }
        #expect(throws: ProtocolError.self) {  // HSCL labels every anomaly class
            try SemiSupervisedProtocol(
                normalClasses: [0], knownAnomalyClasses: [1], labeledNormalRatio: 0.05, labeledAnomalyRatio: 0.05,
                pollutionRatio: 0, counting: .hscl
            ).makeSplit(trainLabels: train, testLabels: test, seed: 0)
        }
        #expect(throws: ProtocolError.self) {  // labelled shares leave nothing unlabelled
            try SemiSupervisedCounts.deepSAD(
                normalCount: 10, labeledNormalRatio: 0.6, labeledAnomalyRatio: 0.5, pollutionRatio: 0)
        }
    }

    @Test("Too few anomalies for the requested counts are refused")
    func notEnoughSamples() throws {
        // 100 normals (class 0) and 10 images of class 1: γ_la = .5 asks for far more.
        let small = Array(repeating: 0, count: 100) + Array(repeating: 1, count: 10)
        let error = #expect(throws: ProtocolError.self) {
            try SemiSupervisedProtocol.elsa(normalClass: 0, knownAnomalyClass: 1, labeledRatio: 0.3, pollutionRatio: 0)
                .makeSplit(trainLabels: small, testLabels: [0, 1], seed: 0)
        }
        guard case .notEnoughSamples(let option, let requested, let available) = error else {
            Issue.record("expected notEnoughSamples, got \(String(describing: error))")
            return
        }
        #expect(option.contains("labeledAnomalyRatio"))
        #expect(requested > available && available == 10)
        #expect(throws: ProtocolError.self) {
            try ContaminatedOneClassProtocol(normalClass: 0, pollutionRatio: 0.5, rule: .hscl)
                .makeSplit(trainLabels: small, testLabels: [0, 1], seed: 0)
        }
    }
}
