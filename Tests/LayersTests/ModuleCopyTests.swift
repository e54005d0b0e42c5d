import Layers
import Tensors
import Testing

/// Linear → BatchNorm1d → Linear: parameters and buffers.
private final class NormedNet: Module, Layer {
    let first: Linear
    let norm: BatchNorm1d
    let head: Linear

    init(seed: UInt64, width: Int = 3, headBias: Bool = true) {
        var generator = SeededGenerator(seed: seed)
        first = Linear(4, width, using: &generator)
        norm = BatchNorm1d(width)
        head = Linear(width, 2, bias: headBias, using: &generator)
    }

    func callAsFunction(_ input: Tensor) -> Tensor { head(norm(first(input)).relu()) }
}

private func values(_ module: Module) -> [String: [Float]] {
    Dictionary(uniqueKeysWithValues: module.namedTensors().map { ($0.name, $0.tensor.toArray()) })
}

private let batch = Tensor((0..<20).map { Float($0 % 7) / 3 - 1 }, shape: [5, 4])

@Suite struct ModuleCopyTests {
    @Test func copyStateCopiesValuesNotStorage() throws {
        let destination = NormedNet(seed: 1), source = NormedNet(seed: 2)
        source.norm.runningMean.assign(Tensor([1, 2, 3]))
        #expect(values(destination) != values(source))
        try destination.copyState(from: source)
        #expect(values(destination) == values(source))
        let copied = destination.first.weight.toArray()
        source.first.weight.assign(Tensor.zeros([3, 4]))
        source.norm.runningMean.assign(Tensor.zeros([3]))
        #expect(destination.first.weight.toArray() == copied)
        #expect(destination.norm.runningMean.toArray() == [1, 2, 3])
        #expect(destination.first.weight.requiresGrad && !destination.norm.runningMean.requiresGrad)
    }

