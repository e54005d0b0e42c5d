import Foundation
@_spi(Testing) import Layers
import Tensors
import Testing

#if canImport(Glibc)
    import Glibc
#endif

private typealias Support = LossTestSupport

// Modules whose tensor names follow PyTorch's ResNet keys (layer1.0.conv1.weight, bn1.running_mean).
private final class ConvLike: Module, @unchecked Sendable {
    let weight: Tensor
    init(_ shape: [Int], seed: UInt64) {
        weight = Support.randomTensor(shape, seed: seed).requiringGrad()
    }
}

private final class NormLike: Module, @unchecked Sendable {
    let weight: Tensor
    let bias: Tensor
    let runningMean: Tensor
    let runningVar: Tensor
    init(_ n: Int, seed: UInt64) {
        weight = Support.randomTensor([n], seed: seed).requiringGrad()
        bias = Support.randomTensor([n], seed: seed + 1).requiringGrad()
        runningMean = Support.randomTensor([n], seed: seed + 2)
        runningVar = Support.randomTensor([n], seed: seed + 3, low: 0.5, high: 2)
    }
}

private final class BlockLike: Module, @unchecked Sendable {
    let conv1: ConvLike
    let bn1: NormLike
    init(inputs: Int, seed: UInt64) {
        conv1 = ConvLike([4, inputs, 3, 3], seed: seed)
        bn1 = NormLike(4, seed: seed + 10)
    }
}

private final class NetLike: Module, @unchecked Sendable {
    let layer1: [BlockLike]
    let fc: Linear
    init(firstInputs: Int = 3, seed: UInt64 = 1) {
        layer1 = [BlockLike(inputs: firstInputs, seed: seed), BlockLike(inputs: 4, seed: seed + 100)]
        var g = SeededGenerator(seed: seed)
        fc = Linear(4, 2, using: &g)
    }
}

/// Every tensor's values by name.
private func snapshot(_ module: Module) -> [String: [Float]] {
    Dictionary(uniqueKeysWithValues: module.namedTensors().map { ($0.name, $0.tensor.toArray()) })
}

/// Writes a safetensors file by hand: header JSON text, then `data`.
private func writeRaw(_ url: URL, header: String, data: [UInt8]) throws {
    var bytes: [UInt8] = []
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
    bytes += Array(header.utf8) + data
    try Data(bytes).write(to: url)
}

private func float32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
}

