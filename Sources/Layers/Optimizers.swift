import CKernels
import Foundation
import Tensors

// Optimizers that update parameters in place, mirroring PyTorch's update rules (the single-tensor
// code paths of torch.optim, which PyTorch uses for CPU tensors). Each update is one fused loop
// per parameter over raw pointers, split across the cores for large tensors; nothing is recorded
// for autodiff. Typical use:
//
//     let optimizer = Adam(parameters: model.parameters(), learningRate: 1e-3)
//     for batch in batches {
//         optimizer.zeroGradients()
//         loss(model, batch).backward()
//         optimizer.learningRate = schedule.learningRate(at: epoch)
//         optimizer.step()
//     }

/// Parameters that share optimisation settings (PyTorch's param group).
public struct ParameterGroup: Sendable {
    public var parameters: [Tensor]
    /// Multiplies the optimizer's `learningRate` for this group.
    public var learningRateScale: Float
    /// This group's weight decay; `nil` uses the optimizer's.
    public var weightDecay: Float?
    /// LARS only: whether the layer-wise trust ratio scales this group's updates.
    public var adaptsLearningRate: Bool

    public init(
        _ parameters: [Tensor], learningRateScale: Float = 1, weightDecay: Float? = nil,
        adaptsLearningRate: Bool = true
    ) {
        self.parameters = parameters
        self.learningRateScale = learningRateScale
        self.weightDecay = weightDecay
        self.adaptsLearningRate = adaptsLearningRate
    }

    /// Whether a parameter is a normalisation scale/shift or a bias: rank ≤ 1 (BatchNorm and
    /// LayerNorm weights and biases, Linear and convolution biases) or a name ending in "bias".
    public static func isNormOrBias(name: String, tensor: Tensor) -> Bool {
        tensor.rank <= 1 || name.hasSuffix("bias")
    }

    /// The module's parameters in two groups (empty groups are left out): weights with the
    /// optimizer's weight decay and LARS adaptation, and norm scales/shifts and biases (see
    /// `isNormOrBias`) with no weight decay and no LARS adaptation — the SimCLR convention.
    public static func excludingNormAndBias(_ module: Module, learningRateScale: Float = 1) -> [ParameterGroup] {
        var decayed: [Tensor] = []
        var exempt: [Tensor] = []
        for (name, tensor) in module.namedParameters() {
            if isNormOrBias(name: name, tensor: tensor) { exempt.append(tensor) } else { decayed.append(tensor) }
        }
        var groups: [ParameterGroup] = []
        if !decayed.isEmpty { groups.append(ParameterGroup(decayed, learningRateScale: learningRateScale)) }
        if !exempt.isEmpty {
            groups.append(
                ParameterGroup(exempt, learningRateScale: learningRateScale, weightDecay: 0, adaptsLearningRate: false))
        }
        return groups
    }
}

/// Per-parameter optimizer state: the number of updates applied and the named buffers
/// (PyTorch's names: `momentum_buffer`, `exp_avg`, `exp_avg_sq`).
public final class OptimizerState {
    public internal(set) var step: Int = 0
    public internal(set) var buffers: [String: Tensor] = [:]
    init() {}
}

/// The shared machinery: parameter groups, the learning rate, lazily created per-parameter
/// state keyed by parameter identity, `step()` and `zeroGradients()`. Subclasses implement
/// `update(_:gradient:state:learningRate:weightDecay:group:)`.
open class Optimizer {
    /// The base learning rate; schedules set it before each step. A group's rate is this times
    /// its `learningRateScale`.
    public var learningRate: Float
    /// Weight decay for groups that do not set their own.
    public var weightDecay: Float
    public private(set) var groups: [ParameterGroup]
    private var states: [ObjectIdentifier: OptimizerState] = [:]

    public init(groups: [ParameterGroup], learningRate: Float, weightDecay: Float) {
        var seen = Set<ObjectIdentifier>()
        for group in groups {
            for p in group.parameters {
                precondition(
                    seen.insert(ObjectIdentifier(p)).inserted,
                    "optimizer: a parameter of shape \(p.shape) appears in more than one group")
                precondition(p.device == .cpu, "optimizer: parameters on \(p.device) are not supported yet")
            }
        }
        self.groups = groups
        self.learningRate = learningRate
        self.weightDecay = weightDecay
    }

