import Datasets
import Foundation

/// Paths of the package's own files, found from this source file (no bundle resources).
enum RepositoryFiles {
    /// The package root: Tests/DatasetsTests/<this file> → up three levels.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let data = packageRoot.appendingPathComponent("Data", isDirectory: true)
    static let mini = data.appendingPathComponent("mini", isDirectory: true)
    static let fixtures = packageRoot.appendingPathComponent("Tests/DatasetsTests/Fixtures/readers", isDirectory: true)

    static func fixture(_ name: String) -> URL { fixtures.appendingPathComponent(name) }

    /// expected.json written by scripts/fixtures/readers_fixtures.py.
    static var expected: [String: Any] {
        let data = try! Data(contentsOf: fixture("expected.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func expectedSection(_ section: String) -> [String: Any] { expected[section] as! [String: Any] }
}

/// A fresh temporary folder, removed when the value is dropped via `remove()`.
struct TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("anomalykit-readers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    func write(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let target = file(name)
        try FileManager.default.createDirectory(
            at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: target)
        return target
    }

    func write(_ name: String, text: String) throws -> URL { try write(name, Array(text.utf8)) }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// The message of the error `body` throws (nil when it does not throw).
func errorMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}

func ints(_ value: Any?) -> [Int] { (value as! [Any]).map { ($0 as! NSNumber).intValue } }
func doubles(_ value: Any?) -> [Double] { (value as! [Any]).map { ($0 as! NSNumber).doubleValue } }
func uint8s(_ value: Any?) -> [UInt8] { (value as! [Any]).map { UInt8(($0 as! NSNumber).intValue) } }

/// File reads for the tests, through public API only (the tests need no `@testable`).
enum TestBytes {
    static func read(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }

    static func readDecompressingGzip(_ url: URL) throws -> [UInt8] {
        let bytes = try read(url)
        return GzipDecoder.hasGzipMagic(bytes) ? try GzipDecoder.decompress(bytes, path: url.path) : bytes
    }
}
