import Datasets
import Foundation
import Tensors
import Testing

/// Reads the JSON fixtures written by `scripts/fixtures/augment_fixtures.py`.
struct AugmentFixture {
    let root: [String: Any]

    init(_ name: String) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/augment/\(name)")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        root = try #require(object as? [String: Any], "fixture \(name) is not a JSON object")
    }

    static func decode(_ any: Any?) -> (shape: [Int], data: [Double]) {
        guard let dict = any as? [String: Any], let shape = dict["shape"] as? [Any], let data = dict["data"] as? [Any]
        else {
            fatalError("fixture entry is not {shape, data}")
        }
        return (shape.map { ($0 as! NSNumber).intValue }, data.map { ($0 as! NSNumber).doubleValue })
    }

    static func tensor(_ any: Any?, scale: Double = 1) -> Tensor {
        let (shape, data) = decode(any)
        return Tensor(data.map { Float($0 * scale) }, shape: shape)
    }

    func tensor(_ key: String, scale: Double = 1) -> Tensor { Self.tensor(root[key], scale: scale) }
    func floats(_ key: String) -> [Float] { Self.decode(root[key]).data.map { Float($0) } }
    func ints(_ key: String) -> [Int] { Self.decode(root[key]).data.map { Int($0) } }
}

/// Largest absolute difference; the shapes must agree.
func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    #expect(a.shape == b.shape, "shapes differ: \(a.shape) vs \(b.shape)")
    guard a.shape == b.shape else { return .infinity }
    var worst: Float = 0
    for i in 0..<a.count { worst = max(worst, abs(a.pointer[i] - b.pointer[i])) }
    return worst
}

/// A batch of uniform values in [0, 1).
func randomImages(_ shape: [Int], seed: UInt64) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor.uniform(shape, using: &generator)
}

/// Image `index` of a batch as its own batch of one.
func image(_ batch: Tensor, _ index: Int) -> Tensor {
    let size = batch.shape.dropFirst().reduce(1, *)
    return Tensor(Array(batch.toArray()[(index * size)..<((index + 1) * size)]), shape: [1] + batch.shape.dropFirst())
}

func allInUnitInterval(_ t: Tensor) -> Bool {
    let p = t.pointer
    for i in 0..<t.count where !(p[i] >= 0 && p[i] <= 1) { return false }
    return true
}
