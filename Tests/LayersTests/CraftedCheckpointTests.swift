import Foundation
import Layers
import Testing

/// Checkpoints crafted to lie about their sizes (scripts/fixtures/crafted_inputs.py).
@Suite struct CraftedCheckpointTests {
    static func file(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DatasetsTests/Fixtures/crafted/\(name)")
    }

    /// A zero-sized tensor whose other dimensions overflow its strides: refused, both readers.
    @Test func zeroSizedTensorWithOverflowingStrides() {
        let url = Self.file("safetensors_strides.safetensors")
        for read in [{ _ = try Checkpoint.read(from: url) }, { _ = try Checkpoint.readArrays(from: url) }] {
            #expect {
                try read()
            } throws: { error in
                guard case CheckpointError.invalidDataOffsets(_, "w", let reason) = error else { return false }
                return reason.contains("needs more")
            }
        }
    }

    @Test func headerLengthOfTwoToTheSixtyFour() {
        let url = Self.file("safetensors_header_length.safetensors")
        #expect {
            _ = try Checkpoint.read(from: url)
        } throws: { error in
            guard case CheckpointError.headerLengthBeyondFile(_, let length, 10) = error else { return false }
            return length == UInt64.max
        }
    }
}