/// The CheckpointError `body` throws, or nil (recording an issue) if it throws none or another.
private func checkpointError(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> CheckpointError? {
    do {
        try body()
        Issue.record("expected a CheckpointError, none was thrown", sourceLocation: sourceLocation)
    } catch let error as CheckpointError {
        return error
    } catch {
        Issue.record("expected a CheckpointError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

@Suite struct CheckpointRoundTripTests {
    /// Arrays saved at full precision (F64 / F32) read back bit for bit, with their shapes, and
    /// the file stays a valid safetensors file for `read` (which converts to Float32).
    @Test func fullPrecisionArraysRoundTrip() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("state.safetensors")
        let doubles = [0.1, -1e-300, Double.pi, 12_345_678.901234567, 0]
        let floats: [Float] = [0.1, -3.5, .greatestFiniteMagnitude]
        try Checkpoint.save(
            arrays: [("a", [5], .float64(doubles)), ("b", [1, 3], .float32(floats)), ("empty", [0], .float64([]))],
            to: url, metadata: ["k": "v"])
        let (arrays, metadata) = try Checkpoint.readArrays(from: url)
        #expect(metadata == ["k": "v"])
        #expect(arrays["a"]?.values == doubles && arrays["a"]?.shape == [5])
        #expect(arrays["b"]?.values == floats.map(Double.init) && arrays["b"]?.shape == [1, 3])
        #expect(arrays["empty"]?.values == [])
        let asTensors = try Checkpoint.read(from: url)
        #expect(asTensors.tensors["a"]?.toArray() == doubles.map(Float.init))
    }

    @Test func saveChangeLoadRestoresEveryTensor() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        let net = NetLike()
        let saved = snapshot(net)
        try Checkpoint.save(net, to: url, metadata: ["epoch": "12", "method": "csi \"quoted\""])

        let contents = try Checkpoint.read(from: url)
        #expect(contents.names == net.namedTensors().map(\.name))
        #expect(contents.names.contains("layer1.0.conv1.weight") && contents.names.contains("layer1.1.bn1.runningVar"))
        #expect(contents.metadata == ["epoch": "12", "method": "csi \"quoted\""])

        // Change every parameter and buffer, then load them back.
        for (i, (_, t)) in net.namedTensors().enumerated() {
            t.assign(Support.randomTensor(t.shape, seed: 1000 + UInt64(i)))
        }
        #expect(snapshot(net) != saved)
        let result = try Checkpoint.load(into: net, from: url)
        #expect(result == Checkpoint.LoadResult(missingKeys: [], unknownKeys: []))
        #expect(snapshot(net) == saved)  // bit-exact, buffers included
    }

    /// 8-byte length, a space-padded JSON header ending 8-byte aligned, contiguous offsets.
    @Test func layoutFollowsTheSpecification() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("layout.safetensors")
        let tensors: [(name: String, tensor: Tensor)] = [
            ("a", Tensor([1, 2, 3])), ("weird \"name\\ é", Tensor([4, 5], shape: [1, 2])), ("s", Tensor(7)),
        ]
        try Checkpoint.save(tensors, to: url)
        let bytes = [UInt8](try Data(contentsOf: url))
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect((8 + n) % 8 == 0)
        #expect(bytes.count == 8 + n + 4 * 6)
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as! [String: Any]
        let a = header["a"] as! [String: Any]
        #expect(a["dtype"] as? String == "F32")
        #expect(a["shape"] as? [Int] == [3])
        #expect(a["data_offsets"] as? [Int] == [0, 12])
        #expect((header["weird \"name\\ é"] as! [String: Any])["data_offsets"] as? [Int] == [12, 20])
        #expect((header["s"] as! [String: Any])["shape"] as? [Int] == [])
        #expect(header["__metadata__"] == nil)
        #expect(Array(bytes[(8 + n)...]) == float32Bytes([1, 2, 3, 4, 5, 7]))
        let back = try Checkpoint.read(from: url)
        #expect(back.names == ["a", "weird \"name\\ é", "s"])
        #expect(back.tensors["s"]!.shape == [] && back.tensors["s"]!.item() == 7)
    }

    /// A file laid out by PyTorch the way the safetensors library writes (dtype-sorted, F32,
    /// F16 with subnormals, BF16, F64, a scalar, an empty tensor, metadata) decodes exactly.
    @Test func readsAFileWrittenFromPyTorch() throws {
        struct Expected: Decodable {
            let order: [String]
            let metadata: [String: String]
            let tensors: [String: LossFixtureTensor]
        }
        let expected = try Support.loadFixture(Expected.self, "torch_written.json")
        let contents = try Checkpoint.read(
            from: Support.fixtureDirectory.appendingPathComponent("torch_written.safetensors"))
        #expect(contents.names == expected.order)
        #expect(contents.metadata == expected.metadata)
        #expect(Set(contents.tensors.keys) == Set(expected.tensors.keys))
        for (name, e) in expected.tensors {
            #expect(contents.tensors[name]?.shape == e.shape, "\(name) shape")
            #expect(contents.tensors[name]?.toArray() == e.data, "\(name) values")
        }
    }

    static let pythonWithNumPy: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import numpy"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// Our file parsed by an independent reader (scripts/fixtures/loss_fixtures.py
    /// --verify-safetensors: json + struct + numpy). Disabled where python3 with NumPy is absent.
    @Test(.enabled(if: CheckpointRoundTripTests.pythonWithNumPy, "needs python3 with numpy"))
    func parsesInPython() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("for python.safetensors")
        let net = NetLike()
        try Checkpoint.save(net, to: url, metadata: ["k": "v"])

        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", Support.repositoryRoot.appendingPathComponent("scripts/fixtures/loss_fixtures.py").path,
            "--verify-safetensors", url.path,
        ]
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        let report = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        #expect(report["names"] as? [String] == net.namedTensors().map(\.name))
        #expect(report["metadata"] as? [String: String] == ["k": "v"])
        let shapes = report["shapes"] as! [String: [Int]]
        let sums = report["sums"] as! [String: Double]
        for (name, tensor) in net.namedTensors() {
            #expect(shapes[name] == tensor.shape)
            let sum = tensor.toArray().reduce(0.0) { $0 + Double($1) }
            #expect(Swift.abs(sums[name]! - sum) < 1e-9, "\(name) sum")
        }
    }
}