    /// Every parameter of every group.
    public var parameters: [Tensor] { groups.flatMap(\.parameters) }

    /// Adds a group (its parameters must not already be optimised here).
    public func addGroup(_ group: ParameterGroup) {
        let known = Set(parameters.map(ObjectIdentifier.init))
        for p in group.parameters {
            precondition(
                !known.contains(ObjectIdentifier(p)), "optimizer: parameter of shape \(p.shape) is already in a group")
        }
        groups.append(group)
    }

    /// The state of `parameter`, or nil before its first update.
    public func state(for parameter: Tensor) -> OptimizerState? { states[ObjectIdentifier(parameter)] }

    /// Applies one update to every parameter that has a gradient (those with `grad == nil` are
    /// skipped and their state is untouched).
    public func step() {
        for group in groups {
            let lr = learningRate * group.learningRateScale
            let wd = group.weightDecay ?? weightDecay
            for parameter in group.parameters {
                guard let gradient = parameter.grad else { continue }
                precondition(
                    gradient.shape == parameter.shape,
                    "optimizer: gradient shape \(gradient.shape) differs from parameter shape \(parameter.shape)")
                let key = ObjectIdentifier(parameter)
                let state = states[key] ?? OptimizerState()
                states[key] = state
                state.step += 1
                update(parameter, gradient: gradient, state: state, learningRate: lr, weightDecay: wd, group: group)
            }
        }
    }

    /// Clears the gradient of every parameter (sets it to nil, like `zero_grad(set_to_none=True)`).
    public func zeroGradients() {
        for group in groups { for p in group.parameters { p.grad = nil } }
    }

    /// Updates one parameter in place. `state.step` already counts this update.
    open func update(
        _ parameter: Tensor, gradient: Tensor, state: OptimizerState, learningRate: Float, weightDecay: Float,
        group: ParameterGroup
    ) {
        fatalError("\(type(of: self)) must override update(_:gradient:state:learningRate:weightDecay:group:)")
    }

    /// The buffer `name` of `state`, created as zeros like `parameter` on first use; `isNew`
    /// tells whether it was just created. For subclasses' `update`.
    public final func buffer(_ name: String, of state: OptimizerState, like parameter: Tensor) -> (Tensor, isNew: Bool) {
        if let b = state.buffers[name] { return (b, false) }
        let b = Tensor.zeros(like: parameter)
        state.buffers[name] = b
        return (b, true)
    }
}

extension Optimizer {
    /// The per-parameter state as named tensors, for checkpoints that must resume training
    /// exactly: `<parameter name>.<buffer>` (PyTorch's buffer names) and `<parameter name>.step`
    /// (the update count, exact in Float32 up to 2^24 updates). `names` gives each parameter's
    /// dotted name (`Module.namedParameters()`); parameters without state yet are left out.
    public func namedState(parameterNames names: [(name: String, tensor: Tensor)]) -> [(name: String, tensor: Tensor)] {
        var result: [(String, Tensor)] = []
        for (name, parameter) in names {
            guard let state = states[ObjectIdentifier(parameter)] else { continue }
            result.append(("\(name).step", Tensor([Float(state.step)])))
            for key in state.buffers.keys.sorted() { result.append(("\(name).\(key)", state.buffers[key]!)) }
        }
        return result
    }

