import Foundation

/// Results of a method × data set × seed grid: one CSV row per run, and a Markdown table of
/// mean ± standard deviation per method and data set.
public struct BenchTable: Sendable {
    public struct Row: Sendable {
        public var method: String
        public var dataset: String
        public var protocolKind: String
        public var seed: UInt64
        public var auroc: Double
        public var averagePrecision: Double
        public var f1: Double
        public var fitSeconds: Double
        public var runID: String
        /// The normal class(es) of a per-class grid ("3") or of a grid over one normal class;
        /// empty otherwise (no classes, or one combination of several: "0 1" without `--per-class`).
        public var normalClass: String
        /// The known anomaly class(es) of a grid over them ("5"), empty otherwise.
        public var anomalyClass: String

        public init(
            method: String, dataset: String, protocolKind: String, seed: UInt64, auroc: Double,
            averagePrecision: Double, f1: Double, fitSeconds: Double, runID: String, normalClass: String = "",
            anomalyClass: String = ""
        ) {
            self.normalClass = normalClass
            self.anomalyClass = anomalyClass
            self.method = method
            self.dataset = dataset
            self.protocolKind = protocolKind
            self.seed = seed
            self.auroc = auroc
            self.averagePrecision = averagePrecision
            self.f1 = f1
            self.fitSeconds = fitSeconds
            self.runID = runID
        }
    }

    public var rows: [Row]

    /// The class column of a run: its classes joined by "+" when the grid varies them
    /// (`varies`), its one class when it has a single one, and empty otherwise.
    public static func classLabel(_ classes: [Int], varies: Bool) -> String {
        varies || classes.count == 1 ? classes.map(String.init).joined(separator: "+") : ""
    }

    public init(rows: [Row]) { self.rows = rows }

    /// The table of every finished run in a bench folder (`anomaly bench --merge`, after the
    /// tasks of a job array each wrote their run): rows ordered by data set, method, classes and
    /// seed; classes are labelled where the runs differ in them or all have the same one class.
    public init(merging index: RunIndex) {
        let runs = index.finished
        let perNormal = Set(runs.map { $0.configuration.experimentProtocol.normalClasses }).count > 1
        let perAnomaly = Set(runs.map { $0.configuration.experimentProtocol.anomalyClasses }).count > 1
        rows = runs.map { run in
            let c = run.configuration
            return Row(
                method: c.method, dataset: c.dataset, protocolKind: c.experimentProtocol.kind, seed: c.seed,
                auroc: run.summary.auroc, averagePrecision: run.summary.averagePrecision, f1: run.summary.f1.f1,
                fitSeconds: run.fitSeconds, runID: run.id,
                normalClass: Self.classLabel(c.experimentProtocol.normalClasses, varies: perNormal),
                anomalyClass: perAnomaly ? Self.classLabel(c.experimentProtocol.anomalyClasses, varies: true) : "")
        }.sorted { a, b in
            // Class labels compare by length first, so "10" follows "9".
            func key(_ r: Row) -> [String] {
                [r.dataset, r.method, String(format: "%06d", r.normalClass.count), r.normalClass,
                 String(format: "%06d", r.anomalyClass.count), r.anomalyClass, String(format: "%020llu", r.seed)]
            }
            return key(a).lexicographicallyPrecedes(key(b))
        }
    }

    public func csv() -> String {
        var text = "method,dataset,protocol,normal_class,anomaly_class,seed,auroc,average_precision,f1,fit_seconds,run\n"
        for r in rows {
            text += "\(r.method),\(r.dataset),\(r.protocolKind),\(r.normalClass),\(r.anomalyClass),\(r.seed),\(r.auroc),\(r.averagePrecision),\(r.f1),\(r.fitSeconds),\(r.runID)\n"
        }
        return text
    }

    /// Mean ± sample standard deviation (×100) over seeds, per method and data set; for a
    /// grid over more than one normal class, AUROC per normal class in columns and their mean (± the standard
    /// deviation over seeds of the class-averaged AUROC).
    public func markdown() -> String {
        if Set(rows.map(\.normalClass)).count > 1 { return perClassMarkdown() }
        var keys: [(String, String)] = []
        for r in rows where !keys.contains(where: { $0 == (r.method, r.dataset) }) { keys.append((r.method, r.dataset)) }
        var text = "| method | data set | protocol | seeds | AUROC | AP | F1 |\n|---|---|---|---|---|---|---|\n"
        for (method, dataset) in keys {
            let group = rows.filter { $0.method == method && $0.dataset == dataset }
            func stat(_ values: [Double]) -> String {
                let mean = values.reduce(0, +) / Double(values.count)
                guard values.count > 1 else { return String(format: "%.1f", mean * 100) }
                let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
                return String(format: "%.1f ± %.1f", mean * 100, sd * 100)
            }
            text += "| \(method) | \(dataset) | \(group[0].protocolKind) | \(group.count) | \(stat(group.map(\.auroc))) | \(stat(group.map(\.averagePrecision))) | \(stat(group.map(\.f1))) |\n"
        }
        return text
    }

    static func stat(_ values: [Double]) -> String {
        let mean = values.reduce(0, +) / Double(values.count)
        guard values.count > 1 else { return String(format: "%.1f", mean * 100) }
        let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)).squareRoot()
        return String(format: "%.1f ± %.1f", mean * 100, sd * 100)
    }

    func perClassMarkdown() -> String {
        var classes: [String] = []
        for r in rows where !classes.contains(r.normalClass) { classes.append(r.normalClass) }
        var keys: [(String, String)] = []
        for r in rows where !keys.contains(where: { $0 == (r.method, r.dataset) }) { keys.append((r.method, r.dataset)) }
        var text = "| method | data set | " + classes.joined(separator: " | ") + " | mean | fit s / run |\n"
        text += "|---|---|" + String(repeating: "---|", count: classes.count + 2) + "\n"
        for (method, dataset) in keys {
            let group = rows.filter { $0.method == method && $0.dataset == dataset }
            let cells = classes.map { c -> String in
                let values = group.filter { $0.normalClass == c }.map(\.auroc)
                return values.isEmpty ? "—" : Self.stat(values)
            }
            // Class-averaged AUROC of each seed that has every class.
            var perSeed: [Double] = []
            for seed in Set(group.map(\.seed)).sorted() {
                let runs = group.filter { $0.seed == seed }
                if Set(runs.map(\.normalClass)).count == classes.count {
                    perSeed.append(runs.map(\.auroc).reduce(0, +) / Double(runs.count))
                }
            }
            let mean = perSeed.isEmpty ? "—" : Self.stat(perSeed)
            let seconds = group.map(\.fitSeconds).reduce(0, +) / Double(group.count)
            text += "| \(method) | \(dataset) | " + cells.joined(separator: " | ") + " | \(mean) | \(String(format: "%.0f", seconds)) |\n"
        }
        return text
    }
}
