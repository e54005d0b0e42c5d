import Datasets
import Foundation
import Layers
import Tensors
import Testing

/// A real learning test: a small LeNet trained on the shipped mini MNIST (2,000 training images)
/// must classify the 1,000 test images with at least 95 % accuracy.
@Suite struct LearningTests {
    @Test func leNetLearnsMiniMNIST() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Data/mini")
        guard case .images(let train, let test) = try DatasetCatalog.load("mnist", root: root) else {
            Issue.record("mini MNIST is not an image set")
            return
        }
        var g = SeededGenerator(seed: 7)
        let model = Sequential(
            Conv2d(1, 16, kernelSize: 5, padding: 2, bias: false, using: &g), BatchNorm2d(16), Lambda.relu, MaxPool2d(2),
            Conv2d(16, 32, kernelSize: 5, padding: 2, bias: false, using: &g), BatchNorm2d(32), Lambda.relu, MaxPool2d(2),
            Lambda.flatten, Linear(32 * 7 * 7, 10, using: &g))
        let optimizer = Adam(parameters: model.parameters(), learningRate: 2e-3)
        let loader = BatchLoader(train, batchSize: 64, shuffle: true, dropLast: true, seed: 1)
        let start = Date()
        model.train()
        for epoch in 0..<6 {
            for batch in loader.epoch(epoch) {
                optimizer.zeroGradients()
                crossEntropy(logits: model(batch.inputs), labels: batch.labels).backward()
                optimizer.step()
            }
        }
        model.eval()
        let x = Tensor(test.samples.values, shape: test.samples.shape)
        let predictions = withoutGradients { model(x) }.argmax(axis: 1)
        let accuracy = Double(zip(predictions, test.labels).filter { $0 == $1 }.count) / Double(test.count)
        let seconds = Date().timeIntervalSince(start)
        #expect(accuracy >= 0.95, "test accuracy \(accuracy) after \(seconds) s")
        #expect(seconds < 60)
    }
}
