import CKernels
import Dispatch
import Foundation

/// Work splitting for CPU kernels: large ranges are cut into one chunk per core.
public enum CPUThreads {
    /// The environment variable that sets `count` (like `OMP_NUM_THREADS`): a whole number from 1
    /// to 64. Two processes sharing a machine each run best on their share of its cores.
    public static let environmentVariable = "ANOMALYKIT_THREADS"

    /// Number of worker chunks: `ANOMALYKIT_THREADS` when it is set and valid, else the machine's
    /// active cores (at most 64).
    nonisolated(unsafe) public static var count: Int =
        ((try? fromEnvironment()) ?? nil) ?? max(1, min(64, ProcessInfoCores.active))

    /// The thread count `ANOMALYKIT_THREADS` asks for; nil when it is unset or empty. Throws when
    /// it is not a whole number from 1 to 64, so a tool can refuse it with one clear line
    /// (`count` itself falls back to the core count).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int? {
        guard let text = environment[environmentVariable]?.trimmingCharacters(in: .whitespaces), !text.isEmpty
        else { return nil }
        guard let value = Int(text), (1...64).contains(value) else {
            throw ThreadCountError(value: text)
        }
        return value
    }

    /// Calls `body(start, end)` over `0..<n` in up to `count` chunks when `n * costPerItem` is
    /// large enough to amortise the dispatch; otherwise once on the calling thread.
    @inline(__always)
    public static func parallelRanges(_ n: Int, costPerItem: Int = 1, _ body: (Int, Int) -> Void) {
        let chunks = min(count, n)
        if chunks <= 1 || n * costPerItem < 32_768 {
            body(0, n)
            return
        }
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let work = body
            let level = ak_nn_thread_cpu_level()
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                inheritingKernelLevel(level) {
                    let start = n * c / chunks
                    let end = n * (c + 1) / chunks
                    if start < end { work(start, end) }
                }
            }
        }
    }

    /// Runs `body` on a worker thread with the NN kernel level `level` that the splitting thread
    /// read with `ak_nn_thread_cpu_level()` (−1: none), restoring the worker's own afterwards.
    @inline(__always)
    public static func inheritingKernelLevel(_ level: Int32, _ body: () -> Void) {
        let own = ak_nn_thread_cpu_level()
        if level != own { _ = ak_nn_set_cpu_level(level) }
        body()
        if level != own { _ = ak_nn_set_cpu_level(own) }
    }
}

/// `ANOMALYKIT_THREADS` holds something other than a whole number from 1 to 64.
public struct ThreadCountError: Error, CustomStringConvertible, Equatable {
    public let value: String
    public var description: String {
        "\(CPUThreads.environmentVariable)=\(value) is not a thread count: give a whole number from 1 to 64"
    }
}

enum ProcessInfoCores {
    static var active: Int {
        #if canImport(Glibc)
        return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        return 1
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#endif