    /// Restores the state written by `namedState(parameterNames:)`: every stored entry must name
    /// a parameter of `names` with a buffer of that parameter's shape. Replaces any current state.
    public func loadNamedState(_ stored: [String: Tensor], parameterNames names: [(name: String, tensor: Tensor)])
        throws(OptimizerStateError)
    {
        var restored: [ObjectIdentifier: OptimizerState] = [:]
        var used = Set<String>()
        for (name, parameter) in names {
            guard let step = stored["\(name).step"] else { continue }
            used.insert("\(name).step")
            let state = OptimizerState()
            state.step = Int(step.toArray().first ?? 0)
            for (key, tensor) in stored where key.hasPrefix("\(name).") && key != "\(name).step" {
                let bufferName = String(key.dropFirst(name.count + 1))
                guard !bufferName.contains(".") else { continue }
                guard tensor.shape == parameter.shape else {
                    throw .shapeMismatch(key: key, stored: tensor.shape, parameter: parameter.shape)
                }
                state.buffers[bufferName] = tensor.to(parameter.device)
                used.insert(key)
            }
            restored[ObjectIdentifier(parameter)] = state
        }
        if let unknown = stored.keys.sorted().first(where: { !used.contains($0) }) { throw .unknownEntry(unknown) }
        states = restored
    }
}

/// A stored optimizer state that does not fit the parameters it is loaded for.
public enum OptimizerStateError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(key: String, stored: [Int], parameter: [Int])
    case unknownEntry(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let key, let stored, let parameter):
            return "optimizer state \(key) has shape \(stored), its parameter has shape \(parameter)"
        case .unknownEntry(let key): return "optimizer state \(key) belongs to no parameter of the model"
        }
    }
}

/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2
/// weight decay (added to the gradient), exactly as `torch.optim.SGD`:
///
///     d ← g + wd·p
///     buf ← d (first step) or m·buf + (1 − dampening)·d
///     d ← d + m·buf (Nesterov) or buf
///     p ← p − lr·d
public final class SGD: Optimizer {
    public var momentum: Float
    public var dampening: Float
    public var nesterov: Bool

    public init(
        groups: [ParameterGroup], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
        nesterov: Bool = false, weightDecay: Float = 0
    ) {
        precondition(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov needs momentum > 0 and dampening 0")
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        super.init(groups: groups, learningRate: learningRate, weightDecay: weightDecay)
    }

    public convenience init(
        parameters: [Tensor], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
        nesterov: Bool = false, weightDecay: Float = 0
    ) {
        self.init(
            groups: [ParameterGroup(parameters)], learningRate: learningRate, momentum: momentum,
            dampening: dampening, nesterov: nesterov, weightDecay: weightDecay)
    }

    public override func update(
        _ parameter: Tensor, gradient: Tensor, state: OptimizerState, learningRate: Float, weightDecay: Float,
        group: ParameterGroup
    ) {
        momentumStep(
            parameter, gradient: gradient, state: state, optimizer: self, learningRate: learningRate,
            weightDecay: weightDecay, gradientScale: 1, momentum: momentum, dampening: dampening, nesterov: nesterov)
    }
}

/// The SGD-with-momentum loop shared by SGD and LARS: d = (g + wd·p)·scale, then momentum and
/// the update as in `SGD`. Loop-invariant choices are hoisted out of the loops so they vectorise
/// (wd = 0 and scale = 1 are applied arithmetically: exact for finite values).
private func momentumStep(
    _ parameter: Tensor, gradient: Tensor, state: OptimizerState, optimizer: Optimizer, learningRate: Float,
    weightDecay: Float, gradientScale: Float, momentum: Float, dampening: Float, nesterov: Bool
) {
    let p = parameter.pointer
    let g = UnsafePointer(gradient.pointer)
    let n = parameter.count
    let negativeRate = -learningRate
    let wd = weightDecay
    let scale = gradientScale
    if momentum == 0 {
        CPUThreads.parallelRanges(n, costPerItem: 2) { s, e in
            for i in s..<e { p[i] += negativeRate * ((g[i] + wd * p[i]) * scale) }
        }
        return
    }
    let (buffer, isNew) = optimizer.buffer("momentum_buffer", of: state, like: parameter)
    // First step: buf = d (the new buffer is zero, so 0·buf + 1·d); later m·buf + (1 − dampening)·d.
    let buf = buffer.pointer
    let m = momentum
    let decay = isNew ? 0 : momentum
    let keep = isNew ? 1 : 1 - dampening
    CPUThreads.parallelRanges(n, costPerItem: 4) { s, e in
        if nesterov {
            for i in s..<e {
                let d = (g[i] + wd * p[i]) * scale
                let b = buf[i] * decay + keep * d
                buf[i] = b
                p[i] += negativeRate * (d + m * b)
            }
        } else {
            for i in s..<e {
                let d = (g[i] + wd * p[i]) * scale
                let b = buf[i] * decay + keep * d
                buf[i] = b
                p[i] += negativeRate * b
            }
        }
    }
}

/// Adam with bias correction and ε outside the square root, exactly as `torch.optim.Adam`
/// (weight decay is L2: wd·p is added to the gradient):
///
///     g ← g + wd·p;  m ← m + (1−β₁)(g − m);  v ← β₂·v + (1−β₂)·g²
///     p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
public class Adam: Optimizer {
    public var beta1: Float
    public var beta2: Float
    public var eps: Float

