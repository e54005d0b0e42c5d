import Layers
import Tensors

/// One reference workload of bench/WORKLOADS.md: a network, a batch of uniform inputs, a loss,
/// and a training step = zero gradients, forward, loss, backward, Adam(1e-3) update.
struct BenchWorkload: Sendable {
    let name: String
    let batch: Int
    /// Builds the model and optimizer and returns one training step.
    let makeStep: @Sendable () -> (() -> Void)

    static let all: [BenchWorkload] = [
        BenchWorkload(name: "mlp", batch: 256) {
            var g = SeededGenerator(seed: 0)
            let model = Sequential(
                Linear(784, 512, using: &g), Lambda.relu, Linear(512, 256, using: &g), Lambda.relu, Linear(256, 32, using: &g))
            let x = Tensor.uniform([256, 784], using: &g), target = Tensor.normal([256, 32], using: &g)
            return trainingStep(model) { mse(model(x), target) }
        },
        BenchWorkload(name: "mnist_ae", batch: 128) {
            var g = SeededGenerator(seed: 0)
            let model = LeNetAutoencoder.mnist(using: &g)
            let x = Tensor.uniform([128, 1, 28, 28], using: &g)
            return trainingStep(model) { mse(model(x), x) }
        },
        classification("resnet8", batch: 128) { ResNet.resnet8(using: &$0) },
        classification("resnet20", batch: 128) { ResNet.resnet20(using: &$0) },
        classification("resnet18", batch: 64) { ResNet.resnet18(normalizesInput: false, using: &$0) },
        contrastive("csi_resnet20", batch: 128) { ResNet.resnet20(classCount: nil, using: &$0) },
        contrastive("csi_resnet18", batch: 64) { ResNet.resnet18(classCount: nil, normalizesInput: false, using: &$0) },
    ]

    static func classification(
        _ name: String, batch: Int, _ make: @escaping @Sendable (inout SeededGenerator) -> ResNet
    ) -> BenchWorkload {
        BenchWorkload(name: name, batch: batch) {
            var g = SeededGenerator(seed: 0)
            let model = make(&g)
            let x = Tensor.uniform([batch, 3, 32, 32], using: &g)
            let labels = (0..<batch).map { _ in g.nextInt(below: 10) }
            return trainingStep(model) { crossEntropy(logits: model(x), labels: labels) }
        }
    }

    /// The CSI step: backbone without classifier, projection head w→w→128 and shift head w→4;
    /// NT-Xent (τ 0.5, rows i and i+B/2 positive) plus rotation cross-entropy (label = row mod 4).
    static func contrastive(
        _ name: String, batch: Int, _ make: @escaping @Sendable (inout SeededGenerator) -> ResNet
    ) -> BenchWorkload {
        BenchWorkload(name: name, batch: batch) {
            var g = SeededGenerator(seed: 0)
            let model = ContrastiveNet(backbone: make(&g), using: &g)
            let x = Tensor.uniform([batch, 3, 32, 32], using: &g)
            let rotations = (0..<batch).map { $0 % 4 }
            return trainingStep(model) {
                let (z, shift) = model(pair: x)
                return ntXentLoss(z, temperature: 0.5) + crossEntropy(logits: shift, labels: rotations)
            }
        }
    }
}

final class ContrastiveNet: Module {
    let backbone: ResNet
    let projection: Sequential
    let shift: Linear

    init(backbone: ResNet, using g: inout SeededGenerator) {
        self.backbone = backbone
        let w = backbone.featureCount
        projection = Sequential(Linear(w, w, using: &g), Lambda.relu, Linear(w, 128, using: &g))
        shift = Linear(w, 4, using: &g)
    }

    func callAsFunction(pair x: Tensor) -> (Tensor, Tensor) {
        let h = backbone(x)
        return (projection(h), shift(h))
    }
}

func trainingStep(_ model: Module, loss: @escaping () -> Tensor) -> (() -> Void) {
    model.train()
    let optimizer = Adam(parameters: model.parameters(), learningRate: 1e-3)
    return {
        optimizer.zeroGradients()
        loss().backward()
        optimizer.step()
    }
}
