import Layers
import Tensors
import Testing

@Suite struct NNLayersTests {
    @Test func convolutionLayersUsePyTorchLayoutAndInitialisation() {
        var g = SeededGenerator(seed: 1)
        let conv = Conv2d(3, 8, kernelSize: [3, 2], stride: 2, padding: 1, using: &g)
        #expect(conv.namedParameters().map(\.name) == ["weight", "bias"])
        #expect(conv.weight.shape == [8, 3, 3, 2] && conv.bias!.shape == [8])
        let bound = 1 / Float(3 * 3 * 2).squareRoot()
        #expect(conv.weight.toArray().allSatisfy { abs($0) <= bound })
        #expect(conv.bias!.toArray().allSatisfy { abs($0) <= bound })
        // Spread over the whole range, not a narrower one.
        #expect((conv.weight.toArray().map { abs($0) }.max() ?? 0) > 0.8 * bound)
        #expect(conv(Tensor.ones([2, 3, 9, 8])).shape == [2, 8, 5, 5])

        // ConvTranspose2d: weight [in, out, kh, kw], fan-in from dimension 1 as in PyTorch.
        let deconv = ConvTranspose2d(4, 2, kernelSize: 5, padding: 3, bias: false, using: &g)
        #expect(deconv.weight.shape == [4, 2, 5, 5] && deconv.bias == nil)
        let deconvBound = 1 / Float(2 * 25).squareRoot()
        #expect(deconv.weight.toArray().allSatisfy { abs($0) <= deconvBound })
        #expect((deconv.weight.toArray().map { abs($0) }.max() ?? 0) > 0.8 * deconvBound)
        #expect(deconv(Tensor.ones([1, 4, 16, 16])).shape == [1, 2, 14, 14])
        let up = ConvTranspose2d(2, 3, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, using: &g)
        #expect(up(Tensor.ones([1, 2, 4, 4])).shape == [1, 3, 8, 8])
    }

    @Test func batchNormTracksRunningStatisticsInTrainingOnly() {
        let bn = BatchNorm2d(2)
        #expect(bn.namedTensors().map(\.name) == ["weight", "bias", "runningMean", "runningVar", "numBatchesTracked"])
        #expect(bn.namedBuffers().map(\.name) == ["runningMean", "runningVar", "numBatchesTracked"])
        // Channel 0 holds 1…8, channel 1 holds 10 everywhere.
        let x = Tensor((1...8).map { Float($0) } + [Float](repeating: 10, count: 8), shape: [2, 2, 2, 2]).permuted([
            1, 0, 2, 3,
        ])
        let xs = x.reshaped([2, 2, 2, 2])
        let y = bn(xs)
        // Batch statistics: each channel normalised to mean 0.
        #expect(abs(y.mean(axes: [0, 2, 3]).toArray()[0]) < 1e-5)
        let values = (1...8).map { Float($0) }
        let mean = values.reduce(0, +) / 8
        let unbiased = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 7
        #expect(abs(bn.runningMean.toArray()[0] - 0.1 * mean) < 1e-5)
        #expect(abs(bn.runningVar.toArray()[0] - (0.9 + 0.1 * unbiased)) < 1e-4)
        #expect(abs(bn.runningMean.toArray()[1] - 1.0) < 1e-5)
        #expect(abs(bn.runningVar.toArray()[1] - 0.9) < 1e-5)
        #expect(bn.numBatchesTracked.item() == 1)

        bn.eval()
        let before = bn.runningMean.toArray()
        let z = bn(xs)
        #expect(bn.runningMean.toArray() == before && bn.numBatchesTracked.item() == 1)
        // Evaluation: (x − running mean)/√(running var + eps).
        let expected = (xs.toArray()[0] - before[0]) / (bn.runningVar.toArray()[0] + 1e-5).squareRoot()
        #expect(abs(z.toArray()[0] - expected) < 1e-5)
        // The fused ReLU equals ReLU after the layer.
        #expect(bn(xs, relu: true).toArray() == z.relu().toArray())

        let bn1 = BatchNorm1d(3, epsilon: 1e-4, affine: false)
        #expect(bn1.parameters().isEmpty)
        #expect(bn1(randomInput([5, 3])).shape == [5, 3])
        #expect(bn1(randomInput([5, 3, 4])).shape == [5, 3, 4])
    }

