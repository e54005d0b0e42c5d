import Foundation
import Testing

/// Runs the built `anomaly` executable (next to the test bundle) and returns exit code and output.
func runTool(_ arguments: [String], in directory: URL) throws -> (status: Int32, stdout: String, stderr: String)? {
    let buildFolder = Bundle.main.bundleURL.deletingLastPathComponent()
    var tool = buildFolder.appendingPathComponent("anomaly")
    if !FileManager.default.fileExists(atPath: tool.path) {
        tool = Bundle.main.bundleURL.appendingPathComponent("anomaly")
    }
    guard FileManager.default.fileExists(atPath: tool.path) else { return nil }
    let process = Process()
    process.executableURL = tool
    process.arguments = arguments
    process.currentDirectoryURL = directory
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
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
        ]
        for (arguments, message) in cases {
            guard let r = try runTool(arguments + ["--data-dir", miniData.path], in: dir) else {
                Issue.record("the anomaly executable was not built next to the tests")
                return
            }
            #expect(r.status != 0)
            #expect(r.stderr.contains(message), "\(arguments): \(r.stderr)")
        }
    }
}
