import Datasets
import Foundation
import Tensors
import Testing

/// Runs the built `anomaly` executable (next to the test bundle) and returns exit code and output.
func runTool(
    _ arguments: [String], in directory: URL, environment: [String: String] = [:]
) throws -> (status: Int32, stdout: String, stderr: String)? {
    guard let tool = toolURL() else { return nil }
    let process = Process()
    process.executableURL = tool
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    process.currentDirectoryURL = directory
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Drain standard error on its own thread: a child blocked on a full pipe would never finish.
    let e = PipeDrain(err)
    let o = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e.wait(), as: UTF8.self))
}

/// The built `anomaly` executable next to the tests, when there is one.
func toolURL() -> URL? {
    let buildFolder = Bundle.main.bundleURL.deletingLastPathComponent()
    for candidate in [buildFolder.appendingPathComponent("anomaly"), Bundle.main.bundleURL.appendingPathComponent("anomaly")]
    where FileManager.default.fileExists(atPath: candidate.path) {
        return candidate
    }
    return nil
}

/// Reads a pipe to its end on a background thread.
final class PipeDrain: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        Thread.detachNewThread { [self] in
            data = pipe.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}

@Suite struct CommandLineTests {
    @Test func trainWritesARunAndPrintsAUROC() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        guard let r = try runTool(["train", "--method", "pca", "--dataset", "thyroid", "--data-dir", miniData.path], in: dir) else {
            Issue.record("the anomaly executable was not built next to the tests")
            return
        }
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("0.98"))  // PyOD PCA reaches 0.9855 on this split
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("runs").path).count == 1)
    }

    @Test func truncatedDataFileGivesOneClearErrorAndWritesNothing() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tabular = dir.appendingPathComponent("data/tabular")
        try FileManager.default.createDirectory(at: tabular, withIntermediateDirectories: true)
        let original = try Data(contentsOf: miniData.appendingPathComponent("tabular/thyroid.csv.gz"))
        try original.prefix(original.count / 2).write(to: tabular.appendingPathComponent("thyroid.csv.gz"))
        guard let r = try runTool(["train", "--method", "knn", "--dataset", "thyroid", "--data-dir", dir.appendingPathComponent("data").path], in: dir) else {
            Issue.record("the anomaly executable was not built next to the tests")
            return
        }
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(r.stderr)")
        #expect(r.stderr.contains("thyroid.csv.gz") && r.stderr.contains("truncated"))
        let runs = dir.appendingPathComponent("runs").path
        let written = (try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []
        #expect(written.isEmpty)
    }

    @Test func unknownDatasetMethodAndOptionAreRejected() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [([String], String)] = [
            (["train", "--method", "knn", "--dataset", "no-such-set"], "unknown data set 'no-such-set'"),
            (["train", "--method", "no-such-method", "--dataset", "thyroid"], "unknown method 'no-such-method'"),
            (["train", "--method", "knn", "--dataset", "thyroid", "--frobnicate"], "Unknown option '--frobnicate'"),
            (["train", "--method", "iforest", "--dataset", "thyroid", "--option", "treeCount=9223372036854775807"],
             "option treeCount=9223372036854775807 is invalid: must be in 1...100000"),
            (["train", "--method", "ocsvm", "--dataset", "thyroid", "--option", "cacheSizeMB=1e15"], "option cacheSizeMB="),
            (["bench", "--methods", ",", "--datasets", "thyroid"], "--methods: no method named"),
            (["bench", "--methods", "knn", "--datasets", "thyroid", "--seeds", ""], "--seeds: no seed given"),
            (["bench", "--methods", "knn", "--datasets", "thyroid", "--seeds", "1", "x"], "--seeds: 'x' is not a non-negative integer"),
            (["demo", "--methods", "knn", "no-such-method"], "unknown method 'no-such-method'"),
            (["train", "--method", "knn", "--dataset", "thyroid", "--seed", "abc"], "The value 'abc' is invalid for '--seed <seed>'"),
            (["serve", "--run", "runs/x", "--port", "70000"], "--port must be in 0…65535, got 70000"),
            (["predict", "--run", "runs/x", "--input", "x.csv", "--fpr", "2"], "--fpr must be in (0, 1), got 2.0"),
        ]
        for (arguments, message) in cases {
            guard let r = try runTool(arguments + ["--data-dir", miniData.path], in: dir) else {
                Issue.record("the anomaly executable was not built next to the tests")
                return
            }
            #expect(r.status != 0)
            #expect(r.stderr.contains(message), "\(arguments): \(r.stderr)")
            // One line: usage errors too end without ArgumentParser's usage block.
            #expect(r.stderr.split(separator: "\n").count == 1, "\(arguments): \(r.stderr)")
        }
        // Refused before anything ran: no run folder was written (the demo checks every method first).
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path))
        let help = try #require(try runTool(["train", "--help"], in: dir))
        #expect(help.status == 0 && help.stdout.contains("USAGE: anomaly train"))
    }
}

