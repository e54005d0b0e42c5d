import Layers
import Tensors

/// One reference workload of bench/WORKLOADS.md: a network, a batch of uniform inputs, a loss.
struct BenchWorkload: Sendable {
    let name: String
    let batch: Int
    /// Builds the model and optimizer and returns one training step.
    let makeStep: @Sendable () -> (() -> Void)

    static let all: [BenchWorkload] = []
}
