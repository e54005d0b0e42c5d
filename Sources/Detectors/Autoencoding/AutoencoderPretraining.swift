import Datasets
import Layers
import Tensors

/// Training an autoencoder by squared reconstruction error: the autoencoder detector's whole
/// fit, and the pre-training phase of Deep SVDD and Deep SAD (METHODS.md §3.1–3.2).
///
/// The loss is the official code's: the squared error summed over a sample's values, averaged
/// over the batch. (A per-value mean would shrink the gradient by the sample size, and with it
/// the weight of the data term against the L2 weight decay — with 784 MNIST pixels and Deep
/// SVDD's decay of 0.5e-3 the autoencoder then underfits.)
public enum AutoencoderPretraining {
    /// Trains `autoencoder` on `samples` (scaled by `scaling`) for `options.epochs` epochs of
    /// Adam with L2 weight decay and the milestone schedule, as the resumable phase `phase`.
    /// Leaves the autoencoder in evaluation mode. Zero epochs leave it untrained.
    public static func train(
        _ autoencoder: Autoencoder, scaling: InputScaling, on samples: Samples, options: TrainingOptions,
        phase: String, context: TrainingContext, seed: UInt64, scorer: ((Samples) throws -> [Float])? = nil
    ) throws {
        defer { autoencoder.eval() }
        guard options.epochs > 0 else { return }
        let optimizer = options.adam(autoencoder)
        var loop = TrainingLoop(
            phase: phase, epochs: options.epochs, loader: options.loader(samples, seed: seed), model: autoencoder,
            optimizer: optimizer, schedule: options.schedule, seed: seed)
        try loop.run(context: context, scorer: scorer) { batch, _ in
            let x = scaling(batch.inputs.to(context.device))
            let squaredError = (autoencoder(x) - x).squared()
            return [LossTerm("reconstruction", squaredError.reshaped([x.shape[0], x.count / x.shape[0]]).sum(axis: 1).mean())]
        }
    }

    /// Per-sample mean squared reconstruction error of a batch, `[B]`.
    public static func reconstructionError(_ autoencoder: Autoencoder, _ x: Tensor) -> Tensor {
        (autoencoder(x) - x).squared().reshaped([x.shape[0], x.count / max(x.shape[0], 1)]).mean(axis: 1)
    }
}
