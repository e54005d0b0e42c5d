import Foundation
import Layers
import Tensors

// anomaly-bench: training-step throughput of the reference workloads (bench/WORKLOADS.md) and
// GEMM GFLOP/s, each next to PyTorch measured in the same invocation with the same thread count.
//
//   swift run -c release anomaly-bench [gemm|train|conv|epoch|all] [--seconds S] [--only a,b] [--no-torch] [--rounds R]
//
// Each workload runs in its own child process so its peak memory (max RSS) is its own, as
// bench/torch_reference.py does for PyTorch.

struct Options {
    var mode = "all"
    var seconds = 10.0
    var only: Set<String> = []
    var torch = true
    /// Training steps: rounds of ours then PyTorch (1: one of each).
    var rounds = 1
    var child: String? = nil
    var python = ProcessInfo.processInfo.environment["PYTHON"] ?? "python3"
    var epochImages = 2048
    var epochBatch = 32
    var epochShape = [3, 32, 32]
    var epochPadding = true

    init(_ args: [String]) {
        var i = 0
        while i < args.count {
            let a = args[i]
            func value() -> String {
                i += 1
                guard i < args.count else { fail("option \(a) needs a value") }
                return args[i]
            }
            switch a {
            case "gemm", "train", "conv", "epoch", "all": mode = a
            case "--images": epochImages = Int(value()) ?? { fail("--images needs an integer") }()
            case "--shape": epochShape = value().split(separator: "x").compactMap { Int($0) }
            case "--no-padding": epochPadding = false
            case "--batch": epochBatch = Int(value()) ?? { fail("--batch needs an integer") }()
            case "--seconds": seconds = Double(value()) ?? { fail("--seconds needs a number") }()
            case "--only": only = Set(value().split(separator: ",").map(String.init))
            case "--no-torch": torch = false
            case "--rounds":
                rounds = Int(value()) ?? { fail("--rounds needs an integer") }()
                guard (1...100).contains(rounds) else { fail("--rounds must be in 1...100, got \(rounds)") }
            case "--child": child = value()
            case "--python": python = value()
            case "-h", "--help":
                print("usage: anomaly-bench [gemm|train|conv|epoch|all] [--seconds S] [--only a,b] [--no-torch] [--rounds R (train)] [--python PATH] [--images N --batch B --shape CxHxW --no-padding (epoch)]")
                exit(0)
            default: fail("unknown option '\(a)' (try --help)")
            }
            i += 1
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("anomaly-bench: \(message)\n".utf8))
    exit(2)
}

/// Median of measured step times after warm-up, for at least `seconds` (≥ 5 steps, ≤ 300).
func measure(seconds: Double, warmup: Int = 3, _ step: () -> Void) -> Double {
    for _ in 0..<warmup { step() }
    var times: [Double] = []
    let start = Date()
    while (Date().timeIntervalSince(start) < seconds || times.count < 5) && times.count < 300 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        step()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    times.sort()
    return times[times.count / 2]
}

/// Pads cells to widths (negative = left-aligned).
func row(_ cells: [String], widths: [Int]) -> String {
    zip(cells, widths).map { cell, w in
        let pad = String(repeating: " ", count: max(0, abs(w) - cell.count))
        return w < 0 ? cell + pad : pad + cell
    }.joined(separator: " ")
}

/// Peak resident memory of this process (VmHWM of /proc/self/status: per address space, so not
/// inherited from the parent across exec, unlike getrusage's ru_maxrss).
func peakMemoryMiB() -> Double {
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
    {
        return kib / 1024
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Locates a script in bench/ of the package (working directory or next to the executable).
func benchScript(_ name: String) -> String? {
    var candidates = [FileManager.default.currentDirectoryPath + "/bench/" + name]
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    for _ in 0..<6 {
        url.deleteLastPathComponent()
        candidates.append(url.path + "/bench/" + name)
    }
    return candidates.first { FileManager.default.fileExists(atPath: $0) }
}

/// Runs a command and returns its standard output lines (nil if it failed to run or exited non-zero).
func run(_ executable: String, _ arguments: [String]) -> [String]? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.standardError
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
}

func jsonLines(_ lines: [String]) -> [[String: Any]] {
    lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
}

func torchAvailable(_ options: Options) -> Bool {
    guard options.torch else { return false }
    if run(options.python, ["-c", "import torch"]) == nil {
        print("(PyTorch not importable with \(options.python): skipping the reference; pip install torch==2.13.0+cpu)")
        return false
    }
    return true
}

// MARK: GEMM

let gemmShapes: [(String, Int, Int, Int)] = [
    ("square256", 256, 256, 256), ("square512", 512, 512, 512), ("square1024", 1024, 1024, 1024),
    ("square2048", 2048, 2048, 2048), ("stem", 64, 27, 32768), ("layer1", 64, 576, 32768),
    ("layer2", 128, 1152, 8192), ("layer3", 256, 2304, 2048), ("layer4", 512, 4608, 512),
    ("layer1_wgrad", 64, 32768, 576), ("layer1_igrad", 576, 64, 32768),
]

func benchGEMM(_ options: Options) {
    print("GEMM (single precision, C = A·B row-major), \(CPUThreads.count) threads, \(BLAS.implementation)")
    var ours: [String: Double] = [:]
    var generator = SeededGenerator(seed: 0)
    for (name, m, k, n) in gemmShapes where options.only.isEmpty || options.only.contains(name) {
        let a = Tensor.uniform([m, k], using: &generator), b = Tensor.uniform([k, n], using: &generator)
        let seconds = measure(seconds: min(options.seconds, 1), warmup: 2) { _ = matmul(a, b) }
        ours[name] = 2 * Double(m) * Double(n) * Double(k) / seconds / 1e9
    }
    var theirs: [String: Double] = [:]
    if torchAvailable(options), let script = benchScript("torch_gemm.py"),
        let lines = run(options.python, [script, "--threads", "\(CPUThreads.count)", "--seconds", "\(min(options.seconds, 1))", "--json"])
    {
        for r in jsonLines(lines) { if let s = r["shape"] as? String, let g = r["gflops"] as? Double { theirs[s] = g } }
    }
    print(row(["shape", "M×K×N", "ours GFLOP/s", "torch GFLOP/s", "ratio"], widths: [-14, -18, 13, 14, 7]))
    for (name, m, k, n) in gemmShapes {
        guard let o = ours[name] else { continue }
        let t = theirs[name]
        print(row([name, "\(m)×\(k)×\(n)", String(format: "%.1f", o), t.map { String(format: "%.1f", $0) } ?? "—",
                   t.map { String(format: "%.2f×", o / $0) } ?? "—"], widths: [-14, -18, 13, 14, 7]))
    }
}

// MARK: Training steps

func benchTraining(_ options: Options) {
    let names = BenchWorkload.all.map(\.name).filter { options.only.isEmpty || options.only.contains($0) }
    let useTorch = torchAvailable(options)
    let rounds = options.rounds
    print(
        "Training steps (zero grad, forward, loss, backward, Adam 1e-3), \(CPUThreads.count) threads, median over ≥ \(options.seconds) s"
            + (rounds > 1 ? "; \(rounds) rounds of ours then PyTorch, medians over rounds, ratio = median of the rounds' ratios (range)" : ""))
    let widths = [-13, 6, 12, 12, 7, 9, 10] + (rounds > 1 ? [-13] : [])
    print(row(["workload", "batch", "ours img/s", "torch img/s", "ratio", "ours MiB", "torch MiB"] + (rounds > 1 ? ["ratio range"] : []), widths: widths))
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
    func median(_ values: [Double]) -> Double {
        let v = values.sorted()
        return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
    }
    for name in names {
        // Rounds alternate the two so that a shared machine's slow spells fall on both: each
        // round's ratio compares measurements taken seconds apart.
        var ours: [(imgPerS: Double, mib: Double)] = [], theirs: [(imgPerS: Double, mib: Double)] = [], ratios: [Double] = []
        var batch = 0
        for _ in 0..<rounds {
            guard let lines = run(executable, ["--child", name, "--seconds", "\(options.seconds)"]),
                let o = jsonLines(lines).first
            else { break }
            batch = o["batch"] as? Int ?? 0
            ours.append((o["img_per_s"] as? Double ?? 0, o["peak_mem_mib"] as? Double ?? 0))
            if useTorch, let script = benchScript("torch_reference.py"),
                let lines = run(options.python, [script, "--only", name, "--threads", "\(CPUThreads.count)", "--seconds", "\(options.seconds)", "--json"]),
                let t = jsonLines(lines).first, let rate = t["img_per_s"] as? Double
            {
                theirs.append((rate, (t["peak_mem_mib"] as? NSNumber)?.doubleValue ?? 0))
                ratios.append(ours.last!.imgPerS / rate)
            }
        }
        guard !ours.isEmpty else {
            print("\(name): our run failed")
            continue
        }
        let t = theirs.isEmpty ? nil : median(theirs.map(\.imgPerS))
        let range = ratios.count > 1 ? String(format: "%.2f–%.2f×", ratios.min()!, ratios.max()!) : "—"
        print(row([name, "\(batch)", String(format: "%.1f", median(ours.map(\.imgPerS))), t.map { String(format: "%.1f", $0) } ?? "—",
                   ratios.isEmpty ? "—" : String(format: "%.2f×", median(ratios)), String(format: "%.0f", ours.map(\.mib).max()!),
                   theirs.isEmpty ? "—" : String(format: "%.0f", theirs.map(\.mib).max()!)] + (rounds > 1 ? [range] : []), widths: widths))
    }
}

func runChild(_ name: String, seconds: Double) {
    guard let workload = BenchWorkload.all.first(where: { $0.name == name }) else { fail("unknown workload \(name)") }
    let step = workload.makeStep()
    let t = measure(seconds: seconds, step)
    let result: [String: Any] = [
        "workload": name, "mode": "train", "batch": workload.batch, "device": "cpu", "threads": CPUThreads.count,
        "img_per_s": Double(workload.batch) / t, "step_ms": t * 1e3, "peak_mem_mib": peakMemoryMiB(),
    ]
    let data = try! JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

do { _ = try CPUThreads.fromEnvironment() } catch { fail("\(error)") }
let options = Options(Array(CommandLine.arguments.dropFirst()))
if let child = options.child {
    runChild(child, seconds: options.seconds)
} else {
    if options.mode == "conv" { benchConvolutions(options) }
    if options.mode == "epoch" { benchContrastiveEpoch(options) }
    if options.mode == "gemm" || options.mode == "all" { benchGEMM(options) }
    if options.mode == "train" || options.mode == "all" {
        if options.mode == "all" { print("") }
        benchTraining(options)
    }
}
