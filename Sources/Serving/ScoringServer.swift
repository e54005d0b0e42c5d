import Datasets
import Detectors
import Experiments
import Foundation
import Hummingbird
import Logging
import NIOCore

/// `anomaly serve`: a run folder's model behind HTTP.
///
/// - `POST /score`: a CSV table (header; a 0/1 `label` column is optional and ignored), an
///   `.npy` array, an IDX image file or one PNG image as the body; the format is taken from
///   `Content-Type` (`text/csv`, `application/x-npy`, `application/x-idx`, `image/png`) or, for
///   any other type, from the body's first bytes. Answers
///   `{"count":N,"scores":[…],"labels":[0|1,…],"threshold":t,"threshold_source":"…"}`, where a
///   label is 1 when the score is at or above the run's threshold (`RunThresholds`).
/// - `GET /health`: `{"status":"ok",…}` with the method and the model's sample shape.
/// - `GET /metrics`: Prometheus text format: requests by path and status, a latency
///   histogram, requests in flight, scored samples, rejected requests, resident memory.
///
/// Limits: a body over `maxBodyBytes` gets 413 (refused from `Content-Length` before it is
/// read, or when the streamed body passes the limit); at most `maxConcurrentScoring` requests
/// score at once (each already uses every core through the engine's threads), and at most
/// `maxQueuedRequests` more are admitted to read their bodies and wait for their turn — beyond
/// that a request gets 503 before its body is read, so the bodies held never exceed
/// (`maxConcurrentScoring` + `maxQueuedRequests`) × `maxBodyBytes` under any load. A malformed
/// body gets 400 with one line saying why.
/// Every error answer is `{"error":"…"}` on one line.
public enum ScoringServer {
    public struct Options: Sendable {
        public var host: String
        public var port: Int
        public var maxBodyBytes: Int
        public var maxConcurrentScoring: Int
        public var maxQueuedRequests: Int
        public var threshold: RunThresholds.Choice

        public init(
            host: String = "127.0.0.1", port: Int = 8080, maxBodyBytes: Int = 16 << 20, maxConcurrentScoring: Int = 1,
            maxQueuedRequests: Int = 63, threshold: RunThresholds.Choice = .standard
        ) {
            self.host = host
            self.port = port
            self.maxBodyBytes = maxBodyBytes
            self.maxConcurrentScoring = maxConcurrentScoring
            self.maxQueuedRequests = maxQueuedRequests
            self.threshold = threshold
        }
    }

    /// The HTTP application for the run folder `runFolder`: the model is loaded (and the
    /// threshold resolved) before it returns, so a bad folder fails here, not on the first
    /// request. `onListening` receives the bound port (useful with port 0).
    public static func makeApplication(
        runFolder: URL, dataRoot: URL, options: Options, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let model = try ServedModel(runFolder: runFolder, dataRoot: dataRoot, threshold: options.threshold, logger: logger)
        logger.notice(
            "\(model.health.method) model of \(runFolder.path): samples of shape \(model.health.sampleShape), threshold \(model.threshold) (\(model.thresholdSource)); at most \(options.maxBodyBytes) bytes a body, \(options.maxConcurrentScoring) scoring at once, \(options.maxQueuedRequests) waiting")
        let metrics = ServerMetrics()
        let gate = ScoringGate(limit: options.maxConcurrentScoring, queueLimit: options.maxQueuedRequests)
        let router = Router()
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.get("/health") { _, _ in
            try jsonResponse(.ok, model.health)
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        router.post("/score") { request, _ in
            try await score(request, model: model, gate: gate, metrics: metrics, maxBodyBytes: options.maxBodyBytes)
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "anomaly"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? options.port) },
            logger: logger)
    }

    private static func score(
        _ request: Request, model: ServedModel, gate: ScoringGate, metrics: ServerMetrics, maxBodyBytes: Int
    ) async throws -> Response {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > maxBodyBytes {
            return try errorResponse(.contentTooLarge, "body of \(declared) bytes is over the limit of \(maxBodyBytes) bytes")
        }
        // Admitted before the body is read: at most limit + queue bodies are ever held.
        guard gate.admit() else {
            metrics.rejected()
            return try errorResponse(.serviceUnavailable, "scoring queue is full; retry later")
        }
        defer { gate.dismiss() }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            return try errorResponse(.contentTooLarge, "body is over the limit of \(maxBodyBytes) bytes")
        }
        guard body.readableBytes > 0 else { return try errorResponse(.badRequest, "empty body; send CSV, NPY, IDX or PNG bytes") }
        let format = request.headers[.contentType].flatMap(ScoringInput.Format.init(contentType:))
        await gate.enter()
        defer { gate.leave() }
        let bytes = Array(body.readableBytesView)
        do {
            let result = try await model.score(bytes, format: format)
            metrics.scored(result.count)
            return try jsonResponse(.ok, result)
        } catch {
            return try errorResponse(.badRequest, oneLine(error))
        }
    }

    /// An error as one line (for error answers and the tool's error line).
    public static func oneLine(_ error: any Error) -> String {
        String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    static func jsonResponse<T: Encodable>(_ status: HTTPResponse.Status, _ value: T) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase  // thresholdSource → threshold_source
        var data = try encoder.encode(value)
        data.append(UInt8(ascii: "\n"))
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func errorResponse(_ status: HTTPResponse.Status, _ message: String) throws -> Response {
        try jsonResponse(status, ["error": message])
    }
}

