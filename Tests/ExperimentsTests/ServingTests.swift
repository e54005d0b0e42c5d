import Datasets
import Experiments
import Foundation
import Logging
import Serving
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `anomaly serve`: the scoring server on loopback, through real HTTP.
@Suite struct ServingTests {
    static let tabular = ExperimentProtocol.tabular(TabularProtocol(rule: .goad(shuffleNormals: false)))
    static let pngFolder = packageRoot.appendingPathComponent("Tests/DatasetsTests/Fixtures/readers/folder_normal_abnormal")

    /// A finished run in `root/runs`: the given method on mini thyroid, or on the PNG fixture
    /// folder.
    static func train(method: String, dataset: String, in root: URL) throws -> URL {
        let options = ["knn": ["k": "1"], "autoencoder": ["training.epochs": "2"]][method] ?? [:]
        let configuration = RunConfiguration(method: method, methodOptions: options, dataset: dataset, experimentProtocol: tabular, seed: 1)
        let data = try ExperimentData.load(dataset, root: miniData)
        return try ExperimentRunner(outputRoot: root.appendingPathComponent("runs"))
            .run(configuration, data: data, method: MethodRegistry.entry(named: method)).directory
    }

    /// Runs `body` against a server for `run` on a free loopback port, then shuts it down.
    static func withServer(
        run: URL, options: ScoringServer.Options = .init(port: 0), _ body: @Sendable (URL) async throws -> Void
    ) async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        // Cancelling the server at the end logs errors about the cancelled channel.
        var quietLogger = Logger(label: "serve-test")
        quietLogger.logLevel = .critical
        let application = try ScoringServer.makeApplication(
            runFolder: run, dataRoot: miniData, options: options, logger: quietLogger
        ) { port in continuation.yield(port) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await application.runService(gracefulShutdownSignals: []) }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await body(URL(string: "http://127.0.0.1:\(port)")!)
            group.cancelAll()
        }
    }

    struct Answer: Sendable {
        let status: Int
        let body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        }
    }

    static func request(_ base: URL, _ path: String, body: Data? = nil, contentType: String? = nil) async throws -> Answer {
        var request = URLRequest(url: base.appendingPathComponent(path))
        if let body {
            request.httpMethod = "POST"
            request.httpBody = body
        }
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Answer(status: (response as! HTTPURLResponse).statusCode, body: data)
    }

    /// A little-endian float32 `.npy` file of `samples`.
    static func npy(_ samples: Samples) -> Data {
        let shape = samples.shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape)\(samples.shape.count == 1 ? "," : "")), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(Data(header.utf8))
        samples.values.withUnsafeBufferPointer { data.append(Data(buffer: $0)) }
        return data
    }

    static func csv(_ samples: Samples, labels: [Int]? = nil) -> Data {
        let width = samples.featureCount
        var text = (0..<width).map { "f\($0)" }.joined(separator: ",") + (labels == nil ? "" : ",label") + "\n"
        for row in 0..<samples.count {
            text += samples.values[(row * width)..<((row + 1) * width)].map { "\($0)" }.joined(separator: ",")
            text += labels.map { ",\($0[row])\n" } ?? "\n"
        }
        return Data(text.utf8)
    }

    /// CSV (with and without a label column) and NPY bodies score exactly as the run folder's
    /// replay does, with labels at the run's threshold; /health names the model.
    @Test func scoresTablesExactlyAsTheRunFolderDoes() async throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = try Self.train(method: "pca", dataset: "thyroid", in: root)
        let replay = try RunReplay(directory: run, dataRoot: miniData)
        let table = try DatasetCatalog.loadTable("thyroid", root: miniData).samples
        let rows = Array(replay.manifest.split.test.prefix(40))
        let samples = table.samples.selecting(rows)
        let expected = try replay.score(samples)
        let (threshold, _) = try RunThresholds.resolve(.falsePositiveRate(0.05), runFolder: run)
        try await Self.withServer(run: run) { base in
            for (body, type) in [
                (Self.csv(samples), "text/csv"), (Self.csv(samples, labels: rows.map { table.labels[$0] }), nil),
                (Self.npy(samples), "application/x-npy"), (Self.npy(samples), nil),
            ] {
                let answer = try await Self.request(base, "score", body: body, contentType: type)
                #expect(answer.status == 200, "\(answer.text)")
                let json = try answer.json()
                let scores = try #require(json["scores"] as? [Double]).map(Float.init)
                #expect(scores == expected)
                #expect(try #require(json["labels"] as? [Int]) == expected.map { Double($0) >= threshold ? 1 : 0 })
                #expect(json["threshold"] as? Double == threshold)
            }
            let health = try await Self.request(base, "health").json()
            #expect(health["status"] as? String == "ok" && health["method"] as? String == "pca")
            #expect(health["sample_shape"] as? [Int] == [table.samples.featureCount])
        }
    }

    /// One PNG image as the body is one sample, scaled as the PNG folder it was trained on.
    @Test func scoresAPNGImageAsItsFolderWasRead() async throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = try Self.train(method: "knn", dataset: Self.pngFolder.path, in: root)
        let replay = try RunReplay(directory: run, dataRoot: miniData)
        let images = try ImageFolderReader.read(root: Self.pngFolder, layout: .normalAbnormal).labeledSamples()
        let expected = try replay.score(images.samples)
        let files = ["normal/img0.png", "normal/img1.png", "normal/img2.png", "abnormal/img0.png", "abnormal/img1.png"]
        try await Self.withServer(run: run) { base in
            for (index, file) in files.enumerated() {
                let body = try Data(contentsOf: Self.pngFolder.appendingPathComponent(file))
                let answer = try await Self.request(base, "score", body: body, contentType: "image/png")
                #expect(answer.status == 200, "\(answer.text)")
                let scores = try #require(try answer.json()["scores"] as? [Double]).map(Float.init)
                #expect(scores == [expected[index]], "\(file)")
            }
        }
    }

    /// A body over the limit gets 413 and the server keeps serving; malformed bodies get 400
    /// with one line saying why; /metrics counts each answer.
    @Test func refusesLargeAndMalformedBodiesAndKeepsServing() async throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = try Self.train(method: "pca", dataset: "thyroid", in: root)
        let replay = try RunReplay(directory: run, dataRoot: miniData)
        let good = Self.csv(try DatasetCatalog.loadTable("thyroid", root: miniData).samples.samples.selecting([0, 1]))
        try await Self.withServer(run: run, options: .init(port: 0, maxBodyBytes: 4096)) { base in
            let large = try await Self.request(base, "score", body: Data(repeating: 0x31, count: 100_000), contentType: "text/csv")
            #expect(large.status == 413)
            #expect(try large.json()["error"] as? String == "body of 100000 bytes is over the limit of 4096 bytes")
            #expect(try await Self.request(base, "score", body: good).status == 200)
            let cases: [(Data, String?, String)] = [
                (Data("a,b\n1,x\n".utf8), "text/csv", "'x' in column 'b' is not a number"),
                (Data("a,b\n1,2\n".utf8), nil, "columns"),
                (Data([0x93] + Array("NUMPY".utf8) + [1, 0, 4, 0]), nil, "the request body"),
                (Data([0x89, 0x50, 0x4E, 0x47, 0, 0]), nil, "PNG"),
                (Data(), nil, "empty body"),
            ]
            for (body, type, reason) in cases {
                let answer = try await Self.request(base, "score", body: body, contentType: type)
                #expect(answer.status == 400, "\(answer.text)")
                #expect(answer.text.split(separator: "\n").count == 1 && answer.text.contains(reason), "\(answer.text)")
            }
            #expect(try await Self.request(base, "score", body: good).status == 200)
            let metrics = try await Self.request(base, "metrics").text
            #expect(metrics.contains("anomaly_http_requests_total{path=\"/score\",status=\"200\"} 2"), "\(metrics)")
            #expect(metrics.contains("anomaly_http_requests_total{path=\"/score\",status=\"400\"} 5"))
            #expect(metrics.contains("anomaly_http_requests_total{path=\"/score\",status=\"413\"} 1"))
            #expect(metrics.contains("anomaly_scored_samples_total 4") && metrics.contains("anomaly_http_requests_in_flight 1"))
            #expect(metrics.contains("anomaly_http_request_duration_seconds_count 8") && metrics.contains("process_resident_memory_bytes"))
        }
        _ = replay
    }

    /// Many requests at once, two scoring at a time: every one answered, each with the scores
    /// of its own rows (a classical detector, and a network on the tensor engine).
    @Test(arguments: ["iforest", "autoencoder"])
    func concurrentRequestsGetTheirOwnScores(method: String) async throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = try Self.train(method: method, dataset: "thyroid", in: root)
        let replay = try RunReplay(directory: run, dataRoot: miniData)
        let table = try DatasetCatalog.loadTable("thyroid", root: miniData).samples.samples
        let bodies = (0..<16).map { table.selecting(Array((10 * $0)..<(10 * $0 + 10))) }
        let expected = try bodies.map { try replay.score($0) }
        try await Self.withServer(run: run, options: .init(port: 0, maxConcurrentScoring: 2)) { base in
            try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
                for (index, samples) in bodies.enumerated() {
                    group.addTask {
                        let answer = try await Self.request(base, "score", body: Self.npy(samples))
                        return (index, try #require(try answer.json()["scores"] as? [Double]).map(Float.init))
                    }
                }
                var answered = 0
                for try await (index, scores) in group {
                    #expect(scores == expected[index])
                    answered += 1
                }
                #expect(answered == bodies.count)
            }
        }
    }

    /// The gate admits limit + queue requests, lets `limit` score at once and the next in
    /// when one leaves.
    @Test func theGateBoundsAdmissionsAndTakesTurns() async throws {
        let gate = ScoringGate(limit: 1, queueLimit: 1)
        #expect(gate.admit() && gate.admit() && !gate.admit())
        await gate.enter()
        let entered = Entered()
        let second = Task {
            await gate.enter()
            entered.set()
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(!entered.value, "the second request scored while the first held the only place")
        gate.leave()
        await second.value
        #expect(entered.value)
        gate.leave()
        gate.dismiss()
        #expect(gate.admit() && !gate.admit())
    }

    final class Entered: @unchecked Sendable {
        private let lock = NSLock()
        private var flag = false
        var value: Bool { lock.withLock { flag } }
        func set() { lock.withLock { flag = true } }
    }

    /// The tool: bad options get one line; `serve` prints its port, answers, and stops cleanly
    /// on SIGTERM.
    @Test func theToolServesAndStopsOnSIGTERM() async throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = try Self.train(method: "pca", dataset: "thyroid", in: root)
        guard let bad = try runTool(["serve", "--run", run.path, "--port", "70000"], in: root) else {
            Issue.record("the anomaly executable was not built next to the tests")
            return
        }
        #expect(bad.status != 0 && bad.stderr.contains("--port must be in 0…65535"))
        let missing = try #require(try runTool(["serve", "--run", root.appendingPathComponent("nothing").path, "--port", "0"], in: root))
        #expect(missing.status != 0 && missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")

        let tool = try #require(toolURL())
        let process = Process()
        process.executableURL = tool
        process.arguments = ["serve", "--run", run.path, "--port", "0", "--data-dir", miniData.path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = String(decoding: out.fileHandleForReading.availableDataLine(), as: UTF8.self)
        let port = try #require(line.split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) }, "\(line)")
        let base = URL(string: "http://127.0.0.1:\(port)")!
        #expect(try await Self.request(base, "health").status == 200)
        process.terminate()  // SIGTERM
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
    }
}

extension FileHandle {
    /// Reads byte by byte up to the first newline (or the end).
    func availableDataLine() -> Data {
        var line = Data()
        while let byte = try? read(upToCount: 1), let first = byte.first, first != UInt8(ascii: "\n") {
            line.append(first)
        }
        return line
    }
}
