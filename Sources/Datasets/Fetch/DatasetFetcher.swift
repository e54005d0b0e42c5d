import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Progress of one file's download, for a progress bar.
public struct FetchProgress: Sendable, Equatable {
    public var fileName: String
    public var completedBytes: Int64
    /// Total size when the server or the catalogue says it; nil when unknown.
    public var totalBytes: Int64?
}

/// What a fetch did.
public struct FetchReport: Sendable, Equatable {
    /// Files downloaded and verified.
    public var downloaded: [URL] = []
    /// Files already present with the right hash.
    public var skipped: [URL] = []
    /// Files unpacked from an archive.
    public var extracted: [URL] = []
}

/// Downloads data sets into the data root (`root/<name>/`): each file goes to a temporary file
/// in that folder while being hashed, is checked against its SHA-256, then renamed into place
/// atomically. A mismatch deletes the temporary file and throws; a file already present with
/// the right hash is not downloaded again.
public struct DatasetFetcher: Sendable {
    /// Seconds without data before a download gives up.
    public var timeout: TimeInterval

    public init(timeout: TimeInterval = 60) {
        self.timeout = timeout
    }

    /// The official download of data set `name` (`mnist`, `fashion-mnist`, `cifar-10`,
    /// `cifar-100`, `svhn`).
    public static func remoteDataset(named name: String) throws -> RemoteDataset {
        guard let found = RemoteDataset.official.first(where: { $0.name == name }) else {
            if DatasetCatalog.knownNames.contains(name) {
                throw DatasetFetchError.notFetchable(name: name, fetchableNames: RemoteDataset.official.map(\.name))
            }
            throw DatasetError.unknownDataset(name: name, knownNames: DatasetCatalog.knownNames)
        }
        return found
    }

    /// Fetches the official files of data set `name` into `root/<name>/`.
    /// - Parameter baseURL: a different server folder holding the same files (a mirror, or a
    ///   local server in tests); nil for the official one.
    public func fetch(
        _ name: String, into root: URL, baseURL: URL? = nil,
        progress: (@Sendable (FetchProgress) -> Void)? = nil
    ) async throws -> FetchReport {
        try await fetch(Self.remoteDataset(named: name), into: root, baseURL: baseURL, progress: progress)
    }

