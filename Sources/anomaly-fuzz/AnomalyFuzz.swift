// One binary, many harnesses (see Sources/FuzzHarnesses), in two builds:
//
// - Normal build (`swift build --product anomaly-fuzz`): a replay tool,
//       anomaly-fuzz <target> FILE...
//   runs each file through the harness and prints one line per file, the reader's error
//   message or "ok". An input that traps kills the tool, which is how `scripts/fuzz.sh
//   --replay` tells a fixed finding from a live one.
//
// - Fuzzing build (`scripts/fuzz.sh`: `-Xswiftc -DANOMALY_FUZZING -Xswiftc
//   -sanitize=fuzzer,address`): no `@main`; the file defines libFuzzer's
//   `LLVMFuzzerTestOneInput`, and `ANOMALY_FUZZ_TARGET` names the harness.
//
// The file is not `main.swift`, so SwiftPM compiles it with `-parse-as-library`: top-level
// code is not an entry point, and without `@main` there is none in Swift.

import Foundation
import FuzzHarnesses

#if ANOMALY_FUZZING

    /// The harness and the scratch folder of this process, chosen in `LLVMFuzzerInitialize`
    /// before the first input (libFuzzer runs inputs on one thread).
    nonisolated(unsafe) private var selected: (harness: FuzzHarness, scratch: URL)?

    /// libFuzzer calls this once, before any input, whichever `main` started it.
    @_cdecl("LLVMFuzzerInitialize")
    public func fuzzerInitialize(
        _ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
    ) -> Int32 {
        let name = ProcessInfo.processInfo.environment["ANOMALY_FUZZ_TARGET"] ?? ""
        guard let harness = FuzzHarnesses.named(name) else {
            let names = FuzzHarnesses.all.map(\.name).joined(separator: ", ")
            FileHandle.standardError.write(
                Data("anomaly-fuzz: set ANOMALY_FUZZ_TARGET to one of: \(names) (got '\(name)')\n".utf8))
            exit(2)
        }
        do {
            selected = (harness, try FuzzHarnesses.makeScratchFolder())
        } catch {
            FileHandle.standardError.write(Data("anomaly-fuzz: cannot create a scratch folder: \(error)\n".utf8))
            exit(2)
        }
        // libFuzzer leaves through exit() (time limit, -runs); take the scratch folder along.
        atexit {
            if let scratch = selected?.scratch { try? FileManager.default.removeItem(at: scratch) }
        }
        return 0
    }

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        guard let (harness, scratch) = selected else { return 0 }
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        // Errors are the readers' answer to bad input, not findings.
        _ = try? harness.run(bytes, scratch: scratch)
        return 0
    }

    /// libFuzzer's driver, for the entry point below.
    @_extern(c, "LLVMFuzzerRunDriver")
    func fuzzerRunDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32

    /// SwiftPM links every executable target with `--defsym main=<module>_main` (so that tests
    /// can link the module), which points `main` here instead of at libFuzzer's `main`; this
    /// does what libFuzzer's `main` does.
    @_cdecl("anomaly_fuzz_main")
    public func anomalyFuzzMain(
        _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
    ) -> Int32 {
        var argc = argc
        var argv = argv
        return fuzzerRunDriver(&argc, &argv, fuzzerTestOneInput)
    }

#else

    @main
    struct AnomalyFuzzReplay {
        static func main() {
            let arguments = Array(CommandLine.arguments.dropFirst())
            guard let name = arguments.first, let harness = FuzzHarnesses.named(name), arguments.count >= 2 else {
                let names = FuzzHarnesses.all.map(\.name).joined(separator: ", ")
                FileHandle.standardError.write(
                    Data(
                        """
                        usage: anomaly-fuzz <target> FILE...
                        Runs each FILE through the fuzz harness <target> and prints the reader's error or "ok".
                        targets: \(names)

                        """.utf8))
                exit(2)
            }
            let scratch: URL
            do {
                scratch = try FuzzHarnesses.makeScratchFolder()
            } catch {
                FileHandle.standardError.write(Data("anomaly-fuzz: cannot create a scratch folder: \(error)\n".utf8))
                exit(2)
            }
            defer { try? FileManager.default.removeItem(at: scratch) }
            let inputPath = harness.inputFile(in: scratch).path
            for path in arguments.dropFirst() {
                let bytes: [UInt8]
                do {
                    bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
                } catch {
                    print("\(path): cannot read: \(error.localizedDescription)")
                    continue
                }
                do {
                    try harness.run(bytes, scratch: scratch)
                    print("\(path): ok")
                } catch {
                    // Messages name the temporary copy; name the file given instead.
                    let message = String(describing: error).replacingOccurrences(of: inputPath, with: path)
                    print(message.contains(path) ? message : "\(path): \(message)")
                }
            }
        }
    }

#endif
