import Detectors
import Foundation
import Metrics

/// The run folder `runs/<id>/`: written under a temporary name, renamed when complete.
public enum RunDirectory {
    /// File name of a deep method's fitted network inside a run folder.
    public static let checkpointName = "model.safetensors"
    /// Sub-folder of a partial run folder with the training loops' resumable checkpoints.
    public static let checkpointFolder = "checkpoints"
    /// Tabular standardisation statistics of a run (so scoring needs no training data).
    public static let standardizationName = "standardization.json"

    /// Creates the partial folder of a new run, `.<id>.partial`, atomically: `mkdir` fails when
    /// the folder exists, so two runs started in the same second (same method, data set and
    /// seed) take different ids (`…-s0-2`) instead of sharing — or deleting — one folder.
    public static func createPartial(in root: URL, method: String, dataset: String, seed: UInt64) throws -> (id: String, folder: URL) {
        let fm = FileManager.default
        try makeFolders(root)
        guard fm.isWritableFile(atPath: root.path) else {
            throw ExperimentError.invalidArgument("\(root.path): the output folder is not writable")
        }
        // A run that takes the same name between the check and mkdir makes mkdir fail with
        // EEXIST; the next identifier then sees its folder and moves past it.
        let date = Date()
        for _ in 0..<10_000 {
            let id = try newIdentifier(in: root, method: method, dataset: dataset, seed: seed, date: date)
            let partial = root.appendingPathComponent(".\(id).partial")
            if mkdir(partial.path, 0o755) == 0 { return (id, partial) }
            guard errno == EEXIST else {
                throw ExperimentError.invalidArgument("\(partial.path): cannot create the run folder (\(String(cString: strerror(errno))))")
            }
        }
        throw ExperimentError.invalidArgument("\(root.path): no free run folder name")
    }

    /// `mkdir -p root`, with one plain line naming the folder and the POSIX reason when it
    /// cannot be done (Foundation's own message names neither).
    static func makeFolders(_ root: URL) throws {
        var path = ""
        for component in root.standardizedFileURL.pathComponents {
            path = component == "/" ? "/" : (path == "/" ? "/" : path + "/") + component
            var status = stat()
            if stat(path, &status) == 0 {
                guard (status.st_mode & S_IFMT) == S_IFDIR else {
                    throw ExperimentError.invalidArgument("\(root.path): cannot create the output folder (\(path) is not a folder)")
                }
                continue
            }
            guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
                throw ExperimentError.invalidArgument(
                    "\(root.path): cannot create the output folder (\(path): \(String(cString: strerror(errno))))")
            }
        }
    }

    /// The partial folder named by a user (`runs/.<id>.partial`, or `runs/<id>` for it) and its id.
    public static func partialFolder(_ url: URL) throws -> (id: String, folder: URL) {
        let name = url.standardizedFileURL.lastPathComponent
        let parent = url.standardizedFileURL.deletingLastPathComponent()
        var id = name
        if id.hasPrefix(".") && id.hasSuffix(".partial") { id = String(id.dropFirst().dropLast(8)) }
        let folder = parent.appendingPathComponent(".\(id).partial")
        guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("config.json").path) else {
            if FileManager.default.fileExists(atPath: parent.appendingPathComponent(id).appendingPathComponent("scores.csv").path) {
                throw ExperimentError.invalidArgument("\(url.path): this run is already complete; nothing to resume")
            }
            throw ExperimentError.invalidArgument("\(url.path): no interrupted run to resume (expected \(folder.path) with config.json)")
        }
        return (id, folder)
    }

    /// Renames a complete partial folder to `root/<id>`.
    public static func finish(_ partial: URL, id: String, in root: URL) throws -> URL {
        let final = partial.deletingLastPathComponent().appendingPathComponent(id)
        guard !FileManager.default.fileExists(atPath: final.path) else {
            throw ExperimentError.invalidArgument("\(final.path) already exists; the finished run stays in \(partial.path)")
        }
        try FileManager.default.moveItem(at: partial, to: final)
        return final
    }

    /// `<UTC time>-<method>-<data set>-s<seed>` (`20261122-181500-iforest-thyroid-s0`), with `-2`,
    /// `-3`, … when a run folder of that name, finished or partial, exists.
    public static func newIdentifier(
        in root: URL, method: String, dataset: String, seed: UInt64, date: Date = Date()
    ) throws -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let clean = { (s: String) in String(s.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" }) }
        let base = "\(formatter.string(from: date))-\(clean(method))-\(clean(dataset))-s\(seed)"
        var id = base, n = 2
        while FileManager.default.fileExists(atPath: root.appendingPathComponent(id).path)
            || FileManager.default.fileExists(atPath: root.appendingPathComponent(".\(id).partial").path)
        {
            id = "\(base)-\(n)"
            n += 1
        }
        return id
    }

    static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try encoder.encode(value).write(to: url, options: .atomic)
    }

    static func writeScores(test: ExperimentRunner.TestSet, scores: [Float], to url: URL) throws {
        var text = "position,source,index,is_anomaly,score\n"
        text.reserveCapacity(scores.count * 32)
        for i in 0..<scores.count {
            text += "\(i),\(test.sourceNames[i]),\(test.sourceIndices[i]),\(test.isAnomaly[i] ? 1 : 0),\(scores[i])\n"
        }
        try Data(text.utf8).write(to: url, options: .atomic)
    }
}