    @Test func poolingAndUpsamplingLayers() {
        let x = Tensor((0..<16).map { Float($0) }, shape: [1, 1, 4, 4])
        #expect(MaxPool2d(2)(x).toArray() == [5, 7, 13, 15])
        #expect(AvgPool2d(2)(x).toArray() == [2.5, 4.5, 10.5, 12.5])
        #expect(MaxPool2d(3, stride: 1, padding: 1)(x).shape == [1, 1, 4, 4])
        #expect(AdaptiveAvgPool2d(1)(x).toArray() == [7.5])
        #expect(AdaptiveAvgPool2d([2, 1])(x).toArray() == [3.5, 11.5])
        let small = Tensor([1, 2, 3, 4], shape: [1, 1, 2, 2])
        #expect(Upsample(scale: 2)(small).toArray() == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        let bilinear = Upsample(scale: 2, mode: .bilinear)(small).toArray()
        // align_corners=False: first row 1, 1.25, 1.75, 2.
        #expect(zip(bilinear.prefix(4), [1, 1.25, 1.75, 2] as [Float]).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func dropoutIsReproducibleAndInvertedScaled() {
        var g = SeededGenerator(seed: 7)
        let drop = Dropout(0.25, using: &g)
        let x = Tensor.ones([4000])
        let y = drop(x).toArray()
        let kept = y.filter { $0 != 0 }
        #expect(kept.allSatisfy { abs($0 - 1 / 0.75) < 1e-6 })
        #expect(abs(Float(y.count - kept.count) / Float(y.count) - 0.25) < 0.03)
        // A fresh layer from the same seed drops the same values; a second call differs.
        var g2 = SeededGenerator(seed: 7)
        let again = Dropout(0.25, using: &g2)
        #expect(again(x).toArray() == y)
        #expect(again(x).toArray() != y)
        drop.eval()
        #expect(drop(x).toArray() == x.toArray())
    }

    @Test func lenetAutoencoderShapesAndTrainingReducesLoss() {
        // Deep SVDD's MNIST autoencoder (bench/WORKLOADS.md mnist_ae), small batch.
        var g = SeededGenerator(seed: 3)
        let conv1 = Conv2d(1, 8, kernelSize: 5, padding: 2, bias: false, using: &g)
        let bn1 = BatchNorm2d(8, epsilon: 1e-4, affine: false)
        let conv2 = Conv2d(8, 4, kernelSize: 5, padding: 2, bias: false, using: &g)
        let bn2 = BatchNorm2d(4, epsilon: 1e-4, affine: false)
        let fc = Linear(4 * 7 * 7, 32, bias: false, using: &g)
        let deconv1 = ConvTranspose2d(2, 4, kernelSize: 5, padding: 2, bias: false, using: &g)
        let bn3 = BatchNorm2d(4, epsilon: 1e-4, affine: false)
        let deconv2 = ConvTranspose2d(4, 8, kernelSize: 5, padding: 3, bias: false, using: &g)
        let bn4 = BatchNorm2d(8, epsilon: 1e-4, affine: false)
        let deconv3 = ConvTranspose2d(8, 1, kernelSize: 5, padding: 2, bias: false, using: &g)
        let pool = MaxPool2d(2)
        let up = Upsample(scale: 2)
        let modules: [Module] = [conv1, conv2, fc, deconv1, deconv2, deconv3]
        func forward(_ x: Tensor) -> Tensor {
            var h = pool(bn1(conv1(x)).leakyRelu())
            h = pool(bn2(conv2(h)).leakyRelu())
            h = fc(h.flattened()).reshaped([-1, 2, 4, 4])
            h = deconv1(up(h.leakyRelu()))
            h = deconv2(up(bn3(h).leakyRelu()))
            h = deconv3(up(bn4(h).leakyRelu()))
            return h.sigmoid()
        }
        let x = Tensor.uniform([8, 1, 28, 28], using: &g)
        var losses: [Float] = []
        for _ in 0..<10 {
            let y = forward(x)
            #expect(y.shape == [8, 1, 28, 28])
            let loss = (y - x).squared().mean()
            losses.append(loss.item())
            let params = modules.flatMap { $0.parameters() }
            for p in params { p.grad = nil }
            loss.backward()
            withoutGradients {
                for p in params { p.assign(p - p.grad! * 0.5) }
            }
        }
        #expect(losses.last! < losses.first! * 0.9, "losses \(losses)")
    }

    private func randomInput(_ shape: [Int]) -> Tensor {
        var g = SeededGenerator(seed: 11)
        return Tensor.uniform(shape, using: &g)
    }
}
