import Datasets
import Foundation
import Layers
import Metrics
import Tensors

/// One named term of a training loss (`distance`, `reconstruction`, …). The loop minimises the
/// sum of the terms and reports each by name.
public struct LossTerm {
    public let name: String
    public let value: Tensor

    public init(_ name: String, _ value: Tensor) {
        self.name = name
        self.value = value
    }
}

/// The loss terms and test evaluations of every epoch of a fit, in order.
public final class TrainingHistory: @unchecked Sendable {
    public struct Epoch: Codable, Sendable, Equatable {
        public var phase: String
        /// 1-based.
        public var epoch: Int
        /// Mean of each loss term over the epoch's batches.
        public var losses: [String: Double]
        public var learningRate: Double
        /// Test AUROC after this epoch, when the run monitors it.
        public var testAUROC: Double?
        public var seconds: Double
        /// The method's own per-epoch measurements of its representation (NSA: the vMF
        /// concentration κ and the MMD to the uniform distribution on the sphere).
        public var diagnostics: [String: Double]? = nil
    }

    /// The epoch whose weights a phase's model selection kept (`ModelSelection`).
    public struct Selection: Codable, Sendable, Equatable {
        public var phase: String
        /// 1-based.
        public var epoch: Int
        public var validationLoss: Double

        public init(phase: String, epoch: Int, validationLoss: Double) {
            self.phase = phase
            self.epoch = epoch
            self.validationLoss = validationLoss
        }
    }

    private let lock = NSLock()
    private var storage: [Epoch] = []
    private var selectionStorage: [Selection] = []
    /// Per phase, the seconds of the epochs restored from its checkpoint.
    private var restored: [String: Double] = [:]

    public init() {}

    public var epochs: [Epoch] { lock.withLock { storage } }

    /// Per phase with model selection, the epoch it kept.
    public var selections: [Selection] { lock.withLock { selectionStorage } }

    /// The training seconds of the epochs restored from checkpoints: those an earlier process
    /// of a resumed run trained (0 for a run that was not resumed).
    public var restoredSeconds: Double { lock.withLock { restored.values.reduce(0, +) } }

    func append(_ epoch: Epoch) { lock.withLock { storage.append(epoch) } }

    func select(phase: String, epoch: Int, validationLoss: Double) {
        lock.withLock {
            selectionStorage = selectionStorage.filter { $0.phase != phase }
                + [Selection(phase: phase, epoch: epoch, validationLoss: validationLoss)]
        }
    }

    /// The epochs of `phase` (restored from a checkpoint) replace any recorded ones.
    func restore(phase: String, _ epochs: [Epoch]) {
        lock.withLock {
            storage = storage.filter { $0.phase != phase } + epochs
            restored[phase] = epochs.map(\.seconds).reduce(0, +)
        }
    }
}

/// Test-set monitoring during training, for the report's AUROC curve. The detector never sees
/// the labels: the loop hands this object a function that scores samples with the current model.
public final class TrainingEvaluation: @unchecked Sendable {
    public let samples: Samples
    public let isAnomaly: [Bool]
    /// Epochs between evaluations.
    public let every: Int

    public init(samples: Samples, isAnomaly: [Bool], every: Int) {
        precondition(samples.count == isAnomaly.count, "TrainingEvaluation: one label per sample")
        self.samples = samples
        self.isAnomaly = isAnomaly
        self.every = max(1, every)
    }

    func auroc(_ score: (Samples) throws -> [Float]) throws -> Double {
        try Metrics.auroc(scores: try score(samples), labels: isAnomaly)
    }
}