/// Builds the HTML report of a run from its scores.
enum ReportBuilder {
    static func report(
        title: String, configuration: RunConfiguration, detectorConfiguration: String, split: Datasets.Split,
        scores: [Float], isAnomaly: [Bool], summary: EvaluationSummary?, fitSeconds: Double, scoreSeconds: Double,
        standardized: Bool, notes: [String], training: [TrainingHistory.Epoch] = [],
        selections: [TrainingHistory.Selection] = [], thresholds: RunThresholds? = nil,
        testSamples: Samples? = nil, madeImages: (sets: [ReportImages], note: String) = ([], "")
    ) throws -> HTMLReport {
        let roc = try summary.map { _ in try rocCurve(scores: scores, labels: isAnomaly) }
        let pr = try summary.map { _ in try precisionRecallCurve(scores: scores, labels: isAnomaly) }
        let counts = split.roleCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let ranking: [(String, String)] =
            summary.map { summary in
                [
                    ("AUROC", String(format: "%.4f", summary.auroc)),
                    ("average precision (AUPR)", String(format: "%.4f", summary.averagePrecision)),
                    ("precision@n (n = anomalies)", String(format: "%.4f", summary.precisionAtN)),
                    ("F1 (anomaly class, threshold at test anomaly ratio)", String(format: "%.4f", summary.f1.f1)),
                    ("test samples / anomalies", "\(summary.sampleCount) / \(summary.anomalyCount)"),
                ]
            } ?? [("test samples / anomalies", "\(scores.count) / 0 (no labelled anomalies: AUROC and the other ranking metrics need them; the thresholds' test FPR below is measured)")]
        var report = HTMLReport(
            title: title,
            configuration: [
                ("method", configuration.method), ("detector configuration", detectorConfiguration),
                ("data set", configuration.dataset), ("protocol", configuration.experimentProtocol.kind),
                ("seed", "\(configuration.seed)"), ("split sizes", counts),
                ("standardised features", standardized ? "yes (z-score with training statistics)" : "no"),
                ("training subsample", configuration.trainingSubsample.map { "at most \($0) unlabelled samples" } ?? "none"),
            ],
            metrics: ranking + [
                ("fit time", String(format: "%.2f s", fitSeconds)), ("score time", String(format: "%.2f s", scoreSeconds)),
            ] + selections.map { kept in
                let epochs = training.filter { $0.phase == kept.phase }.count
                return (
                    "model selection, \(kept.phase)",
                    "kept epoch \(kept.epoch) of \(epochs) (lowest validation loss, \(String(format: "%.5g", kept.validationLoss)))"
                )
            } + (thresholds?.reportRows ?? []),
            rocCurve: roc.map { zip($0.falsePositiveRates, $0.truePositiveRates).map { ($0, $1) } } ?? [],
            prCurve: pr.map { zip($0.recalls, $0.precisions).map { ($0, $1) } } ?? [],
            normalScores: zip(scores, isAnomaly).filter { !$0.1 }.map { Double($0.0) },
            anomalyScores: zip(scores, isAnomaly).filter { $0.1 }.map { Double($0.0) },
            notes: notes)
        report.extraPlots = trainingPlots(training)
        report.galleryHTML = testSamples.flatMap { ImageGallery(samples: $0, scores: scores, isAnomaly: isAnomaly)?.html() }
        report.madeImagesHTML = ImageGallery.html(madeImages.sets, note: madeImages.note)
        return report
    }

