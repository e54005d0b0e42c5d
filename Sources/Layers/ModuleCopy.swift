import Tensors

/// Why two modules' states do not match (keys are dotted `namedTensors()` names).
public enum ModuleStateMismatchError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The source module has no tensor with this name.
    case missingInSource(key: String)
    /// The source module has a tensor with this name that the destination lacks.
    case unexpectedInSource(key: String)
    /// Both have the tensor, with different shapes.
    case shapeMismatch(key: String, destination: [Int], source: [Int])

    public var description: String {
        switch self {
        case .missingInSource(let key): "module state mismatch: source has no tensor '\(key)'"
        case .unexpectedInSource(let key):
            "module state mismatch: source has tensor '\(key)' that the destination lacks"
        case .shapeMismatch(let key, let destination, let source):
            "module state mismatch: tensor '\(key)' has shape \(source) in the source, "
                + "\(destination) in the destination"
        }
    }
}

extension Module {
    /// Copies the values of every tensor (parameters and buffers) of `other`, a module of the same
    /// structure, into this module's tensors by dotted name. Values are copied (`Tensor.assign`);
    /// storages stay separate and gradients, trainability and freezing are not touched. Nothing is
    /// copied when the structures differ.
    /// - Throws: `ModuleStateMismatchError` naming the first missing, unexpected or reshaped key.
    public func copyState(from other: Module) throws {
        for (_, destination, source) in try tensorPairs(with: other) { destination.assign(source) }
    }

    /// One exponential-moving-average step towards `online` (BYOL's target network, mean teacher):
    /// for every parameter, target ← decay·target + (1 − decay)·online, through tensor ops with
    /// recording off. Tensors count as parameters when trainable in either module or made
    /// untrainable by `freeze()`, so a frozen target still averages its parameters.
    ///
    /// Buffers (BatchNorm running statistics, `numBatchesTracked`) are not averaged. With
    /// `copyingBuffers` (the default) they are copied from `online`, so a target used in
    /// evaluation mode has statistics that match the online network's; pass `false` to leave
    /// them to the target's own training-mode forward passes, as the PyTorch momentum-encoder
    /// implementations (MoCo, BYOL ports) do. (timm's model EMA averages them instead.)
    ///
    /// The modules must have the same structure (precondition; check it once with `copyState`).
    public func updateExponentialMovingAverage(from online: Module, decay: Float, copyingBuffers: Bool = true) {
        precondition((0...1).contains(decay), "updateExponentialMovingAverage: decay \(decay) is not in [0, 1]")
        let pairs: [(name: String, mine: Tensor, theirs: Tensor)]
        do { pairs = try tensorPairs(with: online) } catch {
            preconditionFailure("updateExponentialMovingAverage: \(error)")
        }
        let trainable = trainableTensorIdentities().union(online.trainableTensorIdentities())
        withoutGradients {
            for (_, target, source) in pairs {
                if trainable.contains(ObjectIdentifier(target)) || trainable.contains(ObjectIdentifier(source)) {
                    target.assign(target * decay + source * (1 - decay))
                } else if copyingBuffers {
                    target.assign(source)
                }
            }
        }
    }

    /// Runs `body` with every BatchNorm of this module tree normalising training-mode batches by
    /// their own statistics without moving its running statistics, then restores each layer's
    /// previous setting. For forward passes through a network that the step does not train (a
    /// frozen critic of another network's images), which must not leave their statistics in the
    /// buffers evaluation uses.
    public func holdingRunningStatistics<T>(_ body: () throws -> T) rethrows -> T {
        var layers: [(BatchNorm, Bool)] = []
        visitModules { _, module in
            if let norm = module as? BatchNorm { layers.append((norm, norm.updatesRunningStatistics)) }
        }
        for (norm, _) in layers { norm.updatesRunningStatistics = false }
        defer { for (norm, previous) in layers { norm.updatesRunningStatistics = previous } }
        return try body()
    }

    /// Whether `freeze()` was called on this module and not undone by `unfreeze()`. (A sub-module
    /// of a frozen module reports `false`, though its tensors are frozen too.)
    public var isFrozen: Bool { tensorsTrainableBeforeFreeze != nil }

    /// Stops this module tree's parameters from training: each trainable tensor stops requiring
    /// gradients and its `grad` is cleared, so backward passes leave it alone and optimizers
    /// (which skip tensors without gradients) do not update it, even ones created before.
    /// Gradients still flow *through* the module to trainable tensors before it.
    ///
    /// While frozen, these tensors are left out of `parameters()`/`namedParameters()` and listed
    /// by `namedBuffers()`; `namedTensors()`, and so checkpoint keys, do not change. Calling it
    /// on a frozen module does nothing.
    public func freeze() {
        guard !isFrozen else { return }
        let trainable = namedTensors().map(\.tensor).filter(\.requiresGrad)
        for tensor in trainable {
            tensor.requiresGrad = false
            tensor.grad = nil
        }
        tensorsTrainableBeforeFreeze = trainable
    }

    /// Makes trainable again exactly the tensors that `freeze()` on this module made untrainable
    /// (buffers stay buffers; parts frozen separately stay frozen). Does nothing when not frozen.
    public func unfreeze() {
        guard let tensors = tensorsTrainableBeforeFreeze else { return }
        for tensor in tensors { tensor.requiresGrad = true }
        tensorsTrainableBeforeFreeze = nil
    }

    /// This module's tensors paired by name with `other`'s, in this module's order.
    private func tensorPairs(with other: Module) throws -> [(name: String, mine: Tensor, theirs: Tensor)] {
        let mine = namedTensors()
        let theirs = other.namedTensors()
        let theirsByName = Dictionary(theirs.map { ($0.name, $0.tensor) }, uniquingKeysWith: { first, _ in first })
        var pairs: [(name: String, mine: Tensor, theirs: Tensor)] = []
        for (name, tensor) in mine {
            guard let source = theirsByName[name] else { throw ModuleStateMismatchError.missingInSource(key: name) }
            guard source.shape == tensor.shape else {
                throw ModuleStateMismatchError.shapeMismatch(key: name, destination: tensor.shape, source: source.shape)
            }
            pairs.append((name, tensor, source))
        }
        let myNames = Set(mine.map(\.name))
        if let extra = theirs.first(where: { !myNames.contains($0.name) }) {
            throw ModuleStateMismatchError.unexpectedInSource(key: extra.name)
        }
        return pairs
    }

    /// Identities of the tensors of this tree that are trainable or were made untrainable by a
    /// `freeze()` on this module or a sub-module.
    private func trainableTensorIdentities() -> Set<ObjectIdentifier> {
        var identities = Set(namedTensors().map(\.tensor).filter(\.requiresGrad).map(ObjectIdentifier.init))
        visitModules { _, module in
            for tensor in module.tensorsTrainableBeforeFreeze ?? [] { identities.insert(ObjectIdentifier(tensor)) }
        }
        return identities
    }
}
