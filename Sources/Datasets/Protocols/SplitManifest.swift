import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The program that wrote a manifest.
public struct ToolInfo: Codable, Sendable, Equatable {
    public var name: String
    public var version: String
    /// The matrix-product kernels the run used (e.g. "OpenBLAS (libopenblas.so.0, Haswell
    /// kernels)"). Kernels round sums in their own order, so the same seed trains the same
    /// network only with the same kernels (README, Reproducibility); nil in manifests written
    /// before it was recorded.
    public var gemm: String?
    /// The worker threads the kernels split their work over (`ANOMALYKIT_THREADS`, else the
    /// cores): a split changes where sums are rounded, so it belongs to the kernels as much as
    /// `gemm` does; nil in manifests written before it was recorded.
    public var threads: Int?

    public init(name: String, version: String, gemm: String? = nil, threads: Int? = nil) {
        self.name = name
        self.version = version
        self.gemm = gemm
        self.threads = threads
    }
}

/// A record of exactly which samples a run used: data set, input files with their SHA-256,
/// the protocol with all its parameters, the seed, the index sets of every role, the tool and
/// the creation time. JSON with sorted keys, pretty printed, so that the same split always
/// gives the same bytes (for the same `createdAt`) and two manifests diff cleanly.
public struct SplitManifest: Codable, Sendable, Equatable {
    /// The manifest layout this code writes; `read` refuses newer ones.
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    public var dataset: String
    /// Input files (paths as the caller names them, e.g. relative to the data root) → lowercase
    /// hexadecimal SHA-256 of their bytes.
    public var files: [String: String]
    public var experimentProtocol: ExperimentProtocol
    public var seed: UInt64
    public var split: Split
    public var tool: ToolInfo
    /// Creation time, whole seconds (ISO 8601 in the file).
    public var createdAt: Date

    /// - Parameter createdAt: defaults to now; inject a fixed date for reproducible files.
    ///   Sub-second parts are dropped, as ISO 8601 in the file keeps whole seconds.
    public init(
        dataset: String, files: [String: String], experimentProtocol: ExperimentProtocol, seed: UInt64,
        split: Split, tool: ToolInfo, createdAt: Date = Date()
    ) throws {
        var normalized: [String: String] = [:]
        for (path, hash) in files {
            let lower = hash.lowercased()
            guard Self.isSHA256(lower) else { throw SplitManifestError.invalidHash(file: path, value: hash) }
            normalized[path] = lower
        }
        self.formatVersion = Self.currentFormatVersion
        self.dataset = dataset
        self.files = normalized
        self.experimentProtocol = experimentProtocol
        self.seed = seed
        self.split = split
        self.tool = tool
        self.createdAt = Date(timeIntervalSince1970: createdAt.timeIntervalSince1970.rounded(.down))
    }

    /// Builds the split with `experimentProtocol.makeSplit` and records it.
    public static func make(
        dataset: String, files: [String: String], experimentProtocol: ExperimentProtocol, seed: UInt64,
        trainLabels: [Int], testLabels: [Int] = [], anomalyTestCounts: [String: Int] = [:],
        tool: ToolInfo, createdAt: Date = Date()
    ) throws -> SplitManifest {
        let split = try experimentProtocol.makeSplit(
            trainLabels: trainLabels, testLabels: testLabels, anomalyTestCounts: anomalyTestCounts, seed: seed)
        return try SplitManifest(
            dataset: dataset, files: files, experimentProtocol: experimentProtocol, seed: seed, split: split,
            tool: tool, createdAt: createdAt)
    }

    /// The recorded files whose current hash (`currentHashes`, path → SHA-256) differs or is
    /// missing, sorted: empty when the inputs are unchanged.
    public func mismatchedFiles(currentHashes: [String: String]) -> [String] {
        files.keys.filter { currentHashes[$0]?.lowercased() != files[$0] }.sorted()
    }

    // MARK: JSON

