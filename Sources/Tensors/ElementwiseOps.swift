/// Element-wise math, broadcasting and comparisons, each with its derivative.

/// The broadcast shape of two shapes (NumPy rules), or a stop naming the op and both shapes.
public func broadcastShape(_ a: [Int], _ b: [Int], op: String) -> [Int] {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        precondition(da == db || da == 1 || db == 1, "\(op): shapes \(a) and \(b) are not broadcast-compatible")
        out[i] = da == 1 ? db : da
    }
    return out
}

extension Tensor {
    // MARK: Unary

    func unaryResult(_ op: UnaryOp, _ name: String, backward: @escaping (Tensor, Tensor) -> Tensor) -> Tensor {
        let out = Tensor(uninitializedShape: shape, device: device)
        device.backend.unary(op, self, into: out)
        let saved = out.detached()
        return Tensor.record(out, name, [self]) { g in [backward(g, saved)] }
    }

    func applying(_ op: UnaryOp) -> Tensor {
        let out = Tensor(uninitializedShape: shape, device: device)
        device.backend.unary(op, self, into: out)
        return out
    }

    public static prefix func - (x: Tensor) -> Tensor {
        x.unaryResult(.neg, "neg") { g, _ in -g }
    }

    public func exp() -> Tensor { unaryResult(.exp, "exp") { g, y in g * y } }
    public func log() -> Tensor {
        let x = detached()
        return unaryResult(.log, "log") { g, _ in g / x }
    }
    public func sqrt() -> Tensor { unaryResult(.sqrt, "sqrt") { g, y in g / (y * 2) } }
    public func rsqrt() -> Tensor {
        // d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
        unaryResult(.rsqrt, "rsqrt") { g, y in g * y * y * y * -0.5 }
    }
    public func abs() -> Tensor {
        let x = detached()
        return unaryResult(.abs, "abs") { g, _ in g * x.applying(.sign) }
    }
    public func relu() -> Tensor { unaryResult(.relu, "relu") { g, y in g * y.applying(.positiveMask) } }
    public func leakyRelu(_ slope: Float = 0.01) -> Tensor {
        let x = detached()
        return unaryResult(.leakyRelu(slope: slope), "leakyRelu") { g, _ in
            let mask = x.applying(.positiveMask)  // 1 or 0
            return g * (mask * (1 - slope) + slope)
        }
    }
    public func sigmoid() -> Tensor { unaryResult(.sigmoid, "sigmoid") { g, y in g * y * (1 - y) } }
    public func tanh() -> Tensor { unaryResult(.tanh, "tanh") { g, y in g * (1 - y * y) } }
    /// log(1 + eˣ), computed stably.
    public func softplus() -> Tensor {
        let x = detached()
        return unaryResult(.softplus, "softplus") { g, _ in g * x.applying(.sigmoid) }
    }
    public func sin() -> Tensor {
        let x = detached()
        return unaryResult(.sin, "sin") { g, _ in g * x.applying(.cos) }
    }
    public func cos() -> Tensor {
        let x = detached()
        return unaryResult(.cos, "cos") { g, _ in -(g * x.applying(.sin)) }
    }
    /// arccos with the input clamped to [−1, 1]; the derivative uses 1/√max(1−x², 1e−12).
    public func acos() -> Tensor {
        let x = detached()
        return unaryResult(.acos, "acos") { g, _ in
            let inside = x.applying(.insideMask(min: -1, max: 1))
            let d = (1 - x * x).applying(.clamp(min: 1e-12, max: .greatestFiniteMagnitude)).applying(.rsqrt)
            return -(g * d * inside)
        }
    }
    public func squared() -> Tensor {
        let x = detached()
        return unaryResult(.square, "square") { g, _ in g * x * 2 }
    }
    public func pow(_ p: Float) -> Tensor {
        let x = detached()
        return unaryResult(.powScalar(p), "pow") { g, _ in g * x.applying(.powScalar(p - 1)) * p }
    }
    /// Values limited to [min, max]; the gradient passes where the input is inside.
    public func clamped(min lo: Float = -.greatestFiniteMagnitude, max hi: Float = .greatestFiniteMagnitude) -> Tensor {
        let x = detached()
        return unaryResult(.clamp(min: lo, max: hi), "clamp") { g, _ in g * x.applying(.insideMask(min: lo, max: hi)) }
    }

    // MARK: Binary