    @Test func copyStateMismatchThrowsNamingTheKeyAndCopiesNothing() {
        let destination = NormedNet(seed: 1)
        let before = values(destination)
        let wider = #expect(throws: ModuleStateMismatchError.self) {
            try destination.copyState(from: NormedNet(seed: 2, width: 5))
        }
        #expect(wider == .shapeMismatch(key: "first.weight", destination: [3, 4], source: [5, 4]))
        #expect(wider.map { "\($0)".contains("'first.weight'") } == true)
        let noBias = #expect(throws: ModuleStateMismatchError.self) {
            try destination.copyState(from: NormedNet(seed: 2, headBias: false))
        }
        #expect(noBias.map { "\($0)".contains("'head.bias'") } == true)
        let extraBias = #expect(throws: ModuleStateMismatchError.self) {
            try NormedNet(seed: 3, headBias: false).copyState(from: destination)
        }
        #expect(extraBias == .unexpectedInSource(key: "head.bias"))
        #expect(values(destination) == before)
    }

    @Test func exponentialMovingAverageOfParametersCopiesBuffers() throws {
        let target = NormedNet(seed: 1), online = NormedNet(seed: 2)
        _ = online(batch)  // training-mode pass: non-trivial running statistics
        online.norm.weight!.assign(Tensor([2, 3, 4]))
        online.norm.bias!.assign(Tensor([-1, 1, 0.5]))
        target.freeze()  // BYOL's target: frozen, yet still averaged
        let old = values(target), onlineValues = values(online)
        target.updateExponentialMovingAverage(from: online, decay: 0.9)
        let new = values(target)
        for (name, tensor) in online.namedTensors() {
            if tensor.requiresGrad {
                let expected = zip(old[name]!, onlineValues[name]!).map { 0.9 * $0 + 0.1 * $1 }
                let error = zip(new[name]!, expected).map { Swift.abs($0 - $1) }.max()!
                #expect(error < 1e-6, "\(name)")
                #expect(new[name] != old[name], "\(name)")
            } else {
                #expect(new[name] == onlineValues[name], "\(name)")
            }
        }
        #expect(values(online) == onlineValues)
        #expect(target.isFrozen && target.parameters().isEmpty)
        #expect(target.namedTensors().allSatisfy { $0.tensor.grad == nil })
    }

    @Test func exponentialMovingAverageCanLeaveBuffersAlone() {
        let target = NormedNet(seed: 1), online = NormedNet(seed: 2)
        _ = online(batch)
        let oldMean = target.norm.runningMean.toArray()
        target.updateExponentialMovingAverage(from: online, decay: 0.5, copyingBuffers: false)
        #expect(target.norm.runningMean.toArray() == oldMean)
        #expect(target.norm.runningMean.toArray() != online.norm.runningMean.toArray())
        let oldBias = NormedNet(seed: 1).head.bias!.toArray()
        let expectedBias = zip(oldBias, online.head.bias!.toArray()).map { ($0 + $1) / 2 }
        #expect(zip(target.head.bias!.toArray(), expectedBias).allSatisfy { Swift.abs($0 - $1) < 1e-6 })
    }

    @Test func frozenPartGetsNoGradientsNorUpdates() {
        let net = NormedNet(seed: 4)
        let names = net.namedTensors().map(\.name)
        let parameterNames = net.namedParameters().map(\.name)
        let optimizer = SGD(parameters: net.parameters(), learningRate: 0.1)
        net(batch).squared().sum().backward()  // a stale gradient that freeze() must clear
        net.first.freeze()
        #expect(net.first.isFrozen && !net.isFrozen)
        #expect(net.first.weight.grad == nil && net.first.bias?.grad == nil)
        let frozenBefore = values(net.first), headBefore = net.head.weight.toArray()
        optimizer.zeroGradients()
        let input = batch.detached().requiringGrad()
        net(input).squared().sum().backward()
        #expect(net.first.weight.grad == nil && net.first.bias?.grad == nil)
        #expect(net.head.weight.grad != nil)
        #expect(input.grad != nil)  // gradients still flow through the frozen part
        optimizer.step()
        #expect(values(net.first) == frozenBefore)
        #expect(net.head.weight.toArray() != headBefore)
        #expect(net.namedTensors().map(\.name) == names)
        #expect(!net.parameters().contains { $0 === net.first.weight })

        net.first.unfreeze()
        #expect(!net.first.isFrozen)
        #expect(net.namedParameters().map(\.name) == parameterNames)
        net(batch).squared().sum().backward()
        #expect(net.first.weight.grad != nil)
    }

    @Test func unfreezeRestoresExactlyTheOriginalParameters() {
        let net = NormedNet(seed: 5)
        let names = net.namedTensors().map(\.name), parameterNames = net.namedParameters().map(\.name)
        #expect(parameterNames.contains("norm.weight") && !parameterNames.contains("norm.runningMean"))
        net.freeze()
        net.freeze()  // idempotent
        #expect(net.isFrozen && net.parameters().isEmpty && net.parameterCount == 0)
        #expect(net.namedTensors().map(\.name) == names)
        net.unfreeze()
        #expect(!net.isFrozen)
        #expect(net.namedParameters().map(\.name) == parameterNames)
        #expect(net.namedTensors().map(\.name) == names)
    }

    @Test func heldRunningStatisticsNormaliseByTheBatchAndStayPut() {
        let net = NormedNet(seed: 4), reference = NormedNet(seed: 4)
        let other = Tensor((0..<20).map { Float($0 % 5) * 2 + 3 }, shape: [5, 4])
        _ = net(batch)
        _ = reference(batch)
        let before = values(net)
        let held = net.holdingRunningStatistics { net(other).toArray() }
        #expect(values(net) == before)  // running mean, variance and the batch count unchanged
        #expect(net.norm.updatesRunningStatistics)  // restored afterwards
        // The same output as an ordinary training-mode pass (batch statistics), which moves them.
        #expect(reference(other).toArray() == held)
        #expect(values(reference)["norm.runningMean"] != before["norm.runningMean"])
        #expect(values(reference)["norm.numBatchesTracked"] == [2])
        // Evaluation mode still reads the running statistics.
        net.eval()
        reference.eval()
        #expect(net.holdingRunningStatistics { net(other).toArray() } != reference(other).toArray())
    }
}