    public init(
        groups: [ParameterGroup], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
        eps: Float = 1e-8, weightDecay: Float = 0
    ) {
        beta1 = betas.0
        beta2 = betas.1
        self.eps = eps
        super.init(groups: groups, learningRate: learningRate, weightDecay: weightDecay)
    }

    public convenience init(
        parameters: [Tensor], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
        eps: Float = 1e-8, weightDecay: Float = 0
    ) {
        self.init(
            groups: [ParameterGroup(parameters)], learningRate: learningRate, betas: betas, eps: eps,
            weightDecay: weightDecay)
    }

    public override func update(
        _ parameter: Tensor, gradient: Tensor, state: OptimizerState, learningRate: Float, weightDecay: Float,
        group: ParameterGroup
    ) {
        adamStep(parameter, gradient: gradient, state: state, learningRate: learningRate, l2: weightDecay, shrink: 1)
    }

    /// One Adam update with L2 coefficient `l2` added to the gradient, after multiplying the
    /// parameter by `shrink` (AdamW's 1 − lr·wd; 1 is exact).
    final func adamStep(
        _ parameter: Tensor, gradient: Tensor, state: OptimizerState, learningRate: Float, l2: Float, shrink: Float
    ) {
        let m = buffer("exp_avg", of: state, like: parameter).0.pointer
        let v = buffer("exp_avg_sq", of: state, like: parameter).0.pointer
        let p = parameter.pointer
        let g = UnsafePointer(gradient.pointer)
        let n = parameter.count
        let t = Double(state.step)
        let b1 = beta1
        let b2 = beta2
        let eps = eps
        let wd = l2
        // Scalars as torch forms them: Python doubles, cast to float at the kernel.
        let biasCorrection1 = 1 - Foundation.pow(Double(b1), t)
        let biasCorrection2Root = (1 - Foundation.pow(Double(b2), t)).squareRoot()
        let negativeStepSize = Float(-(Double(learningRate) / biasCorrection1))
        let rootCorrection = Float(biasCorrection2Root)
        let weight = 1 - b1  // m.lerp_(g, 1 − β₁), evaluated as torch's lerp does
        let keepSquare = 1 - b2
        CPUThreads.parallelRanges(n, costPerItem: 8) { s, e in
            ak_adam(p, g, m, v, shrink, wd, weight, b2, keepSquare, negativeStepSize, rootCorrection, eps, s, e)
        }
    }
}

/// Adam with decoupled weight decay, exactly as `torch.optim.AdamW`: first p ← p·(1 − lr·wd),
/// then the Adam update without L2. PyTorch's default weight decay is 0.01.
public final class AdamW: Adam {
    public override init(
        groups: [ParameterGroup], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
        eps: Float = 1e-8, weightDecay: Float = 1e-2
    ) {
        super.init(groups: groups, learningRate: learningRate, betas: betas, eps: eps, weightDecay: weightDecay)
    }

    public convenience init(
        parameters: [Tensor], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
        eps: Float = 1e-8, weightDecay: Float = 1e-2
    ) {
        self.init(
            groups: [ParameterGroup(parameters)], learningRate: learningRate, betas: betas, eps: eps,
            weightDecay: weightDecay)
    }