/// The book-keeping of a training phase: epochs × batches from a prefetching loader, the
/// learning rate set from the schedule before every iteration (fractional epochs), progress
/// with named loss terms, the loss check, evaluation every N epochs, and resumable checkpoints.
/// The model, the loss and the optimizer stay in the method's file: the loop calls `step` for
/// each batch, which returns the named loss terms; the loop checks them, back-propagates their
/// sum and steps the optimizer.
///
/// A checkpoint (`<checkpointDirectory>/<phase>.safetensors`, written atomically) holds every
/// tensor of `model`, the optimizer state (and that of any `auxiliaryOptimizers`) by parameter
/// name, the generator's state, the number of completed epochs and the history; the loader's
/// order and the schedule are functions of the epoch. A loop that finds its checkpoint continues after the saved epoch and
/// ends with exactly the weights of an uninterrupted run; a finished phase is just loaded.
public struct TrainingLoop {
    public let phase: String
    public let epochs: Int
    public let loader: BatchLoader
    /// Everything the phase trains or updates (networks and buffers): what a checkpoint stores.
    public let model: Module
    /// Steps the sum of the loss terms; nil when `step` updates the weights itself.
    public let optimizer: Optimizer?
    /// Further optimizers that `step` drives itself (the players of an adversarial game, with
    /// rates of their own), by name: their state is checkpointed under `optimizers.<name>.` by
    /// the names of `model`'s parameters, so a resumed run continues them exactly.
    public let auxiliaryOptimizers: [(name: String, optimizer: Optimizer)]
    /// Learning rate as a function of the fractional epoch.
    public let schedule: LearningRateSchedule
    /// The phase's own random stream (noise, sampling), saved with the checkpoint.
    public var generator: SeededGenerator
    /// The lowest validation loss so far and the model's tensors at that epoch (model selection).
    private var best: (loss: Double, epoch: Int, tensors: [String: Tensor])?

    public init(
        phase: String, epochs: Int, loader: BatchLoader, model: Module, optimizer: Optimizer?,
        schedule: LearningRateSchedule, seed: UInt64, auxiliaryOptimizers: [(name: String, optimizer: Optimizer)] = []
    ) {
        precondition(
            Set(auxiliaryOptimizers.map(\.name)).count == auxiliaryOptimizers.count
                && auxiliaryOptimizers.allSatisfy { !$0.name.isEmpty && !$0.name.contains(".") },
            "TrainingLoop: auxiliary optimizers need distinct names without dots")
        self.phase = phase
        self.epochs = epochs
        self.loader = loader
        self.model = model
        self.optimizer = optimizer
        self.auxiliaryOptimizers = auxiliaryOptimizers
        self.schedule = schedule
        generator = SeededGenerator(seed: seed)
    }

    static let format = "anomalykit-training-1"