@Suite struct ThreadCountTests {
    /// Unset or empty: the cores; padded whole numbers 1…64 are read; anything else is refused.
    @Test func theEnvironmentValueIsParsedAndRangeChecked() throws {
        #expect(try CPUThreads.fromEnvironment([:]) == nil)
        #expect(try CPUThreads.fromEnvironment(["ANOMALYKIT_THREADS": " "]) == nil)
        #expect(try CPUThreads.fromEnvironment(["ANOMALYKIT_THREADS": " 1 "]) == 1)
        #expect(try CPUThreads.fromEnvironment(["ANOMALYKIT_THREADS": "64"]) == 64)
        for bad in ["0", "-2", "65", "2x", "1e1"] {
            #expect(throws: ThreadCountError.self, "\(bad)") { try CPUThreads.fromEnvironment(["ANOMALYKIT_THREADS": bad]) }
        }
    }

    /// ANOMALYKIT_THREADS sets the kernels' thread count, which the run's manifest records; a
    /// value that is not 1…64 is refused with one line before anything runs.
    @Test func theThreadCountComesFromTheEnvironment() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = ["train", "--method", "pca", "--dataset", "thyroid", "--data-dir", miniData.path]
        for bad in ["0", "65", "two", "1.5"] {
            guard let r = try runTool(train, in: dir, environment: ["ANOMALYKIT_THREADS": bad]) else {
                Issue.record("the anomaly executable was not built next to the tests")
                return
            }
            #expect(r.status != 0)
            #expect(r.stderr == "Error: ANOMALYKIT_THREADS=\(bad) is not a thread count: give a whole number from 1 to 64\n")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path))

        let r = try #require(try runTool(train, in: dir, environment: ["ANOMALYKIT_THREADS": "3"]))
        #expect(r.status == 0, "\(r.stderr)")
        let runs = dir.appendingPathComponent("runs")
        let folder = try #require(try FileManager.default.contentsOfDirectory(atPath: runs.path).first)
        let manifest = try SplitManifest.read(from: runs.appendingPathComponent(folder).appendingPathComponent("manifest.json"))
        #expect(manifest.tool.threads == 3)
    }
}

@Suite struct CommandLineResumeTests {
    /// Ctrl-C during training keeps a checkpoint and prints the command that continues the run;
    /// the continued run writes exactly the scores of an uninterrupted one.
    @Test func interruptedTrainingResumesToIdenticalScores() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let arguments = [
            "train", "--method", "deepsvdd", "--dataset", "mnist", "--data-dir", miniData.path, "--normal-class", "4",
            "--option", "pretraining.epochs=100", "--option", "training.epochs=100",
        ]
        guard let reference = try runTool(arguments + ["--output", "reference"], in: dir) else {
            Issue.record("the anomaly executable was not built next to the tests")
            return
        }
        #expect(reference.status == 0, "\(reference.stderr)")
        // The same run, interrupted by SIGINT once its first checkpoint exists.
        let process = Process()
        process.executableURL = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("anomaly")
        if !FileManager.default.fileExists(atPath: process.executableURL!.path) {
            process.executableURL = Bundle.main.bundleURL.appendingPathComponent("anomaly")
        }
        process.arguments = arguments + ["--output", "interrupted"]
        process.currentDirectoryURL = dir
        let err = Pipe(), out = Pipe()
        process.standardError = err
        process.standardOutput = out
        try process.run()
        let errors = PipeDrain(err), outputs = PipeDrain(out)
        let runs = dir.appendingPathComponent("interrupted")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let partials = ((try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? []).filter { $0.hasSuffix(".partial") }
            if let p = partials.first,
                FileManager.default.fileExists(atPath: runs.appendingPathComponent(p).appendingPathComponent("checkpoints/pretraining.safetensors").path)
            {
                break
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        process.interrupt()
        process.waitUntilExit()
        let stderr = String(decoding: errors.wait(), as: UTF8.self)
        _ = outputs.wait()
        #expect(process.terminationStatus != 0)
        let last = stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.contains("continue with: anomaly train --resume"), "\(stderr.suffix(500))")
        let folder = try #require(last.components(separatedBy: "--resume ").last)
        let resumed = try #require(try runTool(["train", "--resume", folder, "--data-dir", miniData.path], in: dir))
        #expect(resumed.status == 0, "\(resumed.stderr)")
        func scores(_ root: String) throws -> String {
            let base = dir.appendingPathComponent(root)
            let run = try #require(try FileManager.default.contentsOfDirectory(atPath: base.path).first { !$0.hasPrefix(".") })
            return try String(contentsOf: base.appendingPathComponent(run).appendingPathComponent("scores.csv"), encoding: .utf8)
        }
        #expect(try scores("interrupted") == scores("reference"))
    }
}