extension ScoringInput.Format {
    /// The format a request's `Content-Type` names, nil for any other type (then the body's
    /// first bytes decide).
    init?(contentType: String) {
        let type = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch type {
        case "text/csv", "application/csv": self = .csv
        case "application/x-npy", "application/npy": self = .npy
        case "application/x-idx": self = .idx
        case "image/png": self = .png
        default: return nil
        }
    }
}

/// The run's model and threshold, loaded once. Scoring runs on a Dispatch thread (never on
/// the server's event loops or Swift's cooperative pool); `ScoringGate` bounds how many at once.
final class ServedModel: @unchecked Sendable {
    struct Scored: Encodable {
        let count: Int
        let scores: [Float]
        let labels: [Int]
        let threshold: Double
        let thresholdSource: String
    }

    struct Health: Encodable, Sendable {
        let status: String
        let method: String
        let run: String
        let sampleShape: [Int]
        let threshold: Double
        let thresholdSource: String
    }

    private let replay: RunReplay
    let threshold: Double
    let thresholdSource: String
    let health: Health

    init(runFolder: URL, dataRoot: URL, threshold choice: RunThresholds.Choice, logger: Logger) throws {
        replay = try RunReplay(directory: runFolder, dataRoot: dataRoot, logger: logger)
        (threshold, thresholdSource) = try RunThresholds.resolve(choice, runFolder: runFolder)
        health = Health(
            status: "ok", method: replay.configuration.method, run: runFolder.lastPathComponent,
            sampleShape: replay.sampleShape, threshold: threshold, thresholdSource: thresholdSource)
    }

    func score(_ bytes: [UInt8], format: ScoringInput.Format?) async throws -> Scored {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try self.scoreNow(bytes, format: format) })
            }
        }
    }

    private func scoreNow(_ bytes: [UInt8], format: ScoringInput.Format?) throws -> Scored {
        let input = try ScoringInput.parse(bytes, format: format, name: "the request body", sampleShape: replay.sampleShape)
        let scores = try replay.score(input.samples)
        let labels = scores.map { Double($0) >= threshold ? 1 : 0 }
        return Scored(count: scores.count, scores: scores, labels: labels, threshold: threshold, thresholdSource: thresholdSource)
    }
}

/// At most `limit + queueLimit` score requests admitted (`admit` answers false beyond, and the
/// request gets 503 before its body is read), of which at most `limit` score at once; the
/// others wait for their turn, first come, first served.
public final class ScoringGate: @unchecked Sendable {
    private let lock = NSLock()
    private let limit: Int
    private let queueLimit: Int
    private var admitted = 0
    private var holders = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(limit: Int, queueLimit: Int) {
        precondition(limit >= 1 && queueLimit >= 0, "ScoringGate: limit ≥ 1 and queueLimit ≥ 0")
        self.limit = limit
        self.queueLimit = queueLimit
    }

    /// Counts a request in, or answers false when `limit + queueLimit` are already in.
    public func admit() -> Bool {
        lock.withLock {
            guard admitted < limit + queueLimit else { return false }
            admitted += 1
            return true
        }
    }

    /// Counts an admitted request out (after `leave`, if it entered).
    public func dismiss() {
        lock.withLock { admitted -= 1 }
    }

    /// Waits for one of the `limit` scoring places (admitted requests only, so the wait list
    /// never exceeds `limit + queueLimit`).
    public func enter() async {
        await withCheckedContinuation { continuation in
            lock.lock()
            if holders < limit {
                holders += 1
                lock.unlock()
                continuation.resume()
            } else {
                waiting.append(continuation)
                lock.unlock()
            }
        }
    }

    /// Hands the place to the longest-waiting request, or frees it.
    public func leave() {
        lock.lock()
        if waiting.isEmpty {
            holders -= 1
            lock.unlock()
        } else {
            let next = waiting.removeFirst()
            lock.unlock()
            next.resume()
        }
    }
}