    /// Runs the epochs not yet done. `scorer` (optional) scores samples with the current model,
    /// for the context's test evaluation; `selection` (optional) keeps the epoch with the lowest
    /// validation loss; `step` computes one batch's loss terms.
    public mutating func run(
        context: TrainingContext, scorer: ((Samples) throws -> [Float])? = nil, selection: ModelSelection? = nil,
        diagnostics: (() throws -> [String: Double])? = nil,
        step: (_ batch: Batch, _ generator: inout SeededGenerator) throws -> [LossTerm]
    ) throws {
        let file = context.checkpointDirectory?.appendingPathComponent("\(phase).safetensors")
        var completed = 0
        if let file, FileManager.default.fileExists(atPath: file.path) {
            completed = try restore(from: file, history: context.history)
            context.logger.info("\(phase): resumed from \(file.path) after epoch \(completed)")
        }
        guard completed < epochs else {
            // A finished phase restored from its checkpoint holds the selected weights already.
            if let best { context.history.select(phase: phase, epoch: best.epoch, validationLoss: best.loss) }
            return
        }
        let batches = loader.batchCount
        model.train()
        for epoch in completed..<epochs {
            let started = Date()
            context.progress.begin("\(phase) epoch \(epoch + 1)/\(epochs)", total: batches)
            var names: [String] = []
            var sums: [String: Double] = [:]
            // Batches that reported each term: a term of every N-th batch is averaged over those.
            var counts: [String: Int] = [:]
            var learningRate = 0.0
            for batch in loader.epoch(epoch) {
                let rate = schedule.learningRate(at: Double(epoch) + Double(batch.index) / Double(max(batches, 1)))
                optimizer?.learningRate = rate
                learningRate = Double(rate)
                let terms = try performStep(batch, epoch: epoch + 1, checksNumerics: context.checksNumerics, step)
                for (name, value) in terms {
                    if sums[name] == nil { names.append(name) }
                    sums[name, default: 0] += Double(value)
                    counts[name, default: 0] += 1
                }
                let done = batch.index + 1
                context.progress.update(
                    completed: done,
                    metrics: Dictionary(uniqueKeysWithValues: names.map { ($0, sums[$0]! / Double(counts[$0]!)) }))
            }
            context.progress.end()
            var means = Dictionary(uniqueKeysWithValues: sums.map { ($0.key, $0.value / Double(max(counts[$0.key]!, 1))) })
            if let selection {
                model.eval()
                let loss = try selection.loss()
                model.train()
                means[ModelSelection.term] = loss
                names.append(ModelSelection.term)
                if loss.isFinite, loss < best?.loss ?? .infinity {
                    best = (loss, epoch + 1, Dictionary(uniqueKeysWithValues: model.namedTensors().map { ($0.name, $0.tensor.copied()) }))
                }
            }
            var record = TrainingHistory.Epoch(
                phase: phase, epoch: epoch + 1, losses: means, learningRate: learningRate, testAUROC: nil,
                seconds: Date().timeIntervalSince(started))
            if let diagnostics {
                model.eval()
                record.diagnostics = try diagnostics()
                model.train()
            }
            if let evaluation = context.evaluation, let scorer, (epoch + 1) % evaluation.every == 0 || epoch + 1 == epochs {
                model.eval()
                record.testAUROC = try evaluation.auroc(scorer)
                model.train()
            }
            context.history.append(record)
            let summary =
                names.map { "\($0) \(String(format: "%.5g", means[$0]!))" }.joined(separator: ", ")
                + (record.diagnostics ?? [:]).sorted { $0.key < $1.key }.map { ", \($0.key) \(String(format: "%.4g", $0.value))" }
                .joined()
                + (record.testAUROC.map { String(format: ", test AUROC %.4f", $0) } ?? "")
            context.logger.info("\(phase) epoch \(epoch + 1)/\(epochs): \(summary)")
            let stop = epoch + 1 < epochs && context.stopRequested(phase, epoch + 1)
            if epoch + 1 == epochs, let best {
                // The phase ends with the selected weights (and its checkpoint holds them).
                withoutGradients {
                    for (name, tensor) in model.namedTensors() { if let kept = best.tensors[name] { tensor.assign(kept) } }
                }
                context.logger.info("\(phase): kept the weights of epoch \(best.epoch) (validation loss \(String(format: "%.5g", best.loss)))")
                context.history.select(phase: phase, epoch: best.epoch, validationLoss: best.loss)
            }
            if let file, (epoch + 1) % max(1, context.checkpointEvery) == 0 || epoch + 1 == epochs || stop {
                try save(to: file, completedEpochs: epoch + 1, history: context.history)
            }
            if stop { throw DetectorError.interrupted(phase: phase, completedEpochs: epoch + 1) }
        }
    }

    /// One iteration: the loss terms, checked before anything is updated, then backward and step.
    private mutating func performStep(
        _ batch: Batch, epoch: Int, checksNumerics: Bool,
        _ step: (Batch, inout SeededGenerator) throws -> [LossTerm]
    ) throws -> [(String, Float)] {
        optimizer?.zeroGradients()
        var values: [(String, Float)] = []
        var generator = self.generator
        let (phase, optimizes) = (self.phase, optimizer != nil)
        func body(checkingTerms: Bool) throws {
            let terms = try step(batch, &generator)
            values = terms.map { ($0.name, $0.value.item()) }
            if checkingTerms, let bad = values.first(where: { !$0.1.isFinite }) {
                throw DetectorError.diverged(phase: phase, epoch: epoch, term: bad.0, value: bad.1, cause: nil)
            }
            if optimizes, let first = terms.first {
                terms.dropFirst().reduce(first.value) { $0 + $1.value }.backward()
            }
        }
        defer { self.generator = generator }
        if checksNumerics {
            // Forward and backward run to the end; the monitor then names the first op that
            // produced a NaN or infinity, before the optimizer could use it.
            do {
                try withNumericsCheck { try body(checkingTerms: false) }
            } catch let error as NonFiniteValueError {
                let bad = values.first { !$0.1.isFinite }
                throw DetectorError.diverged(
                    phase: phase, epoch: epoch, term: bad?.0 ?? "(gradient)", value: bad?.1 ?? .nan,
                    cause: error.description)
            }
        } else {
            try body(checkingTerms: true)
        }
        optimizer?.step()
        return values
    }