@Suite struct CheckpointValidationTests {
    @Test func missingFile() throws {
        let path = "/nonexistent-dir/none.safetensors"
        let error = checkpointError { _ = try Checkpoint.read(from: URL(fileURLWithPath: path)) }
        #expect(error == .fileNotFound(path: path))
        #expect(error?.description.contains(path) == true)
        let net = NetLike()
        #expect(throws: CheckpointError.self) { try Checkpoint.load(into: net, from: URL(fileURLWithPath: path)) }
    }

    @Test func shorterThanEightBytes() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("short.safetensors")
        try Data([1, 2, 3, 4, 5]).write(to: url)
        let error = checkpointError { _ = try Checkpoint.read(from: url) }
        #expect(error == .fileTooShort(path: url.path, size: 5))
        #expect(error?.description.contains("short.safetensors") == true)
    }

    /// Cut inside the header: the length field points past the end. Cut inside the data: the
    /// last tensor's offsets run past the data section.
    @Test func truncatedFiles() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        try Checkpoint.save(NetLike(), to: url)
        let bytes = try Data(contentsOf: url)
        let cut = dir.appendingPathComponent("cut.safetensors")

        try bytes.prefix(40).write(to: cut)
        guard
            case .headerLengthBeyondFile(let path, _, let size)? = checkpointError({
                _ = try Checkpoint.read(from: cut)
            })
        else {
            Issue.record("expected headerLengthBeyondFile")
            return
        }
        #expect(path == cut.path && size == 40)

        try bytes.prefix(bytes.count - 6).write(to: cut)
        let error = checkpointError { _ = try Checkpoint.read(from: cut) }
        guard case .invalidDataOffsets(_, let tensor, let reason)? = error else {
            Issue.record("expected invalidDataOffsets, got \(String(describing: error))")
            return
        }
        #expect(tensor == "fc.bias" && reason.contains("run past"))
    }

    @Test func corruptedHeader() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        try Checkpoint.save(NetLike(), to: url)
        var bytes = [UInt8](try Data(contentsOf: url))
        #expect(bytes[8 + 24] == UInt8(ascii: ":"))  // after the first key, "layer1.0.conv1.weight"
        bytes[8 + 24] = UInt8(ascii: "#")
        try Data(bytes).write(to: url)
        guard case .invalidHeader(let path, _)? = checkpointError({ _ = try Checkpoint.read(from: url) }) else {
            Issue.record("expected invalidHeader")
            return
        }
        #expect(path == url.path)

        let cases: [(String, String)] = [
            ("[1, 2]     ", "not start with a JSON object"),
            ("{\"a\": 3}", "not a JSON object"),
            ("{\"a\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", "shape"),
            ("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", "data_offsets"),
            ("{\"a\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", "dtype"),
            (
                "{\"__metadata__\": {\"k\": 1}, \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}",
                "__metadata__"
            ),
        ]
        for (header, expected) in cases {
            try writeRaw(url, header: header, data: float32Bytes([1]))
            let error = checkpointError { _ = try Checkpoint.read(from: url) }
            guard case .invalidHeader(_, let reason)? = error else {
                Issue.record("header \(header): expected invalidHeader, got \(String(describing: error))")
                continue
            }
            #expect(reason.contains(expected), "header \(header): \(reason)")
        }
    }

    @Test func unsupportedDType() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("int.safetensors")
        try writeRaw(
            url, header: "{\"steps\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
            data: [UInt8](repeating: 0, count: 8))
        let error = checkpointError { _ = try Checkpoint.read(from: url) }
        #expect(error == .unsupportedDType(path: url.path, tensor: "steps", dtype: "I64"))
        #expect(error?.description.contains("I64") == true)
    }

    @Test func dataOffsetsInconsistentWithShapeOrLayout() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("offsets.safetensors")
        let data = float32Bytes([1, 2, 3, 4])
        let cases: [(String, String, String)] = [
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", "a", "needs 12"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", "a", "increasing"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[4,20]}}", "a", "run past"),
            (
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                "b", "overlap"
            ),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "a", "unused"),
            ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "(data section)", "not described"),
        ]
        for (header, tensor, expected) in cases {
            try writeRaw(url, header: header, data: data)
            let error = checkpointError { _ = try Checkpoint.read(from: url) }
            guard case .invalidDataOffsets(_, let name, let reason)? = error else {
                Issue.record("header \(header): expected invalidDataOffsets, got \(String(describing: error))")
                continue
            }
            #expect(name == tensor && reason.contains(expected), "header \(header): \(name): \(reason)")
        }
    }
}