@Suite struct BenchResumeTests {
    /// `bench --resume FOLDER` reads finished runs back instead of repeating them and runs only
    /// what is missing; the table covers all. Seeds may be given with commas or as words.
    @Test func benchResumeRunsOnlyWhatIsMissing() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let common = ["bench", "--methods", "knn", "--datasets", "thyroid", "--data-dir", miniData.path, "--resume", "grid"]
        guard let first = try runTool(common + ["--seeds", "0,1"], in: dir) else {
            Issue.record("the anomaly executable was not built next to the tests")
            return
        }
        #expect(first.status == 0, "\(first.stderr)")
        let grid = dir.appendingPathComponent("grid")
        func runs() throws -> Set<String> {
            Set(try FileManager.default.contentsOfDirectory(atPath: grid.path).filter { $0.contains("-knn-") })
        }
        let before = try runs()
        #expect(before.count == 2)
        let second = try #require(try runTool(common + ["--seeds", "0", "1,2"], in: dir))
        #expect(second.status == 0, "\(second.stderr)")
        let after = try runs()
        #expect(after.count == 3 && before.isSubset(of: after))
        let csv = try String(contentsOf: grid.appendingPathComponent("results.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 4)
        // A bench over part of the folder tables that part and names the runs it leaves out.
        let part = try #require(try runTool(common + ["--seeds", "1"], in: dir))
        #expect(part.status == 0, "\(part.stderr)")
        #expect(part.stdout.contains("holds 2 more finished run(s) outside this grid"), "\(part.stdout)")
        #expect(!second.stdout.contains("more finished run"))
    }

    /// The 2 × 2 grid of normal × known-anomaly classes as a Slurm job array: the script runs one
    /// cell per `SLURM_ARRAY_TASK_ID` into one folder; `--merge` then tables every run, the same
    /// numbers a plain bench of the grid gives.
    @Test func jobArrayTasksMergeIntoTheBenchTable() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let grid = [
            "bench", "--methods", "knn", "--datasets", "mnist", "--data-dir", miniData.path, "--protocol", "semi-supervised",
            "--per-class", "--normal-class", "0", "1", "--anomaly-class", "0", "1", "2", "--per-anomaly-class",
        ]
        guard let emitted = try runTool(grid + ["--slurm", "grid.sh", "--resume", "array"], in: dir) else {
            Issue.record("the anomaly executable was not built next to the tests")
            return
        }
        #expect(emitted.status == 0, "\(emitted.stderr)")
        let script = try String(contentsOf: dir.appendingPathComponent("grid.sh"), encoding: .utf8)
        #expect(script.contains("#SBATCH --array=0-3"))  // (0: 1, 2) and (1: 0, 2)
        #expect(script.contains("--task \"$SLURM_ARRAY_TASK_ID\""))
        for task in 0..<4 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = [dir.appendingPathComponent("grid.sh").path]
            process.environment = ProcessInfo.processInfo.environment.merging(["SLURM_ARRAY_TASK_ID": "\(task)"]) { $1 }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "task \(task)")
        }
        let folder = dir.appendingPathComponent("array")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("results.csv").path))
        let merged = try #require(try runTool(["bench", "--merge", "array"], in: dir))
        #expect(merged.status == 0, "\(merged.stderr)")
        let rows = try String(contentsOf: folder.appendingPathComponent("results.csv"), encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 5)
        #expect(rows.dropFirst().map { $0.split(separator: ",")[3...4].joined(separator: "/") } == ["0/1", "0/2", "1/0", "1/2"])
        // The same grid run in one process gives the same AUROCs.
        let plain = try #require(try runTool(grid + ["--resume", "plain"], in: dir))
        #expect(plain.status == 0, "\(plain.stderr)")
        let reference = try String(contentsOf: dir.appendingPathComponent("plain/results.csv"), encoding: .utf8).split(separator: "\n")
        #expect(reference.map { $0.split(separator: ",")[6] } == rows.map { $0.split(separator: ",")[6] })
        // A task outside the grid is refused by name.
        let outside = try #require(try runTool(grid + ["--resume", "array", "--task", "4"], in: dir))
        #expect(outside.status != 0 && outside.stderr.contains("--task 4 is outside the grid"))
    }

    /// A bench over one normal class (no `--per-class`) still names it in results.csv, and
    /// `--merge` of the same folder writes the same column; a table has no class to name.
    @Test func aSingleNormalClassIsNamedInTheResults() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        guard let bench = try runTool(
            ["bench", "--methods", "knn", "--datasets", "mnist", "--data-dir", miniData.path, "--normal-class", "3",
             "--seeds", "0,1", "--resume", "one"], in: dir) else {
            Issue.record("the anomaly executable was not built next to the tests")
            return
        }
        #expect(bench.status == 0, "\(bench.stderr)")
        func classColumn(_ folder: String) throws -> [String] {
            try String(contentsOf: dir.appendingPathComponent("\(folder)/results.csv"), encoding: .utf8)
                .split(separator: "\n").dropFirst().map { String($0.split(separator: ",", omittingEmptySubsequences: false)[3]) }
        }
        #expect(try classColumn("one") == ["3", "3"])
        let merged = try #require(try runTool(["bench", "--merge", "one"], in: dir))
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(try classColumn("one") == ["3", "3"])
        let table = try #require(try runTool(
            ["bench", "--methods", "knn", "--datasets", "thyroid", "--data-dir", miniData.path, "--resume", "table"], in: dir))
        #expect(table.status == 0, "\(table.stderr)")
        #expect(try classColumn("table") == [""])
    }
}
