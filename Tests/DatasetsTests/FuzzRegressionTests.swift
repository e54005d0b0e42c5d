import Foundation
import FuzzHarnesses
import Testing

/// Every fuzz finding kept in `Fuzz/regressions/<target>/`, and every seed in
/// `Fuzz/corpus/<target>/`, run in-process through the same harness the fuzzer uses
/// (`Sources/FuzzHarnesses`). The readers may return or throw; a trap would kill the whole
/// test run, which is the failure this test exists to catch.
@Suite("Fuzz regressions and seeds")
struct FuzzRegressionTests {
    static let fuzzRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz", isDirectory: true)

    /// The regular files of `Fuzz/<kind>/<target>/`, sorted (none when the folder is absent).
    static func inputs(_ kind: String, _ target: String) -> [URL] {
        let folder = fuzzRoot.appendingPathComponent(kind).appendingPathComponent(target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.sorted().map { folder.appendingPathComponent($0) }.filter {
            (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true
        }
    }

    @Test(arguments: FuzzHarnesses.all.map(\.name))
    func inputsReturnOrThrow(target: String) throws {
        let harness = try #require(FuzzHarnesses.named(target))
        let seeds = Self.inputs("corpus", target)
        // Each harness has seeds: a missing folder means the corpus was not generated.
        #expect(!seeds.isEmpty, "no seeds in Fuzz/corpus/\(target); run scripts/fuzz-corpus.py")
        let scratch = try FuzzHarnesses.makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        for input in seeds + Self.inputs("regressions", target) {
            let bytes = [UInt8](try Data(contentsOf: input))
            // Returning and throwing both pass; only reaching the next line matters.
            _ = Result { try harness.run(bytes, scratch: scratch) }
        }
    }

    /// The seeds are valid files: each is accepted by its reader, except those written to
    /// exercise a refusal (unsupported PNG variants).
    @Test(arguments: FuzzHarnesses.all.map(\.name))
    func seedsAreAccepted(target: String) throws {
        let harness = try #require(FuzzHarnesses.named(target))
        let scratch = try FuzzHarnesses.makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let refused: Set<String> = ["gray16-8x8.png", "interlaced-8x8.png"]
        for input in Self.inputs("corpus", target) where !refused.contains(input.lastPathComponent) {
            #expect(throws: Never.self, "\(target): \(input.lastPathComponent)") {
                try harness.run([UInt8](try Data(contentsOf: input)), scratch: scratch)
            }
        }
    }
}