    /// Fetches `dataset`'s files into `root/<dataset.name>/`, then unpacks its archive if it has one.
    public func fetch(
        _ dataset: RemoteDataset, into root: URL, baseURL: URL? = nil,
        progress: (@Sendable (FetchProgress) -> Void)? = nil
    ) async throws -> FetchReport {
        let folder = root.appendingPathComponent(dataset.name, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw DatasetFetchError.fileSystem(
                path: folder.path, problem: "cannot create the folder: \(error.localizedDescription)")
        }
        var report = FetchReport()
        let base = baseURL ?? dataset.baseURL
        for file in dataset.files {
            let destination = folder.appendingPathComponent(file.fileName)
            let url = base.appendingPathComponent(file.fileName)
            if FileManager.default.fileExists(atPath: destination.path),
                (try? verify(file, at: destination, url: url.absoluteString)) != nil
            {
                report.skipped.append(destination)
                continue
            }
            try await download(file, from: url, to: destination, progress: progress)
            report.downloaded.append(destination)
        }
        if let extraction = dataset.extraction {
            let missing = extraction.expectedFiles.filter {
                !FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path)
            }
            if !missing.isEmpty {
                let archive = folder.appendingPathComponent(extraction.archiveName)
                let extractor = TarExtractor(
                    destination: folder, memberPrefix: extraction.memberPrefix, archivePath: archive.path)
                try GzipDecoder.decompressFile(at: archive) { try extractor.consume($0) }
                try extractor.finish()
                report.extracted = extractor.extracted
                let stillMissing = extraction.expectedFiles.filter {
                    !FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path)
                }
                if !stillMissing.isEmpty {
                    throw DatasetError.corrupt(
                        path: archive.path,
                        problem:
                            "the archive has no \(stillMissing.map { extraction.memberPrefix + $0 }.joined(separator: ", "))"
                    )
                }
            }
        }
        return report
    }

    /// Checks `file`'s size and hashes at `location`; throws `DatasetFetchError` naming `url`.
    func verify(_ file: RemoteFile, at location: URL, url: String, downloadDigest: String? = nil) throws {
        if let byteCount = file.byteCount {
            let size =
                (try? FileManager.default.attributesOfItem(atPath: location.path)[.size] as? NSNumber)??.int64Value
                ?? -1
            guard size == byteCount else {
                throw DatasetFetchError.sizeMismatch(url: url, expected: byteCount, actual: size)
            }
        }
        if let expected = file.sha256 {
            let actual = try downloadDigest ?? SHA256.hexDigest(ofFileAt: location)
            guard actual == expected.lowercased() else {
                throw DatasetFetchError.hashMismatch(
                    url: url, what: "the downloaded file", expected: expected, actual: actual)
            }
        }
        if let expected = file.uncompressedSHA256 {
            var hasher = SHA256()
            try GzipDecoder.decompressFile(at: location) { hasher.update($0) }
            let actual = hasher.hexDigest()
            guard actual == expected.lowercased() else {
                throw DatasetFetchError.hashMismatch(
                    url: url, what: "the decompressed content", expected: expected, actual: actual)
            }
        }
    }

    private func download(
        _ file: RemoteFile, from url: URL, to destination: URL, progress: (@Sendable (FetchProgress) -> Void)?
    ) async throws {
        let temporary = destination.deletingLastPathComponent()
            .appendingPathComponent(".\(file.fileName).download-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
            let handle = FileHandle(forWritingAtPath: temporary.path)
        else {
            throw DatasetFetchError.fileSystem(path: temporary.path, problem: "cannot create the temporary file")
        }
        let delegate = DownloadDelegate(
            url: url, fileName: file.fileName, output: handle, expectedBytes: file.byteCount, progress: progress)
        do {
            let digest = try await delegate.run(timeout: timeout)
            try verify(file, at: temporary, url: url.absoluteString, downloadDigest: digest)
            try FileReplacement.moveAtomically(from: temporary, to: destination)
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }
}

/// Receives one download's bytes: writes them to the temporary file and hashes them as they
/// arrive. All callbacks run on one serial queue.
private final class DownloadDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let url: URL
    private let fileName: String
    private let output: FileHandle
    private let progress: (@Sendable (FetchProgress) -> Void)?
    private var hasher = SHA256()
    private var received: Int64 = 0
    /// The size the catalogue promises: the download stops as soon as the server sends more.
    private let expectedBytes: Int64?
    private var total: Int64?
    private var failure: Error?
    private var continuation: CheckedContinuation<String, Error>?
    private let queue: OperationQueue

    init(
        url: URL, fileName: String, output: FileHandle, expectedBytes: Int64?,
        progress: (@Sendable (FetchProgress) -> Void)?
    ) {
        self.url = url
        self.fileName = fileName
        self.output = output
        self.expectedBytes = expectedBytes
        self.total = expectedBytes
        self.progress = progress
        queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
    }

    /// Runs the download; returns the SHA-256 of the bytes received.
    func run(timeout: TimeInterval) async throws -> String {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        let session = URLSession(configuration: configuration, delegate: self, delegateQueue: queue)
        defer { session.finishTasksAndInvalidate() }
        return try await withCheckedThrowingContinuation { continuation in
            queue.addOperation {
                self.continuation = continuation
                session.dataTask(with: self.url).resume()
            }
        }
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            failure = DatasetFetchError.httpStatus(url: url.absoluteString, status: http.statusCode)
            completionHandler(.cancel)
            return
        }
        if let expectedBytes, response.expectedContentLength > 0, response.expectedContentLength != expectedBytes {
            failure = DatasetFetchError.sizeMismatch(
                url: url.absoluteString, expected: expectedBytes, actual: response.expectedContentLength)
            completionHandler(.cancel)
            return
        }
        if expectedBytes == nil, response.expectedContentLength > 0 { total = response.expectedContentLength }
        progress?(FetchProgress(fileName: fileName, completedBytes: 0, totalBytes: total))
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard failure == nil else { return }
        if let expectedBytes, received + Int64(data.count) > expectedBytes {
            // More than promised: stop now rather than fill the disk (the size check after the
            // download would only come at the end).
            failure = DatasetFetchError.sizeMismatch(
                url: url.absoluteString, expected: expectedBytes, actual: received + Int64(data.count))
            dataTask.cancel()
            return
        }
        do {
            try output.write(contentsOf: data)
        } catch {
            failure = DatasetFetchError.fileSystem(path: fileName, problem: "cannot write the download: \(error)")
            dataTask.cancel()
            return
        }
        hasher.update(data)
        received += Int64(data.count)
        progress?(FetchProgress(fileName: fileName, completedBytes: received, totalBytes: total))
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        var outcome: Result<String, Error>
        if let failure {
            outcome = .failure(failure)
        } else if let error {
            outcome = .failure(
                DatasetFetchError.transport(url: url.absoluteString, problem: error.localizedDescription))
        } else {
            do {
                try output.synchronize()
                try output.close()
                outcome = .success(hasher.hexDigest())
            } catch {
                outcome = .failure(
                    DatasetFetchError.fileSystem(path: fileName, problem: "cannot finish the download: \(error)"))
            }
        }
        continuation?.resume(with: outcome)
        continuation = nil
    }
}

/// Atomic replacement of a file by another in the same folder (POSIX `rename`).
enum FileReplacement {
    static func moveAtomically(from source: URL, to destination: URL) throws {
        if rename(source.path, destination.path) != 0 {
            let problem = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: source)
            throw DatasetFetchError.fileSystem(
                path: destination.path, problem: "cannot move the new file into place: \(problem)")
        }
    }
}
