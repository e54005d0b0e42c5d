import Foundation
import Hummingbird

/// The server's counters, written as Prometheus' text exposition format (version 0.0.4).
final class ServerMetrics: @unchecked Sendable {
    /// Upper bounds of the latency histogram's buckets, in seconds.
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Paths counted by name; any other is counted as "other" (bounded label values).
    static let knownPaths: Set<String> = ["/score", "/health", "/metrics"]

    private let lock = NSLock()
    private var requests: [String: Int] = [:]  // "path status" → count
    private var bucketCounts = [Int](repeating: 0, count: latencyBuckets.count)
    private var latencySum = 0.0
    private var latencyCount = 0
    private var inFlight = 0
    private var scoredSamples = 0
    private var rejectedRequests = 0

    func began() {
        lock.withLock { inFlight += 1 }
    }

    func ended(path: String, status: Int, seconds: Double) {
        let label = Self.knownPaths.contains(path) ? path : "other"
        lock.withLock {
            inFlight -= 1
            requests["\(label) \(status)", default: 0] += 1
            for (index, bound) in Self.latencyBuckets.enumerated() where seconds <= bound { bucketCounts[index] += 1 }
            latencySum += seconds
            latencyCount += 1
        }
    }

    func scored(_ count: Int) {
        lock.withLock { scoredSamples += count }
    }

    func rejected() {
        lock.withLock { rejectedRequests += 1 }
    }

    func exposition() -> String {
        lock.lock()
        let (requests, buckets, sum, count, inFlight, scored, rejected) = (
            self.requests, bucketCounts, latencySum, latencyCount, self.inFlight, scoredSamples, rejectedRequests
        )
        lock.unlock()
        var lines = [
            "# HELP anomaly_http_requests_total HTTP requests answered, by path and status.",
            "# TYPE anomaly_http_requests_total counter",
        ]
        for key in requests.keys.sorted() {
            let parts = key.split(separator: " ")
            lines.append("anomaly_http_requests_total{path=\"\(parts[0])\",status=\"\(parts[1])\"} \(requests[key]!)")
        }
        lines += [
            "# HELP anomaly_http_request_duration_seconds Time from a request's head to its answer.",
            "# TYPE anomaly_http_request_duration_seconds histogram",
        ]
        for (bound, bucket) in zip(Self.latencyBuckets, buckets) {
            lines.append("anomaly_http_request_duration_seconds_bucket{le=\"\(bound)\"} \(bucket)")
        }
        lines += [
            "anomaly_http_request_duration_seconds_bucket{le=\"+Inf\"} \(count)",
            "anomaly_http_request_duration_seconds_sum \(sum)",
            "anomaly_http_request_duration_seconds_count \(count)",
            "# HELP anomaly_http_requests_in_flight Requests being answered now.",
            "# TYPE anomaly_http_requests_in_flight gauge",
            "anomaly_http_requests_in_flight \(inFlight)",
            "# HELP anomaly_scored_samples_total Samples scored.",
            "# TYPE anomaly_scored_samples_total counter",
            "anomaly_scored_samples_total \(scored)",
            "# HELP anomaly_rejected_requests_total Score requests refused with 503 because the queue was full.",
            "# TYPE anomaly_rejected_requests_total counter",
            "anomaly_rejected_requests_total \(rejected)",
        ]
        if let resident = Self.residentBytes() {
            lines += [
                "# HELP process_resident_memory_bytes Resident memory size in bytes.",
                "# TYPE process_resident_memory_bytes gauge",
                "process_resident_memory_bytes \(resident)",
            ]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The process's resident set size from /proc/self/statm (nil where there is none).
    static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// Counts every request and its latency (errors thrown past the handlers count with their
/// HTTP status, anything else as 500).
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        metrics.began()
        let start = ContinuousClock.now
        let path = request.uri.path
        do {
            let response = try await next(request, context)
            metrics.ended(path: path, status: response.status.code, seconds: Self.seconds(since: start))
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.ended(path: path, status: status, seconds: Self.seconds(since: start))
            throw error
        }
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
}
