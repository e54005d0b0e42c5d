import Foundation

/// An n-dimensional array of Float32 values on a device, with reverse-mode autodiff.
///
/// Tensors are immutable values from the user's point of view: every op returns a new tensor
/// (optimizers update parameters in place through `assign(_:)`/kernels). Storage is always
/// row-major contiguous; `reshaped` and leading-axis slices share storage with their source.
/// Integer data (labels, indices) is passed as `[Int]`.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    /// Dimensions, outermost first. A scalar has shape `[]`.
    public let shape: [Int]
    public let storage: TensorStorage
    /// Element offset of this tensor's first value inside `storage`.
    public let offset: Int
    /// Whether gradients flow to (and, for leaves, accumulate in) this tensor.
    public var requiresGrad: Bool
    /// Accumulated gradient of a leaf after `backward()`; `nil` until then.
    public var grad: Tensor?
    /// The op that produced this tensor and how to differentiate it (nil for leaves).
    var gradFn: GradFn?

    /// Number of values.
    public let count: Int

    init(shape: [Int], storage: TensorStorage, offset: Int = 0, requiresGrad: Bool = false) {
        self.shape = shape
        self.storage = storage
        self.offset = offset
        self.requiresGrad = requiresGrad
        self.count = shape.reduce(1, *)
        precondition(offset + count <= storage.count, "tensor view exceeds its storage")
    }

    /// A new tensor whose values are not initialised (kernels fill it).
    init(uninitializedShape shape: [Int], device: Device = .cpu) {
        for d in shape { precondition(d >= 0, "negative dimension in shape \(shape)") }
        let n = shape.reduce(1, *)
        self.shape = shape
        self.storage = TensorStorage(count: n, device: device)
        self.offset = 0
        self.requiresGrad = false
        self.count = n
    }

    /// A tensor holding `values` in row-major order.
    public convenience init(_ values: [Float], shape: [Int], device: Device = .cpu) {
        precondition(
            shape.reduce(1, *) == values.count,
            "Tensor(_:shape:): \(values.count) values do not fill shape \(shape)")
        self.init(uninitializedShape: shape, device: .cpu)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
        }
        precondition(device == .cpu, "create CPU tensors, then move them with to(_:)")
    }

    /// A 1-D tensor.
    public convenience init(_ values: [Float]) { self.init(values, shape: [values.count]) }

    /// A scalar (shape `[]`).
    public convenience init(_ value: Float) { self.init([value], shape: []) }

    /// Values filled with `value`.
    public static func full(_ shape: [Int], _ value: Float, device: Device = .cpu) -> Tensor {
        let t = Tensor(uninitializedShape: shape, device: device)
        t.pointer.update(repeating: value, count: t.count)
        return t
    }

    public static func zeros(_ shape: [Int], device: Device = .cpu) -> Tensor { full(shape, 0, device: device) }
    public static func ones(_ shape: [Int], device: Device = .cpu) -> Tensor { full(shape, 1, device: device) }
    public static func zeros(like t: Tensor) -> Tensor { zeros(t.shape, device: t.device) }
    public static func ones(like t: Tensor) -> Tensor { ones(t.shape, device: t.device) }

    /// 0, 1, …, n−1.
    public static func arange(_ n: Int) -> Tensor { Tensor((0..<n).map { Float($0) }) }

    /// The identity matrix n×n.
    public static func eye(_ n: Int) -> Tensor {
        let t = zeros([n, n])
        for i in 0..<n { t.pointer[i * n + i] = 1 }
        return t
    }

    public var device: Device { storage.device }
    public var rank: Int { shape.count }
    /// Pointer to the first value (CPU tensors).
    public var pointer: UnsafeMutablePointer<Float> { storage.pointer + offset }

    /// The values in row-major order (copied to the host).
    public func toArray() -> [Float] {
        Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// The single value of a one-element tensor.
    public func item() -> Float {
        precondition(count == 1, "item(): tensor of shape \(shape) has \(count) values, not 1")
        return pointer[0]
    }

    /// A copy on `device` (explicit host↔device transfer). Same device: returns `self`.
    public func to(_ device: Device) -> Tensor {
        if device == self.device { return self }
        fatalError("transfer to \(device) needs the CUDA backend (not available in this build)")
    }

    /// The same values, cut off from the autodiff graph (stop-gradient). Shares storage.
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage, offset: offset) }

    /// Makes this tensor a leaf that accumulates gradients.
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        precondition(gradFn == nil, "requiringGrad(): only leaves (not results of ops) can be marked")
        requiresGrad = flag
        return self
    }

    /// Overwrites this tensor's values with `other`'s (same count), outside autodiff. Used by
    /// optimizers and checkpoint loading.
    public func assign(_ other: Tensor) {
        precondition(other.count == count, "assign: shape \(other.shape) into \(shape)")
        pointer.update(from: other.pointer, count: count)
    }

    /// Whether every value is finite.
    public var isFinite: Bool {
        let p = pointer
        for i in 0..<count where !p[i].isFinite { return false }
        return true
    }

    public var description: String {
        let values = toArray()
        let shown = values.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(values.count > 8 ? ", …" : "")])"
    }
}

/// Number of elements of a shape.
@inline(__always) func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

/// Row-major strides of a shape.
@inline(__always) func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i] = s
        s *= shape[i]
    }
    return strides
}

/// Resolves a possibly negative axis against a rank; programmer errors stop with the op's name.
@inline(__always) func normalizeAxis(_ axis: Int, rank: Int, op: String) -> Int {
    let a = axis < 0 ? axis + rank : axis
    precondition(a >= 0 && a < max(rank, 1), "\(op): axis \(axis) out of range for rank \(rank)")
    return a
}