@Suite struct CheckpointLoadTests {
    @Test func unknownKeysAreRejectedWhenStrict() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("extra.safetensors")
        let source = NetLike(seed: 7)
        try Checkpoint.save(source.namedTensors() + [(name: "head.weight", tensor: Tensor([1, 2]))], to: url)
        let target = NetLike(seed: 8)
        let before = snapshot(target)
        let error = checkpointError { try Checkpoint.load(into: target, from: url) }
        #expect(error == .keyMismatch(path: url.path, missing: [], unknown: ["head.weight"]))
        #expect(error?.description.contains("unknown keys (in the file, not in the model): head.weight") == true)
        #expect(snapshot(target) == before)  // nothing assigned

        let result = try Checkpoint.load(into: target, from: url, strict: false)
        #expect(result.unknownKeys == ["head.weight"] && result.missingKeys.isEmpty)
        #expect(snapshot(target) == snapshot(source))
    }

    @Test func missingKeysAreRejectedWhenStrict() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("partial.safetensors")
        let source = NetLike(seed: 7)
        try Checkpoint.save(source.namedTensors().filter { !$0.name.hasPrefix("fc.") }, to: url)
        let target = NetLike(seed: 8)
        let before = snapshot(target)
        let error = checkpointError { try Checkpoint.load(into: target, from: url) }
        #expect(error == .keyMismatch(path: url.path, missing: ["fc.weight", "fc.bias"], unknown: []))
        #expect(error?.description.contains("missing keys (in the model, not in the file): fc.weight, fc.bias") == true)
        #expect(snapshot(target) == before)

        let result = try Checkpoint.load(into: target, from: url, strict: false)
        #expect(result.missingKeys == ["fc.weight", "fc.bias"])
        let after = snapshot(target)
        #expect(after["fc.weight"] == before["fc.weight"])  // untouched
        #expect(after["layer1.1.bn1.runningMean"] == source.layer1[1].bn1.runningMean.toArray())
    }

    /// A shape mismatch names the tensor and both shapes, and nothing is assigned — not even the
    /// tensors before the mismatching one.
    @Test func shapeMismatchAssignsNothing() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("shapes.safetensors")
        try Checkpoint.save(NetLike(firstInputs: 3, seed: 1), to: url)
        let target = NetLike(firstInputs: 4, seed: 2)
        let before = snapshot(target)
        for strict in [true, false] {
            let error = checkpointError { try Checkpoint.load(into: target, from: url, strict: strict) }
            #expect(
                error
                    == .shapeMismatch(
                        path: url.path, tensor: "layer1.0.conv1.weight", checkpointShape: [4, 3, 3, 3],
                        modelShape: [4, 4, 3, 3]))
            #expect(
                error?.description
                    == "checkpoint \(url.path): layer1.0.conv1.weight: checkpoint has shape [4, 3, 3, 3], model has [4, 4, 3, 3]"
            )
            #expect(snapshot(target) == before)
        }
    }

    /// Reading validates the whole file first, so a bad tensor late in the file leaves the
    /// model untouched.
    @Test func invalidFileAssignsNothing() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("bad.safetensors")
        try writeRaw(
            url,
            header:
                "{\"weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,20]}}",
            data: float32Bytes([9, 9, 9, 9, 9]))
        var g = SeededGenerator(seed: 3)
        let layer = Linear(1, 2, using: &g)
        let before = snapshot(layer)
        #expect(throws: CheckpointError.self) { try Checkpoint.load(into: layer, from: url, strict: false) }
        #expect(snapshot(layer) == before)
    }
}

