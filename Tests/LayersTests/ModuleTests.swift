import Testing
import Layers
import Tensors

final class TinyNet: Module, Layer {
    let body: Sequential
    let head: Linear?
    init(using g: inout SeededGenerator) {
        body = Sequential(Linear(4, 3, using: &g), Lambda.relu, Linear(3, 2, bias: false, using: &g))
        head = Linear(2, 1, using: &g)
    }
    func callAsFunction(_ input: Tensor) -> Tensor { head!(body(input)) }
}

@Test func moduleNamesParameters() {
    var g = SeededGenerator(seed: 0)
    let net = TinyNet(using: &g)
    #expect(net.namedParameters().map(\.name) == ["body.layers.0.weight", "body.layers.0.bias", "body.layers.2.weight", "head.weight", "head.bias"])
    #expect(net.parameterCount == 12 + 3 + 6 + 2 + 1)
    net.eval()
    #expect(net.body.layers[0].isTraining == false)
    let y = net(Tensor.ones([5, 4]))
    #expect(y.shape == [5, 1])
}