    // MARK: Checkpoints

    private func save(to file: URL, completedEpochs: Int, history: TrainingHistory) throws {
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        var tensors = model.namedTensors().map { (name: "model.\($0.name)", tensor: $0.tensor) }
        if let optimizer {
            tensors += optimizer.namedState(parameterNames: model.namedParameters()).map {
                (name: "optimizer.\($0.name)", tensor: $0.tensor)
            }
        }
        for (name, auxiliary) in auxiliaryOptimizers {
            tensors += auxiliary.namedState(parameterNames: model.namedParameters()).map {
                (name: "optimizers.\(name).\($0.name)", tensor: $0.tensor)
            }
        }
        var metadata: [String: String] = [:]
        if let best {
            tensors += best.tensors.sorted { $0.key < $1.key }.map { (name: "best.\($0.key)", tensor: $0.value) }
            metadata["best"] = "\(best.epoch),\(best.loss)"
        }
        let phaseHistory = history.epochs.filter { $0.phase == phase }
        let historyJSON = String(decoding: try JSONEncoder().encode(phaseHistory), as: UTF8.self)
        metadata.merge([
            "format": Self.format, "phase": phase, "epochs": "\(epochs)", "completedEpochs": "\(completedEpochs)",
            "generator": generator.state.map { String($0, radix: 16) }.joined(separator: ","),
            "history": historyJSON,
        ]) { $1 }
        try Checkpoint.save(tensors, to: file, metadata: metadata)
    }

    /// Loads a checkpoint of this phase; returns the number of completed epochs.
    private mutating func restore(from file: URL, history: TrainingHistory) throws -> Int {
        let contents = try Checkpoint.read(from: file)
        let meta = contents.metadata
        func incompatible(_ reason: String) -> DetectorError { .incompatibleCheckpoint(path: file.path, reason: reason) }
        guard meta["format"] == Self.format, meta["phase"] == phase else {
            throw incompatible("it is not a training checkpoint of phase '\(phase)'")
        }
        guard meta["epochs"] == "\(epochs)" else {
            throw incompatible("it was written for \(meta["epochs"] ?? "?") epochs, this run has \(epochs)")
        }
        guard let completed = meta["completedEpochs"].flatMap(Int.init), (0...epochs).contains(completed),
            let words = meta["generator"]?.split(separator: ",").compactMap({ UInt64($0, radix: 16) }),
            let restored = SeededGenerator(state: words),
            let historyData = meta["history"]?.data(using: .utf8),
            let epochsDone = try? JSONDecoder().decode([TrainingHistory.Epoch].self, from: historyData)
        else { throw incompatible("its metadata is incomplete") }
        var modelTensors: [String: Tensor] = [:]
        var optimizerTensors: [String: Tensor] = [:]
        var auxiliaryTensors = Dictionary(uniqueKeysWithValues: auxiliaryOptimizers.map { ($0.name, [String: Tensor]()) })
        var bestTensors: [String: Tensor] = [:]
        for (name, tensor) in contents.tensors {
            if name.hasPrefix("model.") {
                modelTensors[String(name.dropFirst(6))] = tensor
            } else if name.hasPrefix("best.") {
                bestTensors[String(name.dropFirst(5))] = tensor
            } else if name.hasPrefix("optimizer.") {
                optimizerTensors[String(name.dropFirst(10))] = tensor
            } else if name.hasPrefix("optimizers."), let dot = name.dropFirst(11).firstIndex(of: "."),
                auxiliaryTensors[String(name.dropFirst(11)[..<dot])] != nil
            {
                auxiliaryTensors[String(name.dropFirst(11)[..<dot]), default: [:]][String(name[name.index(after: dot)...])] = tensor
            } else {
                throw incompatible("unknown entry \(name)")
            }
        }
        try Checkpoint.assign(
            modelTensors, names: modelTensors.keys.sorted(), to: model.namedTensors(), path: file.path)
        if let optimizer {
            do {
                try optimizer.loadNamedState(optimizerTensors, parameterNames: model.namedParameters())
            } catch {
                throw incompatible(error.description)
            }
        }
        for (name, auxiliary) in auxiliaryOptimizers {
            do {
                try auxiliary.loadNamedState(auxiliaryTensors[name] ?? [:], parameterNames: model.namedParameters())
            } catch {
                throw incompatible("optimizer '\(name)': \(error.description)")
            }
        }
        if let record = meta["best"] {
            let parts = record.split(separator: ",")
            let shapes = Dictionary(uniqueKeysWithValues: model.namedTensors().map { ($0.name, $0.tensor.shape) })
            guard parts.count == 2, let epoch = Int(parts[0]), let loss = Double(parts[1]),
                Set(bestTensors.keys) == Set(shapes.keys), bestTensors.allSatisfy({ shapes[$0.key] == $0.value.shape })
            else { throw incompatible("its model-selection entries are incomplete") }
            let device = model.namedTensors().first?.tensor.device ?? .cpu
            best = (loss, epoch, bestTensors.mapValues { $0.to(device) })
        }
        generator = restored
        history.restore(phase: phase, epochsDone)
        return completed
    }
}