    public override func update(
        _ parameter: Tensor, gradient: Tensor, state: OptimizerState, learningRate: Float, weightDecay: Float,
        group: ParameterGroup
    ) {
        let shrink = Float(1 - Double(learningRate) * Double(weightDecay))
        adamStep(parameter, gradient: gradient, state: state, learningRate: learningRate, l2: 0, shrink: shrink)
    }
}

/// LARS as used by CSI: SGD with momentum wrapped by `torchlars.LARS` (kakaobrain), which hides
/// the weight decay from the inner SGD and applies it itself:
///
///     a = trust·‖p‖ / (‖g‖ + wd·‖p‖ + ε)   if ‖p‖ > 0 and ‖g‖ > 0, else 1
///     d = (g + wd·p)·a;   buf ← d (first step) or m·buf + d;   p ← p − lr·buf
///
/// The trust ratio `a` is per parameter tensor (norms over the whole tensor). Groups with
/// `adaptsLearningRate == false` use a = 1 (plain SGD momentum with their own weight decay), so
/// `ParameterGroup.excludingNormAndBias` gives the SimCLR convention (norm scales/shifts and
/// biases neither adapted nor decayed); passing all parameters in one group gives CSI's exact
/// behaviour (torchlars adapts and decays every tensor).
public final class LARS: Optimizer {
    public var momentum: Float
    public var trustCoefficient: Float
    public var eps: Float
    public var nesterov: Bool

    public init(
        groups: [ParameterGroup], learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0,
        trustCoefficient: Float = 1e-3, eps: Float = 1e-8, nesterov: Bool = false
    ) {
        precondition(!nesterov || momentum > 0, "LARS: Nesterov needs momentum > 0")
        self.momentum = momentum
        self.trustCoefficient = trustCoefficient
        self.eps = eps
        self.nesterov = nesterov
        super.init(groups: groups, learningRate: learningRate, weightDecay: weightDecay)
    }

    public convenience init(
        parameters: [Tensor], learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0,
        trustCoefficient: Float = 1e-3, eps: Float = 1e-8, nesterov: Bool = false
    ) {
        self.init(
            groups: [ParameterGroup(parameters)], learningRate: learningRate, momentum: momentum,
            weightDecay: weightDecay, trustCoefficient: trustCoefficient, eps: eps, nesterov: nesterov)
    }

    /// The trust ratio applied to a parameter with norm `parameterNorm` and gradient norm
    /// `gradientNorm` under weight decay `weightDecay`.
    public func trustRatio(parameterNorm: Float, gradientNorm: Float, weightDecay: Float) -> Float {
        guard parameterNorm > 0 && gradientNorm > 0 else { return 1 }
        return trustCoefficient * parameterNorm / (gradientNorm + weightDecay * parameterNorm + eps)
    }

    public override func update(
        _ parameter: Tensor, gradient: Tensor, state: OptimizerState, learningRate: Float, weightDecay: Float,
        group: ParameterGroup
    ) {
        var ratio: Float = 1
        if group.adaptsLearningRate {
            ratio = trustRatio(
                parameterNorm: euclideanNorm(parameter), gradientNorm: euclideanNorm(gradient), weightDecay: weightDecay
            )
        }
        momentumStep(
            parameter, gradient: gradient, state: state, optimizer: self, learningRate: learningRate,
            weightDecay: weightDecay, gradientScale: ratio, momentum: momentum, dampening: 0, nesterov: nesterov)
    }
}

/// ‖x‖₂ accumulated in Float64 over blocks, the blocks spread across the cores.
func euclideanNorm(_ x: Tensor) -> Float {
    let p = UnsafePointer(x.pointer)
    let n = x.count
    if n == 0 { return 0 }
    let blockSize = 4096
    let blocks = (n + blockSize - 1) / blockSize
    var partial = [Double](repeating: 0, count: blocks)
    partial.withUnsafeMutableBufferPointer { sums in
        let out = sums.baseAddress!
        CPUThreads.parallelRanges(blocks, costPerItem: blockSize) { s, e in
            for block in s..<e {
                var acc: Double = 0
                for i in (block * blockSize)..<min(n, (block + 1) * blockSize) {
                    let v = Double(p[i])
                    acc += v * v
                }
                out[block] = acc
            }
        }
    }
    return Float(partial.reduce(0, +).squareRoot())
}
