/// Reductions along axes, each with its derivative.
extension Tensor {
    /// (outer, axisSize, inner) of this tensor viewed around `axis`.
    func split3(_ axis: Int) -> (Int, Int, Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    func reduced(_ op: ReduceOp, axis: Int, keepDims: Bool) -> Tensor {
        let (outer, size, inner) = split3(axis)
        var outShape = shape
        if keepDims { outShape[axis] = 1 } else { outShape.remove(at: axis) }
        let out = Tensor(uninitializedShape: outShape, device: device)
        device.backend.reduce(op, self, outer: outer, axisSize: size, inner: inner, into: out)
        return out
    }

    /// Sum of all values (a scalar).
    public func sum() -> Tensor { reshaped([count]).sum(axis: 0) }

    /// Sum along `axis`.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "sum")
        let out = reduced(.sum, axis: a, keepDims: keepDims)
        let inShape = shape
        var keptShape = shape
        keptShape[a] = 1
        return Tensor.record(out, "sum", [self]) { g in [g.reshaped(keptShape).expanded(to: inShape)] }
    }

    /// Sum along several axes.
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        let sorted = axes.map { normalizeAxis($0, rank: rank, op: "sum") }.sorted(by: >)
        var result = self
        for a in sorted { result = result.sum(axis: a, keepDims: true) }
        if !keepDims {
            var s = shape
            for a in sorted { s.remove(at: a) }
            result = result.reshaped(s)
        }
        return result
    }

    /// Mean of all values.
    public func mean() -> Tensor { sum() * (1 / Float(Swift.max(count, 1))) }

    /// Mean along `axis`.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "mean")
        return sum(axis: a, keepDims: keepDims) * (1 / Float(shape[a]))
    }

    /// Mean along several axes.
    public func mean(axes: [Int], keepDims: Bool = false) -> Tensor {
        let n = axes.map { shape[normalizeAxis($0, rank: rank, op: "mean")] }.reduce(1, *)
        return sum(axes: axes, keepDims: keepDims) * (1 / Float(n))
    }

    /// Variance along `axis` (population variance unless `unbiased`).
    public func variance(axis: Int, keepDims: Bool = false, unbiased: Bool = false) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "variance")
        let centred = self - mean(axis: a, keepDims: true)
        let n = Float(shape[a])
        return centred.squared().sum(axis: a, keepDims: keepDims) * (1 / (unbiased ? Swift.max(n - 1, 1) : n))
    }

    /// Maximum along `axis`; the gradient goes to the (first) arg-max.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor { extremum(.max, axis: axis, keepDims: keepDims) }

    /// Minimum along `axis`; the gradient goes to the (first) arg-min.
    public func min(axis: Int, keepDims: Bool = false) -> Tensor { extremum(.min, axis: axis, keepDims: keepDims) }

    /// Maximum of all values.
    public func max() -> Tensor { reshaped([count]).max(axis: 0) }
    /// Minimum of all values.
    public func min() -> Tensor { reshaped([count]).min(axis: 0) }

    private func extremum(_ op: ReduceOp, axis: Int, keepDims: Bool) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: op == .max ? "max" : "min")
        let out = reduced(op, axis: a, keepDims: keepDims)
        let (outer, size, inner) = split3(a)
        let x = detached(), inShape = shape
        return Tensor.record(out, op == .max ? "max" : "min", [self]) { g in
            let backend = x.device.backend
            let indices = backend.argReduce(max: op == .max, x, outer: outer, axisSize: size, inner: inner)
            let grad = Tensor.zeros(inShape, device: g.device)
            backend.scatterAlongAxis(
                g, outer: outer, axisSize: size, inner: inner, indices: indices.map { Int32($0) }, into: grad)
            return [grad]
        }
    }

    /// Index of the maximum along `axis` (no gradient).
    public func argmax(axis: Int) -> [Int] {
        let a = normalizeAxis(axis, rank: rank, op: "argmax")
        let (outer, size, inner) = split3(a)
        return device.backend.argReduce(max: true, self, outer: outer, axisSize: size, inner: inner)
    }

    /// Index of the minimum along `axis` (no gradient).
    public func argmin(axis: Int) -> [Int] {
        let a = normalizeAxis(axis, rank: rank, op: "argmin")
        let (outer, size, inner) = split3(a)
        return device.backend.argReduce(max: false, self, outer: outer, axisSize: size, inner: inner)
    }

    /// log Σ exp along `axis`, with the max-shift trick.
    public func logSumExp(axis: Int, keepDims: Bool = false) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "logSumExp")
        if a != rank - 1 {
            let moved = movingAxisToEnd(a).logSumExp(axis: -1, keepDims: false)
            if !keepDims { return moved }
            var s = shape
            s[a] = 1
            return moved.reshaped(s)
        }
        let columns = shape[a], rows = count / Swift.max(columns, 1)
        var outShape = shape
        if keepDims { outShape[a] = 1 } else { outShape.remove(at: a) }
        let out = Tensor(uninitializedShape: outShape, device: device)
        device.backend.logSumExp(self, rows: rows, columns: columns, into: out)
        let x = detached(), saved = out.detached()
        var keptShape = shape
        keptShape[a] = 1
        return Tensor.record(out, "logSumExp", [self]) { g in
            // d/dx = softmax(x) = exp(x − lse)
            let sm = (x - saved.reshaped(keptShape)).applying(.exp)
            return [sm * g.reshaped(keptShape)]
        }
    }

    /// Softmax along `axis` (default last).
    public func softmax(axis: Int = -1) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "softmax")
        if a != rank - 1 { return movingAxisToEnd(a).softmax().movingLastAxis(to: a) }
        let columns = shape[a], rows = count / Swift.max(columns, 1)
        let out = Tensor(uninitializedShape: shape, device: device)
        device.backend.softmax(self, rows: rows, columns: columns, log: false, into: out)
        let y = out.detached()
        return Tensor.record(out, "softmax", [self]) { g in
            let dot = (g * y).sum(axis: -1, keepDims: true)
            return [y * (g - dot)]
        }
    }

    /// log-softmax along `axis` (default last), computed stably.
    public func logSoftmax(axis: Int = -1) -> Tensor {
        let a = normalizeAxis(axis, rank: rank, op: "logSoftmax")
        if a != rank - 1 { return movingAxisToEnd(a).logSoftmax().movingLastAxis(to: a) }
        let columns = shape[a], rows = count / Swift.max(columns, 1)
        let out = Tensor(uninitializedShape: shape, device: device)
        device.backend.softmax(self, rows: rows, columns: columns, log: true, into: out)
        let y = out.detached()
        return Tensor.record(out, "logSoftmax", [self]) { g in
            [g - y.applying(.exp) * g.sum(axis: -1, keepDims: true)]
        }
    }

    func movingAxisToEnd(_ axis: Int) -> Tensor {
        var order = Array(0..<rank)
        order.remove(at: axis)
        order.append(axis)
        return permuted(order)
    }

    func movingLastAxis(to axis: Int) -> Tensor {
        var order = Array(0..<(rank - 1))
        order.insert(rank - 1, at: axis)
        return permuted(order)
    }
}
