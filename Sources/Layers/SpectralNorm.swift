import Tensors

/// Spectral normalisation (Miyato et al., ICLR 2018; PyTorch's `torch.nn.utils.spectral_norm`
/// with one power iteration): the weight W, viewed as the matrix [out, in·kh·kw], is used as
/// W / σ(W). σ(W) is estimated by power iteration with buffers u [out] and v [in·kh·kw] (unit
/// vectors drawn from N(0, I) at initialisation): every training-mode forward first does one step
///
///     v ← normalize(Wᵀu),   u ← normalize(W v)          (no gradients recorded)
///
/// and then σ = uᵀ W v with u, v held constant, so the gradient flows through W both directly
/// and through σ, as in PyTorch. Evaluation mode reuses the stored u, v (no update).
public enum SpectralNormalization {
    /// W / σ(W) for a weight whose first axis is the output axis; `iterates` runs one
    /// power-iteration step on `u`, `v` first.
    public static func normalized(_ weight: Tensor, u: Tensor, v: Tensor, iterates: Bool) -> Tensor {
        let rows = weight.shape[0], columns = weight.count / rows
        let matrix = weight.reshaped([rows, columns])
        if iterates {
            withoutGradients {
                let w = matrix.detached()
                let newV = l2Normalize(matmul(u.reshaped([1, rows]), w), axis: 1).reshaped([columns])
                let newU = l2Normalize(matmul(w, newV.reshaped([columns, 1]), transposeA: false).reshaped([1, rows]), axis: 1)
                v.assign(newV)
                u.assign(newU.reshaped([rows]))
            }
        }
        let sigma = matmul(matmul(u.reshaped([1, rows]), matrix), v.reshaped([columns, 1]))  // [1, 1]
        return weight / sigma.reshaped([Int](repeating: 1, count: weight.rank))
    }

    /// σ(W) = uᵀ W v with the current buffers (for inspection and tests).
    public static func sigma(_ weight: Tensor, u: Tensor, v: Tensor) -> Float {
        let rows = weight.shape[0], columns = weight.count / rows
        return withoutGradients {
            matmul(matmul(u.reshaped([1, rows]), weight.reshaped([rows, columns])), v.reshaped([columns, 1])).item()
        }
    }

    /// Unit vectors from N(0, I), PyTorch's initialisation of u and v.
    static func unitVector(_ count: Int, using generator: inout SeededGenerator) -> Tensor {
        withoutGradients { l2Normalize(Tensor.normal([1, count], using: &generator), axis: 1).reshaped([count]) }
    }
}

/// `Conv2d` with a spectrally normalised weight (`SpectralNormalization`); buffers `u`, `v`.
public final class SpectralNormConv2d: Module, Layer {
    public let weight: Tensor
    public let bias: Tensor?
    public let u: Tensor
    public let v: Tensor
    public let stride: Size2D
    public let padding: Size2D

    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Size2D, stride: Size2D = 1, padding: Size2D = 0,
        bias: Bool = true, using generator: inout SeededGenerator
    ) {
        let conv = Conv2d(
            inChannels, outChannels, kernelSize: kernelSize, stride: stride, padding: padding, bias: bias,
            using: &generator)
        weight = conv.weight
        self.bias = conv.bias
        self.stride = stride
        self.padding = padding
        u = SpectralNormalization.unitVector(outChannels, using: &generator)
        v = SpectralNormalization.unitVector(inChannels * kernelSize.height * kernelSize.width, using: &generator)
    }

    /// The weight the forward pass uses, W / σ(W) (one power-iteration step in training mode).
    public func normalizedWeight() -> Tensor {
        SpectralNormalization.normalized(weight, u: u, v: v, iterates: isTraining)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        conv2d(input, weight: normalizedWeight(), bias: bias, stride: stride, padding: padding)
    }
}

/// `Linear` with a spectrally normalised weight (`SpectralNormalization`); buffers `u`, `v`.
public final class SpectralNormLinear: Module, Layer {
    public let weight: Tensor
    public let bias: Tensor?
    public let u: Tensor
    public let v: Tensor

    public init(_ inputCount: Int, _ outputCount: Int, bias: Bool = true, using generator: inout SeededGenerator) {
        let linear = Linear(inputCount, outputCount, bias: bias, using: &generator)
        weight = linear.weight
        self.bias = linear.bias
        u = SpectralNormalization.unitVector(outputCount, using: &generator)
        v = SpectralNormalization.unitVector(inputCount, using: &generator)
    }

    public func normalizedWeight() -> Tensor {
        SpectralNormalization.normalized(weight, u: u, v: v, iterates: isTraining)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let y = matmul(input, normalizedWeight(), transposeB: true)
        return bias.map { y + $0 } ?? y
    }
}