    func binaryResult(_ op: BinaryOp, _ other: Tensor, _ name: String) -> Tensor {
        precondition(device == other.device, "\(name): tensors on \(device) and \(other.device)")
        let out = Tensor(uninitializedShape: broadcastShape(shape, other.shape, op: name), device: device)
        device.backend.binary(op, self, other, into: out)
        return out
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = a.binaryResult(.add, b, "add")
        let sa = a.shape, sb = b.shape
        return record(out, "add", [a, b]) { g in [g.sumToShape(sa), g.sumToShape(sb)] }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = a.binaryResult(.sub, b, "sub")
        let sa = a.shape, sb = b.shape
        return record(out, "sub", [a, b]) { g in [g.sumToShape(sa), b.requiresGrad ? (-g).sumToShape(sb) : nil] }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = a.binaryResult(.mul, b, "mul")
        let x = a.detached(), y = b.detached(), ra = a.requiresGrad, rb = b.requiresGrad
        return record(out, "mul", [a, b]) { g in
            [ra ? (g * y).sumToShape(x.shape) : nil, rb ? (g * x).sumToShape(y.shape) : nil]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = a.binaryResult(.div, b, "div")
        let x = a.detached(), y = b.detached(), ra = a.requiresGrad, rb = b.requiresGrad
        return record(out, "div", [a, b]) { g in
            [ra ? (g / y).sumToShape(x.shape) : nil, rb ? (-(g * x / (y * y))).sumToShape(y.shape) : nil]
        }
    }

    /// Element-wise aᵇ (a > 0 where b is differentiated).
    public func pow(_ exponent: Tensor) -> Tensor {
        let out = binaryResult(.pow, exponent, "pow")
        let x = detached(), y = exponent.detached(), saved = out.detached()
        let rx = requiresGrad, ry = exponent.requiresGrad
        return Tensor.record(out, "pow", [self, exponent]) { g in
            [rx ? (g * y * x.binaryResult(.pow, y - 1, "pow")).sumToShape(x.shape) : nil,
             ry ? (g * saved * x.applying(.log)).sumToShape(y.shape) : nil]
        }
    }

    /// Element-wise maximum; ties send the gradient to `self`.
    public func maximum(_ other: Tensor) -> Tensor {
        let out = binaryResult(.maximum, other, "maximum")
        let x = detached(), y = other.detached()
        return Tensor.record(out, "maximum", [self, other]) { g in
            let m = x.binaryResult(.greaterEqual, y, "maximum")
            return [(g * m).sumToShape(x.shape), (g * (1 - m)).sumToShape(y.shape)]
        }
    }

    /// Element-wise minimum; ties send the gradient to `self`.
    public func minimum(_ other: Tensor) -> Tensor {
        let out = binaryResult(.minimum, other, "minimum")
        let x = detached(), y = other.detached()
        return Tensor.record(out, "minimum", [self, other]) { g in
            let m = x.binaryResult(.lessEqual, y, "minimum")
            return [(g * m).sumToShape(x.shape), (g * (1 - m)).sumToShape(y.shape)]
        }
    }

    // Scalars on either side.
    public static func + (a: Tensor, b: Float) -> Tensor {
        a.unaryResult(.addScalar(b), "addScalar") { g, _ in g }
    }
    public static func + (a: Float, b: Tensor) -> Tensor { b + a }
    public static func - (a: Tensor, b: Float) -> Tensor { a + (-b) }
    public static func - (a: Float, b: Tensor) -> Tensor { (-b) + a }
    public static func * (a: Tensor, b: Float) -> Tensor {
        a.unaryResult(.mulScalar(b), "mulScalar") { g, _ in g.applying(.mulScalar(b)) }
    }
    public static func * (a: Float, b: Tensor) -> Tensor { b * a }
    public static func / (a: Tensor, b: Float) -> Tensor { a * (1 / b) }
    public static func / (a: Float, b: Tensor) -> Tensor { Tensor.full([], a, device: b.device) / b }

    // MARK: Comparisons (no gradient; 1 where true, else 0)

    public func equal(_ other: Tensor) -> Tensor { binaryResult(.equal, other, "equal") }
    public func notEqual(_ other: Tensor) -> Tensor { binaryResult(.notEqual, other, "notEqual") }
    public func less(_ other: Tensor) -> Tensor { binaryResult(.less, other, "less") }
    public func lessEqual(_ other: Tensor) -> Tensor { binaryResult(.lessEqual, other, "lessEqual") }
    public func greater(_ other: Tensor) -> Tensor { binaryResult(.greater, other, "greater") }
    public func greaterEqual(_ other: Tensor) -> Tensor { binaryResult(.greaterEqual, other, "greaterEqual") }
    public func greater(_ value: Float) -> Tensor { greater(Tensor(value)) }
    public func less(_ value: Float) -> Tensor { less(Tensor(value)) }

    /// `condition ? a : b` element-wise (condition is 1/0), broadcast; differentiable in a and b.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let c = condition.detached()
        let shape = broadcastShape(broadcastShape(condition.shape, a.shape, op: "where"), b.shape, op: "where")
        let notC = 1 - c
        let out = withoutGradients { (c * a.detached() + notC * b.detached()).expanded(to: shape) }
        let sa = a.shape, sb = b.shape
        return record(out, "where", [a, b]) { g in [(g * c).sumToShape(sa), (g * notC).sumToShape(sb)] }
    }

    /// Sums a broadcast gradient back down to `target` (the reverse of broadcasting).
    public func sumToShape(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        var result = self
        let lead = shape.count - target.count
        for _ in 0..<lead { result = result.sum(axis: 0) }
        for (i, d) in target.enumerated() where d == 1 && result.shape[i] != 1 {
            result = result.sum(axis: i, keepDims: true)
        }
        precondition(result.shape == target, "sumToShape: cannot reduce \(shape) to \(target)")
        return result
    }
}