    /// One chart of the loss terms per training phase, and the test AUROC curve when monitored.
    static func trainingPlots(_ epochs: [TrainingHistory.Epoch]) -> [String] {
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
        func range(_ values: [Double]) -> ClosedRange<Double> {
            let lo = values.min() ?? 0, hi = values.max() ?? 1
            return hi > lo ? lo...hi : (lo - 0.5)...(lo + 0.5)
        }
        var plots: [String] = []
        var phases: [String] = []
        for e in epochs where !phases.contains(e.phase) { phases.append(e.phase) }
        for phase in phases {
            let rows = epochs.filter { $0.phase == phase }
            let terms = rows.first.map { $0.losses.keys.sorted() } ?? []
            let series = terms.enumerated().map { i, term in
                SVGPlot.Series(
                    name: term, points: rows.map { (Double($0.epoch), $0.losses[term] ?? .nan) }.filter { $0.1.isFinite },
                    color: colors[i % colors.count])
            }
            let values = series.flatMap { $0.points.map(\.y) }
            plots.append(
                SVGPlot.lineChart(
                    title: "\(phase): loss per epoch", xLabel: "epoch", yLabel: "mean loss", series: series,
                    xRange: range(rows.map { Double($0.epoch) } + [0]), yRange: range(values)))
        }
        for name in Set(epochs.flatMap { ($0.diagnostics ?? [:]).keys }).sorted() {
            let points = epochs.enumerated().compactMap { i, e in e.diagnostics?[name].map { (Double(i + 1), $0) } }
            plots.append(
                SVGPlot.lineChart(
                    title: "\(name) per epoch", xLabel: "epoch (all phases)", yLabel: name,
                    series: [.init(name: name, points: points, color: "#2ca02c")],
                    xRange: range(points.map(\.0) + [0]), yRange: range(points.map(\.1))))
        }
        let evaluated = epochs.enumerated().compactMap { i, e in e.testAUROC.map { (Double(i + 1), $0) } }
        if !evaluated.isEmpty {
            plots.append(
                SVGPlot.lineChart(
                    title: "Test AUROC during training", xLabel: "epoch (all phases)", yLabel: "AUROC",
                    series: [.init(name: "test AUROC", points: evaluated, color: "#1f77b4")],
                    xRange: range(evaluated.map(\.0) + [0]), yRange: 0...1))
        }
        return plots
    }
}

import Datasets

/// The runs already under a folder (a bench folder being resumed): finished ones with their
/// results, and interrupted ones that can continue, by configuration.
public struct RunIndex {
    public struct Finished {
        public var id: String
        public var configuration: RunConfiguration
        public var summary: EvaluationSummary
        public var fitSeconds: Double
    }

    public var finished: [Finished] = []
    /// Interrupted runs (partial folders with a configuration).
    public var interrupted: [(configuration: RunConfiguration, folder: URL)] = []

    public init(scanning root: URL) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: root.path) else { return }
        for name in names.sorted() {
            let folder = root.appendingPathComponent(name)
            guard let record = try? RunConfigurationRecord.read(from: folder) else { continue }
            if name.hasPrefix(".") && name.hasSuffix(".partial") {
                interrupted.append((record.configuration, folder))
            } else if let data = fm.contents(atPath: folder.appendingPathComponent("metrics.json").path),
                let metrics = try? JSONDecoder().decode(RunMetrics.self, from: data), let summary = metrics.summary
            {
                finished.append(.init(id: name, configuration: record.configuration, summary: summary, fitSeconds: metrics.fitSeconds))
            }
        }
    }
}

/// The lock a process holds on the partial run folder it trains (`flock` on `<folder>/.lock`,
/// which records its pid): a second process that would resume the same folder — the same bench
/// started twice, `train --resume` on a running run — is refused with one line instead of both
/// writing one checkpoint. The kernel drops the lock when the process ends, however it ends, so
/// an interrupted run is resumable at once. Job-array tasks write separate folders and never meet.
public final class RunFolderLock {
    public static let fileName = ".lock"
    private let descriptor: Int32
    private let url: URL

    public init(_ folder: URL) throws {
        url = folder.appendingPathComponent(Self.fileName)
        let fd = open(url.path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ExperimentError.invalidArgument("\(folder.path): cannot open its lock file (\(String(cString: strerror(errno))))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            let who = Int32(holder).map { "process \($0)" } ?? "another process"
            throw ExperimentError.invalidArgument(
                "\(folder.path) is being trained by \(who); wait for it to finish (or stop it) before resuming this run")
        }
        descriptor = fd
        let pid = Data("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// Whether a process holds the lock of the partial folder `folder` now (it is training it).
    public static func isHeld(_ folder: URL) -> Bool {
        let fd = open(folder.appendingPathComponent(fileName).path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }  // no lock file: nobody has trained it since locks exist
        defer { close(fd) }
        guard flock(fd, LOCK_SH | LOCK_NB) == 0 else { return true }
        flock(fd, LOCK_UN)
        return false
    }

    /// Removes the lock file before the folder is renamed to its finished name (the lock itself
    /// is released when this object goes).
    public func removeFile() {
        unlink(url.path)
    }

    deinit {
        close(descriptor)
    }
}
