/// Views and data movement: reshape, permute, slice, expand, concat, stack, split.
/// `reshaped` and `slice` along axis 0 share storage; the others copy into a new
/// contiguous tensor (one strided-copy kernel), so every tensor stays row-major.
extension Tensor {
    /// The same values with a new shape (one dimension may be −1). Shares storage.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "reshape: cannot reshape \(shape) to \(newShape)")
            s[i] = count / known
        }
        precondition(s.reduce(1, *) == count, "reshape: cannot reshape \(shape) (\(count) values) to \(newShape)")
        if s == shape { return self }
        let out = Tensor(shape: s, storage: storage, offset: offset)
        let inShape = shape
        return Tensor.record(out, "reshape", [self]) { g in [g.reshaped(inShape)] }
    }

    /// [N, …] → [N, product of the rest].
    public func flattened(fromAxis axis: Int = 1) -> Tensor {
        reshaped(Array(shape[..<axis]) + [shape[axis...].reduce(1, *)])
    }

    /// Inserts a dimension of size 1 at `axis`.
    public func unsqueezed(axis: Int) -> Tensor {
        var s = shape
        s.insert(1, at: axis < 0 ? axis + rank + 1 : axis)
        return reshaped(s)
    }

    /// Removes a dimension of size 1 at `axis`.
    public func squeezed(axis: Int) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "squeeze")
        precondition(shape[a] == 1, "squeeze: axis \(axis) of shape \(shape) is not 1")
        var s = shape
        s.remove(at: a)
        return reshaped(s)
    }

    /// Dimensions reordered: output axis i is input axis `order[i]`.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.count == rank && Set(order) == Set(0..<rank), "permute: order \(order) invalid for shape \(shape)")
        if order == Array(0..<rank) { return self }
        let outShape = order.map { shape[$0] }
        let inStrides = contiguousStrides(shape)
        let out = Tensor(uninitializedShape: outShape, device: device)
        device.backend.stridedCopy(
            shape: outShape, src: self, srcOffset: offset, srcStrides: order.map { inStrides[$0] },
            dst: out, dstOffset: 0, dstStrides: contiguousStrides(outShape), accumulate: false)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return Tensor.record(out, "permute", [self]) { g in [g.permuted(inverse)] }
    }

    /// Swaps two axes (default: the last two).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        let i = normalizeAxis(a, rank: rank, op: "transpose"), j = normalizeAxis(b, rank: rank, op: "transpose")
        var order = Array(0..<rank)
        order.swapAt(i, j)
        return permuted(order)
    }

    /// Values `range` along `axis`. Along axis 0 this is a view sharing storage.
    public func slice(axis: Int = 0, _ range: Range<Int>) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "slice")
        precondition(
            range.lowerBound >= 0 && range.upperBound <= shape[a],
            "slice: range \(range) out of bounds for axis \(a) of shape \(shape)")
        var outShape = shape
        outShape[a] = range.count
        let inShape = shape
        let strides = contiguousStrides(shape)
        let out: Tensor
        if shape[..<a].allSatisfy({ $0 == 1 }) {
            out = Tensor(shape: outShape, storage: storage, offset: offset + range.lowerBound * strides[a])
        } else {
            out = Tensor(uninitializedShape: outShape, device: device)
            device.backend.stridedCopy(
                shape: outShape, src: self, srcOffset: offset + range.lowerBound * strides[a], srcStrides: strides,
                dst: out, dstOffset: 0, dstStrides: contiguousStrides(outShape), accumulate: false)
        }
        return Tensor.record(out, "slice", [self]) { g in
            let grad = Tensor.zeros(inShape, device: g.device)
            g.device.backend.stridedCopy(
                shape: outShape, src: g, srcOffset: g.offset, srcStrides: contiguousStrides(outShape),
                dst: grad, dstOffset: range.lowerBound * strides[a], dstStrides: strides, accumulate: false)
            return [grad]
        }
    }

    /// Broadcast to `target` (NumPy rules), materialised.
    public func expanded(to target: [Int]) -> Tensor {
        if target == shape { return self }
        precondition(broadcastShape(shape, target, op: "expand") == target, "expand: cannot expand \(shape) to \(target)")
        let padded = [Int](repeating: 1, count: target.count - rank) + shape
        let cs = contiguousStrides(padded)
        let srcStrides = (0..<target.count).map { padded[$0] == 1 ? 0 : cs[$0] }
        let out = Tensor(uninitializedShape: target, device: device)
        device.backend.stridedCopy(
            shape: target, src: self, srcOffset: offset, srcStrides: srcStrides,
            dst: out, dstOffset: 0, dstStrides: contiguousStrides(target), accumulate: false)
        let inShape = shape
        return Tensor.record(out, "expand", [self]) { g in [g.sumToShape(inShape)] }
    }

    /// Joins tensors along `axis`; other dimensions must agree.
    public static func concat(_ parts: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!parts.isEmpty, "concat: no tensors")
        let first = parts[0]
        let a = normalizeAxis(axis, rank: first.rank, op: "concat")
        for p in parts {
            var s1 = p.shape, s0 = first.shape
            precondition(s1.count == s0.count, "concat: shapes \(s0) and \(s1) differ in rank")
            s1[a] = 0; s0[a] = 0
            precondition(s1 == s0, "concat: shapes \(first.shape) and \(p.shape) differ outside axis \(a)")
        }
        var outShape = first.shape
        outShape[a] = parts.reduce(0) { $0 + $1.shape[a] }
        let out = Tensor(uninitializedShape: outShape, device: first.device)
        let outStrides = contiguousStrides(outShape)
        var start = 0
        var starts: [Int] = []
        for p in parts {
            starts.append(start)
            first.device.backend.stridedCopy(
                shape: p.shape, src: p, srcOffset: p.offset, srcStrides: contiguousStrides(p.shape),
                dst: out, dstOffset: start * outStrides[a], dstStrides: outStrides, accumulate: false)
            start += p.shape[a]
        }
        let sizes = parts.map { $0.shape[a] }
        return record(out, "concat", parts) { g in
            zip(starts, sizes).map { s, n in g.slice(axis: a, s..<(s + n)) }
        }
    }

    /// Stacks equally shaped tensors along a new `axis`.
    public static func stack(_ parts: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!parts.isEmpty, "stack: no tensors")
        let a = axis < 0 ? axis + parts[0].rank + 1 : axis
        return concat(parts.map { $0.unsqueezed(axis: a) }, axis: a)
    }

    /// Splits along `axis` into pieces of the given sizes.
    public func split(sizes: [Int], axis: Int = 0) -> [Tensor] {
        let a = normalizeAxis(axis, rank: rank, op: "split")
        precondition(sizes.reduce(0, +) == shape[a], "split: sizes \(sizes) do not add up to \(shape[a]) (shape \(shape))")
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return slice(axis: a, start..<(start + n))
        }
    }

    /// Splits along `axis` into `count` equal pieces.
    public func chunked(_ count: Int, axis: Int = 0) -> [Tensor] {
        let a = normalizeAxis(axis, rank: rank, op: "chunk")
        precondition(shape[a] % count == 0, "chunk: axis \(a) of shape \(shape) does not divide into \(count)")
        return split(sizes: [Int](repeating: shape[a] / count, count: count), axis: a)
    }
}
