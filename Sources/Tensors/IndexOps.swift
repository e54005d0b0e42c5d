/// Gathering and scattering by integer indices.
extension Tensor {
    /// Rows (entries along `axis`) at `indices`, in order; repeated indices allowed.
    public func indexSelect(_ indices: [Int], axis: Int = 0) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "indexSelect")
        let (outer, size, inner) = split3(a)
        for i in indices { precondition(i >= 0 && i < size, "indexSelect: index \(i) out of range 0..<\(size) (shape \(shape))") }
        let idx = indices.map { Int32($0) }
        var outShape = shape
        outShape[a] = indices.count
        let out = Tensor(uninitializedShape: outShape, device: device)
        device.backend.gather(self, outer: outer, axisSize: size, inner: inner, indices: idx, into: out)
        let inShape = shape
        return Tensor.record(out, "indexSelect", [self]) { g in
            let grad = Tensor.zeros(inShape, device: g.device)
            g.device.backend.scatterAdd(g, outer: outer, axisSize: size, inner: inner, indices: idx, into: grad)
            return [grad]
        }
    }

    /// Per-row selection: out[i] = self[i, indices[i]] for a [N, C] tensor (e.g. the logit of
    /// each sample's label).
    public func gather(rowIndices indices: [Int]) -> Tensor {
        precondition(rank == 2 && indices.count == shape[0], "gather: need [N, C] and N indices, got \(shape) and \(indices.count)")
        let columns = shape[1]
        for i in indices { precondition(i >= 0 && i < columns, "gather: index \(i) out of range 0..<\(columns)") }
        let flat = indices.enumerated().map { $0.offset * columns + $0.element }
        return reshaped([count]).indexSelect(flat)
    }

    /// A zero tensor of `shape` with `self`'s entries added at `indices` along `axis`
    /// (repeated indices accumulate).
    public func scatterAdd(into shape: [Int], indices: [Int], axis: Int = 0) -> Tensor {
        let a = normalizeAxis(axis, rank: shape.count, op: "scatterAdd")
        precondition(self.shape[a] == indices.count, "scatterAdd: \(indices.count) indices for axis of size \(self.shape[a])")
        let outer = shape[..<a].reduce(1, *), size = shape[a], inner = shape[(a + 1)...].reduce(1, *)
        for i in indices { precondition(i >= 0 && i < size, "scatterAdd: index \(i) out of range 0..<\(size)") }
        let idx = indices.map { Int32($0) }
        let out = Tensor.zeros(shape, device: device)
        device.backend.scatterAdd(self, outer: outer, axisSize: size, inner: inner, indices: idx, into: out)
        return Tensor.record(out, "scatterAdd", [self]) { g in
            let grad = Tensor(uninitializedShape: self.shape, device: g.device)
            g.device.backend.gather(g, outer: outer, axisSize: size, inner: inner, indices: idx, into: grad)
            return [grad]
        }
    }

    /// [N, classes] one-hot rows for integer labels.
    public static func oneHot(_ labels: [Int], classes: Int) -> Tensor {
        let t = zeros([labels.count, classes])
        for (i, l) in labels.enumerated() {
            precondition(l >= 0 && l < classes, "oneHot: label \(l) out of range 0..<\(classes)")
            t.pointer[i * classes + l] = 1
        }
        return t
    }
}
