import ArgumentParser
import Datasets
import Experiments
import Foundation

struct DatasetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datasets", abstract: "List, inspect and download data sets.",
        subcommands: [List.self, Inspect.self, Fetch.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The known data sets and whether each is under the data root.")
        @OptionGroup var common: CommonOptions

        func run() {
            let root = common.dataRoot
            output("data root: \(root.path)")
            var rows: [[String]] = []
            for d in DatasetCatalog.datasets {
                let present = (try? DatasetCatalog.locate(d.name, root: root)) != nil
                rows.append([d.name, d.kind == .images ? "images" : "table", present ? "yes" : "no", d.isFetchable ? "yes" : "no"])
            }
            output(textTable(["name", "kind", "present", "fetchable"], rows))
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Shapes, class counts and value statistics of a data set.")
        @Argument(help: "Data set name.") var name: String
        @OptionGroup var common: CommonOptions

        func run() throws {
            let description = try DatasetCatalog.description(of: name)
            output("\(name): \(description.summary)")
            output("folder: \(try DatasetCatalog.locate(name, root: common.dataRoot).path)")
            func describe(_ title: String, _ s: LabeledSamples, classNames: [String]) {
                var counts = [Int: Int]()
                for l in s.labels { counts[l, default: 0] += 1 }
                let values = s.samples.values
                let mean = values.reduce(0, +) / Float(max(values.count, 1))
                let lo = values.min() ?? 0, hi = values.max() ?? 0
                output("\(title): shape \(s.samples.shape), values in [\(lo), \(hi)], mean \(String(format: "%.4f", mean))")
                output(textTable(["class", "name", "count"], counts.keys.sorted().map { k in
                    [String(k), k < classNames.count ? classNames[k] : "", String(counts[k]!)]
                }))
            }
            switch try DatasetCatalog.load(name, root: common.dataRoot) {
            case .images(let train, let test):
                describe("train", train, classNames: description.classNames)
                describe("test", test, classNames: description.classNames)
            case .table(let table):
                describe("table (\(table.featureNames.count) features)", table.samples, classNames: description.classNames)
            }
        }
    }

    struct Fetch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download the official files of a data set into the data root, verified by SHA-256.")
        @Argument(help: "mnist, fashion-mnist, cifar-10, cifar-100 or svhn.") var name: String
        @Option(help: "Download from this base URL instead of the official server (a mirror).") var baseURL: String?
        @OptionGroup var common: CommonOptions

        func run() async throws {
            let root = common.dataRoot
            var base: URL? = nil
            if let baseURL {
                guard let url = URL(string: baseURL), url.scheme != nil else { throw ValidationError("--base-url '\(baseURL)' is not a URL") }
                base = url
            }
            let progress = TerminalProgress()
            let state = FetchState()
            let report = try await DatasetFetcher().fetch(name, into: root, baseURL: base) { p in
                if state.begin(p.fileName) {
                    progress.begin("download \(p.fileName)", total: Int(p.totalBytes ?? 0))
                }
                progress.update(completed: Int(p.completedBytes), metrics: [:])
            }
            if state.started { progress.end() }
            for url in report.downloaded { output("downloaded \(url.path)") }
            for url in report.skipped { output("already present (hash verified) \(url.path)") }
            for url in report.extracted { output("extracted \(url.path)") }
        }
    }
}

/// Tracks which file the progress callback is on.
final class FetchState: @unchecked Sendable {
    private let lock = NSLock()
    private var current: String?
    var started: Bool { lock.withLock { current != nil } }

    /// True when `file` starts a new download.
    func begin(_ file: String) -> Bool {
        lock.withLock {
            if current == file { return false }
            current = file
            return true
        }
    }
}
