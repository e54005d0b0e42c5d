import Datasets
import Foundation
import Testing

@Suite("SHA-256 (FIPS 180-4)")
struct FetchSHA256Tests {
    @Test func knownVectors() {
        #expect(
            SHA256.hexDigest(of: Array("abc".utf8))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexDigest(of: [UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            SHA256.hexDigest(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            SHA256.hexDigest(of: [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func piecewiseUpdatesEqualOneShot() {
        let message = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = SHA256.hexDigest(of: message)
        for pieceSize in [1, 3, 55, 56, 63, 64, 65, 200] {
            var hasher = SHA256()
            var offset = 0
            while offset < message.count {
                hasher.update(Array(message[offset..<min(offset + pieceSize, message.count)]))
                offset += pieceSize
            }
            #expect(hasher.hexDigest() == whole, "pieces of \(pieceSize)")
        }
    }

    @Test func fileDigestMatchesThePublishedValue() throws {
        let url = RepositoryFiles.mini.appendingPathComponent("cifar-10/batches.meta.txt")
        #expect(
            try SHA256.hexDigest(ofFileAt: url) == "558e74b5e208382e186da55784b4bac2cd52e558448e1b5800990fdb28ed8033")
    }
}

/// `python3 -m http.server` on 127.0.0.1, on a port the system picks, serving `folder`.
final class LocalHTTPServer {
    let process = Process()
    let baseURL: URL

    convenience init(serving folder: URL) throws {
        try self.init(arguments: ["-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", folder.path])
    }

    /// A server that answers every GET with `megabytes` of zeros and no Content-Length (the
    /// body ends when the connection closes), as a misbehaving mirror might.
    convenience init(sendingWithoutLength megabytes: Int) throws {
        let script = """
            import http.server
            class Handler(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(200); self.end_headers()
                    try:
                        for _ in range(\(megabytes) * 16): self.wfile.write(bytes(65536))
                    except OSError: pass
                def log_message(self, *args): pass
            server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
            print(f"Serving HTTP on 127.0.0.1 port {server.server_port}", flush=True)
            server.serve_forever()
            """
        try self.init(arguments: ["-c", script])
    }

    private init(arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // "Serving HTTP on 127.0.0.1 port 43117 (http://127.0.0.1:43117/) ..."
        var text = ""
        let deadline = Date().addingTimeInterval(20)
        while !text.contains("\n") && Date() < deadline {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        guard let range = text.range(of: #"port (\d+)"#, options: .regularExpression),
            let port = Int(text[range].dropFirst(5))
        else {
            kill(process.processIdentifier, SIGKILL)
            throw DatasetFetchError.transport(url: "127.0.0.1", problem: "the test HTTP server did not start: \(text)")
        }
        baseURL = URL(string: "http://127.0.0.1:\(port)/")!
    }

    /// Stops the server with SIGKILL: processes started from the test runner may inherit an
    /// ignored SIGTERM.
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Collects progress reports from the fetcher's callback (called on its delegate queue).
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var reports = [FetchProgress]()

    func record(_ report: FetchProgress) { lock.withLock { reports.append(report) } }
    var all: [FetchProgress] { lock.withLock { reports } }
}

@Suite("Dataset fetcher against a local server")
struct FetchLocalServerTests {
    static let miniMNIST: [RemoteFile] = [
        RemoteFile(
            fileName: "train-images-idx3-ubyte.gz",
            sha256: "750662c1088380a463030e0667f3f588c04b64ce0b94db052d91efbf11281c49",
            uncompressedSHA256: "729d340c0177402770b27c04f817dfb40ed8844459b35a9f11ae21067b05cf19", byteCount: 319_616),
        RemoteFile(
            fileName: "train-labels-idx1-ubyte.gz",
            sha256: "7f4b553342b6b128aa996290b81805c7b344e662af569cd8aeaded8e599a38c8", byteCount: 1023),
        RemoteFile(
            fileName: "t10k-images-idx3-ubyte.gz",
            uncompressedSHA256: "de7c252b04f05e1f8309634180ccdf286dc6dbac8c579b74e76e02ae0331ca52"),
        RemoteFile(
            fileName: "t10k-labels-idx1-ubyte.gz",
            sha256: "59f1210430c03405bf13b88e2855be7b6adbf45b16966f8f6bf11013873bf815"),
    ]

    /// Runs `body` with a local server serving a copy of the mini MNIST files and an empty
    /// data root; cleans both up afterwards.
    static func withServedMiniMNIST(
        _ body: (_ server: LocalHTTPServer, _ served: TemporaryFolder, _ root: TemporaryFolder) async throws -> Void
    ) async throws {
        let served = try TemporaryFolder()
        let root = try TemporaryFolder()
        defer {
            served.remove()
            root.remove()
        }
        for file in miniMNIST {
            try FileManager.default.copyItem(
                at: RepositoryFiles.mini.appendingPathComponent("mnist/\(file.fileName)"),
                to: served.file(file.fileName))
        }
        let server = try LocalHTTPServer(serving: served.url)
        defer { server.stop() }
        try await body(server, served, root)
    }

    @Test func downloadsVerifiesAndSkipsWhatIsThere() async throws {
        try await Self.withServedMiniMNIST { server, served, root in
            let dataset = RemoteDataset(
                name: "mnist", baseURL: URL(string: "https://unused.invalid/")!, files: Self.miniMNIST)
            let log = ProgressLog()
            let report = try await DatasetFetcher().fetch(
                dataset, into: root.url, baseURL: server.baseURL, progress: { log.record($0) })
            #expect(report.downloaded.count == 4 && report.skipped.isEmpty)
            for file in Self.miniMNIST {
                let fetched = try TestBytes.read(root.file("mnist/\(file.fileName)"))
                #expect(fetched == (try TestBytes.read(served.file(file.fileName))), "\(file.fileName)")
            }
            let last = log.all.last { $0.fileName == "train-images-idx3-ubyte.gz" }
            #expect(last?.completedBytes == 319_616 && last?.totalBytes == 319_616)
            // Nothing but the four files is left in the folder.
            let names = try FileManager.default.contentsOfDirectory(atPath: root.file("mnist").path).sorted()
            #expect(names == Self.miniMNIST.map(\.fileName).sorted())
            // The fetched folder reads like the shipped one.
            let (train, _) = try DatasetCatalog.loadImages("mnist", root: root.url)
            #expect(train.count == 2000)

            let again = try await DatasetFetcher().fetch(dataset, into: root.url, baseURL: server.baseURL)
            #expect(again.skipped.count == 4 && again.downloaded.isEmpty)
        }
    }

    /// A server that sends more than the catalogue's size is stopped at once (its
    /// Content-Length already says so; without one, as soon as the bytes pass the size), and
    /// nothing is left behind.
    @Test func aDownloadLargerThanExpectedStops() async throws {
        try await Self.withServedMiniMNIST { server, _, root in
            let dataset = RemoteDataset(
                name: "mnist", baseURL: server.baseURL,
                files: [RemoteFile(fileName: "train-images-idx3-ubyte.gz", sha256: Self.miniMNIST[0].sha256, byteCount: 1000)])
            let url = server.baseURL.appendingPathComponent("train-images-idx3-ubyte.gz").absoluteString
            await #expect(throws: DatasetFetchError.sizeMismatch(url: url, expected: 1000, actual: 319_616)) {
                _ = try await DatasetFetcher().fetch(dataset, into: root.url)
            }
            let left = try FileManager.default.contentsOfDirectory(atPath: root.file("mnist").path)
            #expect(left.isEmpty)
        }
        // Without a Content-Length: stopped within the first pieces, not after 256 MB.
        let server = try LocalHTTPServer(sendingWithoutLength: 256)
        defer { server.stop() }
        let root = try TemporaryFolder()
        defer { root.remove() }
        let dataset = RemoteDataset(
            name: "mnist", baseURL: server.baseURL,
            files: [RemoteFile(fileName: "train-images-idx3-ubyte.gz", sha256: Self.miniMNIST[0].sha256, byteCount: 1000)])
        do {
            _ = try await DatasetFetcher().fetch(dataset, into: root.url)
            Issue.record("a 256 MB answer was accepted for a 1,000-byte file")
        } catch DatasetFetchError.sizeMismatch(_, let expected, let actual) {
            #expect(expected == 1000 && actual > 1000 && actual <= 1 << 20, "stopped after \(actual) bytes")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: root.file("mnist").path)
        #expect(left.isEmpty)
    }

    @Test func wrongHashThrowsAndLeavesNothingBehind() async throws {
        try await Self.withServedMiniMNIST { server, _, root in
            let wrong = String(repeating: "0", count: 64)
            let dataset = RemoteDataset(
                name: "mnist", baseURL: server.baseURL,
                files: [RemoteFile(fileName: "t10k-labels-idx1-ubyte.gz", sha256: wrong)])
            let url = server.baseURL.appendingPathComponent("t10k-labels-idx1-ubyte.gz").absoluteString
            await #expect(
                throws: DatasetFetchError.hashMismatch(
                    url: url, what: "the downloaded file", expected: wrong,
                    actual: "59f1210430c03405bf13b88e2855be7b6adbf45b16966f8f6bf11013873bf815")
            ) {
                _ = try await DatasetFetcher().fetch(dataset, into: root.url)
            }
            let afterWrongHash = try FileManager.default.contentsOfDirectory(atPath: root.file("mnist").path)
            #expect(afterWrongHash.isEmpty)

            let wrongContent = RemoteDataset(
                name: "mnist", baseURL: server.baseURL,
                files: [RemoteFile(fileName: "t10k-labels-idx1-ubyte.gz", uncompressedSHA256: wrong)])
            await #expect(throws: DatasetFetchError.self) {
                _ = try await DatasetFetcher().fetch(wrongContent, into: root.url)
            }
            let afterWrongContent = try FileManager.default.contentsOfDirectory(atPath: root.file("mnist").path)
            #expect(afterWrongContent.isEmpty)

            let missing = RemoteDataset(
                name: "mnist", baseURL: server.baseURL, files: [RemoteFile(fileName: "nothing-here.gz", sha256: wrong)])
            await #expect(
                throws: DatasetFetchError.httpStatus(
                    url: server.baseURL.appendingPathComponent("nothing-here.gz").absoluteString, status: 404)
            ) {
                _ = try await DatasetFetcher().fetch(missing, into: root.url)
            }
            let afterMissingFile = try FileManager.default.contentsOfDirectory(atPath: root.file("mnist").path)
            #expect(afterMissingFile.isEmpty)
        }
    }

    @Test func tarArchivesAreUnpackedForTheCatalogue() async throws {
        let served = try TemporaryFolder()
        let root = try TemporaryFolder()
        // A cifar-10-binary.tar.gz built from the mini CIFAR-10 batches, as the official one is laid out.
        let staging = served.url.appendingPathComponent("cifar-10-batches-bin")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        for name in ["data_batch_1.bin", "test_batch.bin"] {
            let bytes = try TestBytes.readDecompressingGzip(
                RepositoryFiles.mini.appendingPathComponent("cifar-10/\(name).gz"))
            try Data(bytes).write(to: staging.appendingPathComponent(name))
        }
        try FileManager.default.copyItem(
            at: RepositoryFiles.mini.appendingPathComponent("cifar-10/batches.meta.txt"),
            to: staging.appendingPathComponent("batches.meta.txt"))
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = [
            "tar", "-czf", served.file("cifar-10-binary.tar.gz").path, "-C", served.url.path, "cifar-10-batches-bin",
        ]
        try tar.run()
        tar.waitUntilExit()
        #expect(tar.terminationStatus == 0)
        let archiveHash = try SHA256.hexDigest(ofFileAt: served.file("cifar-10-binary.tar.gz"))
        let server = try LocalHTTPServer(serving: served.url)
        defer {
            server.stop()
            served.remove()
            root.remove()
        }
        let dataset = RemoteDataset(
            name: "cifar-10", baseURL: server.baseURL,
            files: [RemoteFile(fileName: "cifar-10-binary.tar.gz", sha256: archiveHash)],
            extraction: .init(
                archiveName: "cifar-10-binary.tar.gz", memberPrefix: "cifar-10-batches-bin/",
                expectedFiles: ["data_batch_1.bin", "test_batch.bin", "batches.meta.txt"]))
        let report = try await DatasetFetcher().fetch(dataset, into: root.url)
        #expect(
            report.extracted.map(\.lastPathComponent).sorted() == [
                "batches.meta.txt", "data_batch_1.bin", "test_batch.bin",
            ])
        let (train, test) = try DatasetCatalog.loadImages("cifar-10", root: root.url)
        let (shippedTrain, shippedTest) = try DatasetCatalog.loadImages("cifar-10", root: RepositoryFiles.mini)
        #expect(train == shippedTrain && test == shippedTest)
        let again = try await DatasetFetcher().fetch(dataset, into: root.url)
        #expect(again.skipped.count == 1 && again.extracted.isEmpty)
    }

    @Test func officialCatalogueCoversTheImageSets() throws {
        #expect(RemoteDataset.official.map(\.name) == ["mnist", "fashion-mnist", "cifar-10", "cifar-100", "svhn"])
        for dataset in RemoteDataset.official {
            #expect(try DatasetCatalog.description(of: dataset.name).isFetchable)
            for file in dataset.files {
                #expect(file.sha256?.count ?? 64 == 64 && file.uncompressedSHA256?.count ?? 64 == 64)
            }
        }
        #expect(
            errorMessage { _ = try DatasetFetcher.remoteDataset(named: "thyroid") }
                == "'thyroid' cannot be downloaded; data sets that can: mnist, fashion-mnist, cifar-10, cifar-100, svhn"
        )
    }
}
