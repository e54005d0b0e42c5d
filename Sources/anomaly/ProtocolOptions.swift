import ArgumentParser
import Datasets

/// Command-line options that choose an experiment protocol (METHODS.md §4).
struct ProtocolOptions: ParsableArguments {
    @Option(
        name: .customLong("protocol"),
        help: "one-class | one-vs-rest | contaminated | semi-supervised | cross-dataset | tabular (default: one-class for images, tabular for tables)")
    var protocolName: String?

    @Option(name: .customLong("normal-class"), parsing: .upToNextOption, help: "Normal class id(s) (image protocols).")
    var normalClasses: [Int] = [0]

    @Option(
        name: .customLong("anomaly-class"), parsing: .upToNextOption,
        help: "Anomaly class id(s): the anomalous class of one-vs-rest, the known anomaly class of semi-supervised.")
    var anomalyClasses: [Int] = []

    @Option(help: "Pollution ratio γp of the unlabelled training data (contaminated, semi-supervised).")
    var pollution: Double = 0

    @Option(help: "How pollution is drawn: deepSAD | hscl | nsa.")
    var pollutionRule: String = "deepSAD"

    @Option(help: "Labelled ratio γl (semi-supervised): labelled normals and labelled anomalies.")
    var labeledRatio: Double = 0.05

    @Option(help: "Label counting of semi-supervised splits: deepSAD | hscl.")
    var counting: String = "deepSAD"

    @Option(help: "Fraction of unlabelled training data held out for validation.")
    var validationFraction: Double = 0

    @Option(help: "Tabular split rule: goad | dagmm | drocc | adbench.")
    var tabularRule: String = "goad"

    @Option(
        name: .customLong("anomaly-source"), parsing: .upToNextOption,
        help: "Cross-dataset: data sets whose test split is the anomaly set.")
    var anomalySources: [String] = []

    /// The protocol for a data set of the given kind.
    func experimentProtocol(isTabular: Bool, datasetName: String) throws -> ExperimentProtocol {
        let name = protocolName ?? (isTabular ? "tabular" : "one-class")
        if isTabular != (name == "tabular") {
            throw ValidationError(
                isTabular
                    ? "'\(datasetName)' is a table: use --protocol tabular (with --tabular-rule goad|dagmm|drocc|adbench)"
                    : "'\(datasetName)' is an image data set: --protocol tabular applies to tables only")
        }
        switch name {
        case "one-class":
            return .oneClass(OneClassProtocol(normalClasses: normalClasses, validationFraction: validationFraction))
        case "one-vs-rest":
            guard !anomalyClasses.isEmpty else { throw ValidationError("--protocol one-vs-rest needs --anomaly-class") }
            return .oneVsRest(OneVsRestProtocol(anomalyClasses: anomalyClasses, validationFraction: validationFraction))
        case "contaminated":
            return .contaminatedOneClass(
                ContaminatedOneClassProtocol(
                    normalClasses: normalClasses, pollutionRatio: pollution, rule: try parsePollutionRule(),
                    validationFraction: validationFraction))
        case "semi-supervised":
            guard let counting = LabelCounting(rawValue: counting) else {
                throw ValidationError("unknown --counting '\(counting)'; use one of: \(LabelCounting.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return .semiSupervised(
                SemiSupervisedProtocol(
                    normalClasses: normalClasses, knownAnomalyClasses: counting == .hscl ? nil : (anomalyClasses.isEmpty ? nil : anomalyClasses),
                    labeledNormalRatio: labeledRatio, labeledAnomalyRatio: labeledRatio, pollutionRatio: pollution,
                    counting: counting, validationFraction: validationFraction))
        case "cross-dataset":
            guard !anomalySources.isEmpty else { throw ValidationError("--protocol cross-dataset needs --anomaly-source NAME") }
            return .crossDataset(CrossDatasetProtocol(anomalyTestSources: anomalySources, validationFraction: validationFraction))
        case "tabular":
            let rule: TabularRule
            switch tabularRule {
            case "goad": rule = .goad(shuffleNormals: datasetName == "kddcup99")
            case "dagmm": rule = .dagmm()
            case "drocc": rule = .drocc
            case "adbench": rule = .adbench()
            default: throw ValidationError("unknown --tabular-rule '\(tabularRule)'; use goad, dagmm, drocc or adbench")
            }
            return .tabular(TabularProtocol(rule: rule))
        default:
            throw ValidationError(
                "unknown --protocol '\(name)'; use one-class, one-vs-rest, contaminated, semi-supervised, cross-dataset or tabular")
        }
    }

    func parsePollutionRule() throws -> PollutionRule {
        guard let rule = PollutionRule(rawValue: pollutionRule) else {
            throw ValidationError("unknown --pollution-rule '\(pollutionRule)'; use one of: \(PollutionRule.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return rule
    }
}

/// Method options and the training-subsample limit (train and bench).
struct MethodOptions: ParsableArguments {
    @Option(name: .customLong("option"), help: "Method option key=value (repeatable; bench applies each to the methods that have it).")
    var options: [String] = []

    @Option(help: "Train on a seeded random subset of at most this many unlabelled samples (recorded in the manifest).")
    var trainingSubsample: Int?

    /// The `key=value` options as a dictionary.
    func parsed() throws -> [String: String] {
        var result: [String: String] = [:]
        for pair in options {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw ValidationError("--option expects key=value, got '\(pair)'")
            }
            result[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        return result
    }
}
