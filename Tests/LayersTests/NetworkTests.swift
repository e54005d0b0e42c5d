import Layers
import Tensors
import Testing

@Suite struct NetworkTests {
    @Test func resnet18MatchesPyTorchSizeAndExposesStages() {
        var g = SeededGenerator(seed: 0)
        // torchvision-style CIFAR ResNet-18 with a 10-way head: 11,173,962 parameters.
        #expect(ResNet.resnet18(using: &g).parameterCount == 11_173_962)
        #expect(ResNet.resnet20(using: &g).parameterCount == 272_474)  // bench/torch_models.py resnet20_cifar (option-B shortcuts)
        let narrow = ResNet.resnet18(classCount: nil, widthMultiplier: 0.25, using: &g)
        narrow.eval()
        let f = withoutGradients { narrow.features(Tensor.zeros([2, 3, 32, 32])) }
        #expect(f.stem.shape == [2, 16, 32, 32])
        #expect(f.stages.map(\.shape) == [[2, 16, 32, 32], [2, 32, 16, 16], [2, 64, 8, 8], [2, 128, 4, 4]])
        #expect(f.pooled.shape == [2, 128])
    }

    @Test func leNetAutoencodersReconstructTheirInputShape() {
        var g = SeededGenerator(seed: 0)
        let mnist = LeNetAutoencoder.mnist(using: &g)
        #expect(mnist(Tensor.zeros([3, 1, 28, 28])).shape == [3, 1, 28, 28])
        #expect(mnist.encoder(Tensor.zeros([3, 1, 28, 28])).shape == [3, 32])
        let cifar = LeNetAutoencoder.cifar10(using: &g)
        #expect(cifar(Tensor.zeros([2, 3, 32, 32])).shape == [2, 3, 32, 32])
        // Deep SVDD's bias-free MNIST autoencoder: 8·25 + 4·8·25 + 196·32 + 2·4·25 + 4·8·25 + 8·25 weights.
        #expect(mnist.parameterCount == 200 + 800 + 6272 + 200 + 800 + 200)
    }
}
