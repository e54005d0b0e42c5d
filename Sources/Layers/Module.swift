import Tensors

/// A network part whose stored properties are its state: `Tensor` properties are parameters
/// (when they require gradients) or buffers (running statistics and other non-trained state);
/// `Module` properties (also inside arrays and optionals) are sub-modules. Property names become
/// the dotted checkpoint keys (`layer1.0.conv1.weight`), as in PyTorch.
///
/// Tensors are updated in place by optimizers and checkpoint loading, so modules are declared
/// with `let` properties and never need to be rebuilt.
open class Module {
    /// Training mode (batch statistics, dropout) or evaluation mode.
    public private(set) var isTraining = true
    /// The tensors `freeze()` made untrainable, to make trainable again in `unfreeze()` (nil when
    /// not frozen). Bookkeeping, not state: the reflection walker skips it.
    var tensorsTrainableBeforeFreeze: [Tensor]?

    public init() {}

    /// Switches this module and every sub-module to training (`true`) or evaluation mode.
    public func train(_ on: Bool = true) {
        visitModules { $1.isTraining = on }
    }

    /// Switches to evaluation mode.
    public func eval() { train(false) }

    /// Every tensor of the module tree with its dotted name, in declaration order.
    public func namedTensors() -> [(name: String, tensor: Tensor)] {
        var result: [(String, Tensor)] = []
        collect(prefix: "", into: &result)
        return result
    }

    /// Trainable tensors (those that require gradients) with their names.
    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        namedTensors().filter { $0.tensor.requiresGrad }
    }

    /// Trainable tensors.
    public func parameters() -> [Tensor] { namedParameters().map(\.tensor) }

    /// Non-trainable state (for example BatchNorm running statistics) with names.
    public func namedBuffers() -> [(name: String, tensor: Tensor)] {
        namedTensors().filter { !$0.tensor.requiresGrad }
    }

    /// Number of trainable values.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    /// Clears the gradients of all parameters.
    public func zeroGradients() {
        for p in parameters() { p.grad = nil }
    }

    /// Sub-modules with their names (direct children only).
    public func namedChildren() -> [(name: String, module: Module)] {
        var result: [(String, Module)] = []
        for (label, value) in Module.children(of: self) {
            Module.flatten(value, name: label) { name, item in
                if let m = item as? Module { result.append((name, m)) }
            }
        }
        return result
    }

    /// Calls `body` on this module and every descendant, depth first.
    public func visitModules(prefix: String = "", _ body: (String, Module) -> Void) {
        body(prefix, self)
        for (name, child) in namedChildren() {
            child.visitModules(prefix: prefix.isEmpty ? name : "\(prefix).\(name)", body)
        }
    }

    private func collect(prefix: String, into result: inout [(String, Tensor)]) {
        for (label, value) in Module.children(of: self) {
            Module.flatten(value, name: label) { name, item in
                let full = prefix.isEmpty ? name : "\(prefix).\(name)"
                if let t = item as? Tensor {
                    result.append((full, t))
                } else if let m = item as? Module {
                    m.collect(prefix: full, into: &result)
                }
            }
        }
    }

    /// Stored properties of a module, walking up through superclasses (base first).
    private static func children(of module: Module) -> [(String, Any)] {
        var mirrors: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: module)
        while let m = mirror {
            mirrors.append(m)
            mirror = m.superclassMirror
        }
        var result: [(String, Any)] = []
        for m in mirrors.reversed() {
            for child in m.children {
                guard var label = child.label, label != "isTraining", label != "tensorsTrainableBeforeFreeze" else {
                    continue
                }
                if label.hasPrefix("_") { label.removeFirst() }
                result.append((label, child.value))
            }
        }
        return result
    }

    /// Unwraps optionals and arrays: arrays of modules get index names (`layers.0`).
    private static func flatten(_ value: Any, name: String, _ body: (String, Any) -> Void) {
        if value is Tensor || value is Module {
            body(name, value)
            return
        }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            if let wrapped = mirror.children.first { flatten(wrapped.value, name: name, body) }
        case .collection:
            for (i, element) in mirror.children.enumerated() { flatten(element.value, name: "\(name).\(i)", body) }
        default:
            break
        }
    }
}

/// A module that maps one tensor to one tensor.
public protocol Layer: Module {
    func callAsFunction(_ input: Tensor) -> Tensor
}

/// Layers applied in order.
public final class Sequential: Module, Layer {
    public let layers: [any Layer]

    public init(_ layers: [any Layer]) {
        self.layers = layers
    }

    public convenience init(_ layers: any Layer...) { self.init(layers) }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        layers.reduce(input) { x, layer in layer(x) }
    }
}

/// A parameter-free layer from a function (activations, flattening, reshaping).
public final class Lambda: Module, Layer {
    private let function: @Sendable (Tensor) -> Tensor

    public init(_ function: @escaping @Sendable (Tensor) -> Tensor) {
        self.function = function
    }

    public func callAsFunction(_ input: Tensor) -> Tensor { function(input) }

    public static var relu: Lambda { Lambda { $0.relu() } }
    public static func leakyRelu(_ slope: Float = 0.01) -> Lambda { Lambda { $0.leakyRelu(slope) } }
    public static var sigmoid: Lambda { Lambda { $0.sigmoid() } }
    public static var tanh: Lambda { Lambda { $0.tanh() } }
    public static var flatten: Lambda { Lambda { $0.flattened() } }
}

/// A fully connected layer y = x·Wᵀ + b, with W of shape [out, in] (PyTorch's layout and
/// default initialisation: U(−1/√in, 1/√in) for weight and bias).
public final class Linear: Module, Layer {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inputCount: Int, _ outputCount: Int, bias: Bool = true, using generator: inout SeededGenerator) {
        let bound = 1 / Float(inputCount).squareRoot()
        weight = Tensor.uniform([outputCount, inputCount], low: -bound, high: bound, using: &generator).requiringGrad()
        self.bias = bias ? Tensor.uniform([outputCount], low: -bound, high: bound, using: &generator).requiringGrad() : nil
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let y = matmul(input, weight, transposeB: true)
        return bias.map { y + $0 } ?? y
    }
}
