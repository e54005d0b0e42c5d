import Detectors
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A progress bar on standard error: phase, bar, count, ETA and metrics, redrawn in place at
/// most ten times a second. When standard error is not a terminal (CI logs, pipes) it prints a
/// plain line at each quarter of a phase instead, so logs stay readable.
public final class TerminalProgress: ProgressReporter, @unchecked Sendable {
    private let lock = NSLock()
    private let isTerminal: Bool
    private let width: Int
    private var phase = ""
    private var total = 0
    private var started = Date()
    private var lastDraw = Date.distantPast
    private var lastQuarter = -1
    private var lastMetrics: [String: Double] = [:]

    public init(forceTerminal: Bool? = nil, width: Int = 28) {
        self.isTerminal = forceTerminal ?? (isatty(STDERR_FILENO) == 1)
        self.width = width
    }

    public func begin(_ phase: String, total: Int) {
        lock.withLock {
            self.phase = phase
            self.total = max(total, 1)
            started = Date()
            lastDraw = .distantPast
            lastQuarter = -1
            lastMetrics = [:]
        }
    }

    public func update(completed: Int, metrics: [String: Double]) {
        lock.withLock {
            lastMetrics = metrics
            let now = Date()
            if isTerminal {
                guard now.timeIntervalSince(lastDraw) >= 0.1 || completed >= total else { return }
                lastDraw = now
                write("\r\u{1B}[K" + line(completed: completed, now: now))
            } else {
                let quarter = completed * 4 / total
                guard quarter > lastQuarter else { return }
                lastQuarter = quarter
                write(line(completed: completed, now: now) + "\n")
            }
        }
    }

    public func end() {
        lock.withLock {
            let elapsed = Date().timeIntervalSince(started)
            let summary = "\(phase): done in \(Self.format(seconds: elapsed))\(Self.format(metrics: lastMetrics))"
            write(isTerminal ? "\r\u{1B}[K" + summary + "\n" : summary + "\n")
        }
    }

    /// One progress line, for example `epoch 2/10 [#######.......] 45/90  ETA 0:12  loss 0.312`.
    func line(completed: Int, now: Date) -> String {
        let fraction = min(max(Double(completed) / Double(total), 0), 1)
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let elapsed = now.timeIntervalSince(started)
        let eta = completed > 0 ? elapsed / Double(completed) * Double(total - completed) : 0
        return "\(phase) [\(bar)] \(completed)/\(total)  ETA \(Self.format(seconds: eta))\(Self.format(metrics: lastMetrics))"
    }

    static func format(seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    static func format(metrics: [String: Double]) -> String {
        metrics.keys.sorted().map { String(format: "  %@ %.4g", $0, metrics[$0]!) }.joined()
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
