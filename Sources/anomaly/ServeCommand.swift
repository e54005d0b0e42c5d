import ArgumentParser
import Experiments
import Foundation
import Hummingbird
import Serving

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a finished run's model over HTTP (POST /score, GET /health, GET /metrics).",
        discussion: """
            POST /score with a CSV table (header; a 0/1 label column is optional), an .npy array, \
            an IDX image file or one PNG image as the body answers JSON scores and 0/1 labels at \
            the run's threshold (--fpr, --contamination or --threshold as for `anomaly predict`). \
            GET /health answers the method and sample shape; GET /metrics the request counts, \
            latency histogram, requests in flight and resident memory in Prometheus' text format. \
            A body over --max-body-mb gets 413, a malformed one 400, and a request beyond \
            --max-queued waiting ones 503; SIGTERM or Ctrl-C stops accepting connections and \
            finishes the requests in flight. Binds to 127.0.0.1 unless --host says otherwise.
            """)

    @Option(name: .customLong("run"), help: "A run folder written by `anomaly train` (runs/<id>).")
    var runDirectory: String

    @Option(help: "Address to bind (0.0.0.0 for every interface).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, printed at start).")
    var port = 8080

    @Option(help: "Largest request body in MiB (1…1024).")
    var maxBodyMb = 16

    @Option(help: "Requests scored at once (1…64); each already uses every core.")
    var maxConcurrent = 1

    @Option(help: "Score requests that may read their bodies and wait for their turn (0…100000); more get 503. Bodies held ≤ (max-concurrent + max-queued) × max-body-mb.")
    var maxQueued = 63

    @OptionGroup var thresholdOptions: ThresholdOptions

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0…65535, got \(port)") }
        guard (1...1024).contains(maxBodyMb) else { throw ValidationError("--max-body-mb must be in 1…1024, got \(maxBodyMb)") }
        guard (1...64).contains(maxConcurrent) else { throw ValidationError("--max-concurrent must be in 1…64, got \(maxConcurrent)") }
        guard (0...100_000).contains(maxQueued) else { throw ValidationError("--max-queued must be in 0…100000, got \(maxQueued)") }
    }

    func run() async throws {
        let logger = common.makeLogger()
        let folder = URL(fileURLWithPath: runDirectory, isDirectory: true)
        let options = ScoringServer.Options(
            host: host, port: port, maxBodyBytes: maxBodyMb << 20, maxConcurrentScoring: maxConcurrent,
            maxQueuedRequests: maxQueued, threshold: thresholdOptions.choice)
        let host = self.host
        let application = try ScoringServer.makeApplication(
            runFolder: folder, dataRoot: common.dataRoot, options: options, logger: logger
        ) { port in
            output("listening on http://\(host):\(port) (POST /score, GET /health, GET /metrics)")
        }
        do {
            try await application.runService()
        } catch {
            throw ExperimentError.invalidArgument("serving \(runDirectory) on \(host):\(port) failed: \(ScoringServer.oneLine(error))")
        }
    }
}
