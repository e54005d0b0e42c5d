import Foundation
import Tensors
import Testing

/// One case of a PyTorch fixture file written by scripts/fixtures/nn_fixtures.py.
struct NNFixture {
    let fields: [String: Any]

    var name: String { fields["name"] as? String ?? "?" }

    func has(_ key: String) -> Bool { fields[key] is [String: Any] }

    func tensor(_ key: String) -> Tensor {
        guard let t = fields[key] as? [String: Any], let shape = t["shape"] as? [Int], let data = t["data"] as? [Double]
        else {
            fatalError("fixture \(name): no tensor '\(key)'")
        }
        return Tensor(data.map { Float($0) }, shape: shape)
    }

    func optionalTensor(_ key: String) -> Tensor? { has(key) ? tensor(key) : nil }

    func size(_ key: String) -> Size2D {
        guard let v = fields[key] as? [Int], v.count == 2 else { fatalError("fixture \(name): no pair '\(key)'") }
        return Size2D(v[0], v[1])
    }

    func bool(_ key: String) -> Bool { fields[key] as? Bool ?? false }
    func float(_ key: String) -> Float { Float(fields[key] as? Double ?? .nan) }
    func string(_ key: String) -> String { fields[key] as? String ?? "" }
}

/// The cases of Tests/TensorsTests/Fixtures/nn/<file>.
func loadNNFixtures(_ file: String) -> [NNFixture] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/nn").appendingPathComponent(file)
    guard let data = try? Data(contentsOf: url),
        let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
        let cases = root["cases"] as? [[String: Any]]
    else {
        Issue.record("cannot read fixture file \(url.path)")
        return []
    }
    return cases.map(NNFixture.init)
}

/// Expects equal shapes and |actual − expected| ≤ atol + rtol·|expected| everywhere, with atol
/// relative to the largest expected magnitude (so float32 rounding of long sums passes).
func expectClose(
    _ actual: Tensor?, _ expected: Tensor, rtol: Float = 1e-5, atol: Float = 1e-5, _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let actual else {
        Issue.record("\(what): missing (expected shape \(expected.shape))", sourceLocation: sourceLocation)
        return
    }
    guard actual.shape == expected.shape else {
        Issue.record("\(what): shape \(actual.shape), expected \(expected.shape)", sourceLocation: sourceLocation)
        return
    }
    let a = actual.toArray()
    let e = expected.toArray()
    let scale = max(1, e.map { abs($0) }.max() ?? 0)
    for i in 0..<a.count where !(abs(a[i] - e[i]) <= atol * scale + rtol * abs(e[i])) {
        Issue.record("\(what): element \(i) is \(a[i]), expected \(e[i])", sourceLocation: sourceLocation)
        return
    }
}