/// Model selection on held-out data (CANCE keeps the autoencoder and the NCE classifier with
/// the lowest validation loss, METHODS.md §2.5.2): after every epoch the loop computes `loss`
/// with the model in evaluation mode, records it as the epoch's "validation" term and keeps a
/// copy of every tensor of the model when it is the lowest so far; when the phase ends the copy
/// is put back. The copy and its loss travel in the checkpoint, so a resumed phase selects the
/// same epoch as an uninterrupted one.
public struct ModelSelection {
    static let term = "validation"
    public let loss: () throws -> Double

    public init(loss: @escaping () throws -> Double) {
        self.loss = loss
    }
}

/// Options of one training phase, nested in a method's configuration (`training.epochs=30`).
public struct TrainingOptions: Codable, Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    /// L2 weight decay of the optimizer.
    public var weightDecay: Double
    /// Epochs after which the learning rate is multiplied by 0.1 (PyTorch's MultiStepLR).
    public var learningRateMilestones: [Int]
    /// Drop the last incomplete batch of every epoch (when there is more than one batch).
    public var dropLast: Bool

    public init(
        epochs: Int, batchSize: Int, learningRate: Double, weightDecay: Double = 0, learningRateMilestones: [Int] = [],
        dropLast: Bool = true
    ) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.learningRateMilestones = learningRateMilestones
        self.dropLast = dropLast
    }

    /// Range checks, with option names under `prefix` (`pretraining.`).
    public func validate(prefix: String, allowsZeroEpochs: Bool = false) throws {
        try OptionCheck.require(prefix + "epochs", epochs, in: (allowsZeroEpochs ? 0 : 1)...1_000_000)
        try OptionCheck.require(prefix + "batchSize", batchSize, in: 1...1_000_000)
        try OptionCheck.require(prefix + "learningRate", learningRate, in: Double.leastNonzeroMagnitude...100)
        try OptionCheck.require(prefix + "weightDecay", weightDecay, in: 0...100)
        for milestone in learningRateMilestones {
            try OptionCheck.require(prefix + "learningRateMilestones", milestone, in: 1...1_000_000)
        }
    }

    /// A loader over `samples` with these options (batches never larger than the data).
    public func loader(_ samples: Samples, labels: [Int]? = nil, seed: UInt64) -> BatchLoader {
        let size = min(batchSize, samples.count)
        return BatchLoader(
            samples, labels: labels, batchSize: size, shuffle: true, dropLast: dropLast && samples.count > size,
            seed: seed)
    }

    /// The learning rate over fractional epochs: constant, ×0.1 at each milestone.
    public var schedule: LearningRateSchedule {
        .multiStep(Float(learningRate), milestones: learningRateMilestones.map(Double.init), gamma: 0.1)
    }

    /// Adam with this learning rate and weight decay (L2, PyTorch's `Adam(weight_decay=)`).
    public func adam(_ module: Module) -> Adam {
        Adam(parameters: module.parameters(), learningRate: Float(learningRate), weightDecay: Float(weightDecay))
    }
}

extension Tensor {
    /// A copy of the values in storage of its own, on the same device.
    fileprivate func copied() -> Tensor { Tensor(toArray(), shape: shape).to(device) }
}