    private enum CodingKeys: String, CodingKey {
        case formatVersion, dataset, files
        case experimentProtocol = "protocol"
        case seed, split, tool, createdAt, summary
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        guard formatVersion <= Self.currentFormatVersion else {
            throw DecodingError.dataCorruptedError(
                forKey: .formatVersion, in: c,
                debugDescription:
                    "format version \(formatVersion) is newer than this tool's \(Self.currentFormatVersion)")
        }
        dataset = try c.decode(String.self, forKey: .dataset)
        files = try c.decode([String: String].self, forKey: .files)
        experimentProtocol = try c.decode(ExperimentProtocol.self, forKey: .experimentProtocol)
        seed = try c.decode(UInt64.self, forKey: .seed)
        split = try c.decode(Split.self, forKey: .split)
        tool = try c.decode(ToolInfo.self, forKey: .tool)
        createdAt = try c.decode(Date.self, forKey: .createdAt)
        if let bad = files.first(where: { !Self.isSHA256($0.value) }) {
            throw DecodingError.dataCorruptedError(
                forKey: .files, in: c, debugDescription: "'\(bad.value)' for \(bad.key) is not a lowercase hex SHA-256")
        }
        let problems = split.inconsistencies()
        guard problems.isEmpty else {
            throw DecodingError.dataCorruptedError(
                forKey: .split, in: c, debugDescription: problems.joined(separator: "; "))
        }
        if let summary = try c.decodeIfPresent([String: Int].self, forKey: .summary), summary != split.roleCounts {
            throw DecodingError.dataCorruptedError(
                forKey: .summary, in: c,
                debugDescription: "the counts \(summary) do not match the index lists \(split.roleCounts)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(dataset, forKey: .dataset)
        try c.encode(files, forKey: .files)
        try c.encode(experimentProtocol, forKey: .experimentProtocol)
        try c.encode(seed, forKey: .seed)
        try c.encode(split, forKey: .split)
        try c.encode(tool, forKey: .tool)
        try c.encode(createdAt, forKey: .createdAt)
        // For people reading the file; checked against the index lists on reading.
        try c.encode(split.roleCounts, forKey: .summary)
    }

    /// The manifest as JSON: sorted keys, pretty printed, ISO 8601 date.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }

    /// Parses manifest JSON; `path` names the source in error messages.
    public static func decode(_ data: Data, path: String = "(manifest data)") throws -> SplitManifest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(SplitManifest.self, from: data)
        } catch let error as DecodingError {
            throw SplitManifestError.corrupt(path: path, problem: describe(error))
        } catch {
            throw SplitManifestError.corrupt(path: path, problem: "\(error)")
        }
    }

    /// Writes the manifest atomically: a temporary file in the same folder, then a rename over
    /// `url`, so a reader sees the old file or the new one, never half of one.
    public func write(to url: URL) throws {
        let data = try jsonData()
        let folder = url.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try data.write(to: temporary)
            // Flush to disk before the rename, so a crash cannot leave a renamed but empty file.
            let handle = try FileHandle(forWritingTo: temporary)
            try handle.synchronize()
            try handle.close()
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw SplitManifestError.writeFailed(path: url.path, reason: "\(error.localizedDescription)")
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw SplitManifestError.writeFailed(path: url.path, reason: reason)
        }
    }

    /// Reads and checks a manifest written by `write(to:)`.
    public static func read(from url: URL) throws -> SplitManifest {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw SplitManifestError.unreadable(path: url.path, reason: "\(error.localizedDescription)")
        }
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            throw SplitManifestError.corrupt(path: url.path, problem: "the file is empty (the run's split is lost; train again)")
        }
        return try decode(data, path: url.path)
    }

    static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "top level" : keys.joined(separator: ".")
        }
        switch error {
        case .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            return "\(path(context)): missing key '\(key.stringValue)'"
        case .typeMismatch(let type, let context):
            return "\(path(context)): expected \(type): \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "\(path(context)): expected \(type) but found null"
        @unknown default:
            return "\(error)"
        }
    }
}

/// Errors of reading or writing a `SplitManifest`; each names the file.
public enum SplitManifestError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidHash(file: String, value: String)
    case unreadable(path: String, reason: String)
    case corrupt(path: String, problem: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidHash(let file, let value):
            return "\(file): '\(value)' is not a SHA-256 (64 hexadecimal digits)"
        case .unreadable(let path, let reason): return "\(path): cannot read split manifest: \(reason)"
        case .corrupt(let path, let problem): return "\(path): corrupt split manifest: \(problem)"
        case .writeFailed(let path, let reason): return "\(path): cannot write split manifest: \(reason)"
        }
    }
}