@Suite struct CheckpointAtomicityTests {
    /// Files in `dir` other than `keep` (left-over temporaries).
    private func strayFiles(in dir: URL, keeping keep: [String]) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !keep.contains($0) }
    }

    @Test func failureMidWriteLeavesTheOldFileIntact() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        try Checkpoint.save(NetLike(seed: 1), to: url)
        let original = try Data(contentsOf: url)

        struct DiskFull: Error {}
        for failAfter in [1, 3] {
            var calls = 0
            let error = checkpointError {
                try Checkpoint.save(NetLike(seed: 2).namedTensors(), to: url, metadata: [:]) { _ in
                    calls += 1
                    if calls == failAfter { throw DiskFull() }
                }
            }
            guard case .writeFailed(let path, let reason)? = error else {
                Issue.record("expected writeFailed, got \(String(describing: error))")
                continue
            }
            #expect(path == url.path && reason.contains("DiskFull"))
            #expect(try Data(contentsOf: url) == original)
            #expect(try strayFiles(in: dir, keeping: ["model.safetensors"]) == [])
        }
        // A successful save replaces it completely.
        try Checkpoint.save(NetLike(seed: 2), to: url)
        #expect(try Data(contentsOf: url) != original)
        let reloaded = NetLike(seed: 9)
        try Checkpoint.load(into: reloaded, from: url)
        #expect(snapshot(reloaded) == snapshot(NetLike(seed: 2)))
        #expect(try strayFiles(in: dir, keeping: ["model.safetensors"]) == [])
    }

    @Test func failedFirstSaveCreatesNoFile() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("new.safetensors")
        struct Interrupted: Error {}
        #expect(throws: CheckpointError.self) {
            try Checkpoint.save(NetLike().namedTensors(), to: url, metadata: [:]) { _ in throw Interrupted() }
        }
        #expect(try strayFiles(in: dir, keeping: []) == [])
    }

    @Test func missingDirectoryFails() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("no/such/dir/model.safetensors")
        let error = checkpointError { try Checkpoint.save(NetLike(), to: url) }
        guard case .writeFailed(let path, _)? = error else {
            Issue.record("expected writeFailed")
            return
        }
        #expect(path == url.path)
        #expect(error?.description.contains("model.safetensors") == true)
    }

    /// The rename onto a non-empty directory fails after the data was written: the directory and
    /// its content survive and the temporary file is removed.
    @Test func destinationThatCannotBeReplacedStaysIntact() throws {
        let dir = try Support.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        try Data([42]).write(to: url.appendingPathComponent("inside"))
        #expect(throws: CheckpointError.self) { try Checkpoint.save(NetLike(), to: url) }
        #expect(try Data(contentsOf: url.appendingPathComponent("inside")) == Data([42]))
        #expect(try strayFiles(in: dir, keeping: ["taken"]) == [])
    }

    /// A location nobody may create files in, root included.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self"), "needs Linux /proc"))
    func readOnlyFileSystemFails() throws {
        let url = URL(fileURLWithPath: "/proc/anomalykit-model.safetensors")
        let error = checkpointError { try Checkpoint.save(NetLike(), to: url) }
        guard case .writeFailed(let path, let reason)? = error else {
            Issue.record("expected writeFailed")
            return
        }
        #expect(path == url.path && reason.contains("cannot create"))
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    /// Root ignores directory permissions, so this runs only for ordinary users.
    @Test(.enabled(if: geteuid() != 0, "root can write into read-only directories"))
    func readOnlyDirectoryLeavesTheOldFileIntact() throws {
        let dir = try Support.temporaryDirectory()
        defer {
            chmod(dir.path, 0o755)
            try? FileManager.default.removeItem(at: dir)
        }
        let url = dir.appendingPathComponent("model.safetensors")
        try Checkpoint.save(NetLike(seed: 1), to: url)
        let original = try Data(contentsOf: url)
        chmod(dir.path, 0o555)
        #expect(throws: CheckpointError.self) { try Checkpoint.save(NetLike(seed: 2), to: url) }
        #expect(try Data(contentsOf: url) == original)
    }
}
