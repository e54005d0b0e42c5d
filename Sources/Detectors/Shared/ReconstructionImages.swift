import Datasets
import Tensors

extension ReportImages {
    /// The first `count` of `samples` (test images), each followed by what `reconstruct` makes of
    /// it: `reconstruct` gets the batch on `device` and returns the input as the network sees it
    /// (after its input scaling) and the reconstruction, both `[n, C, H, W]`. Captions "test #i"
    /// and "<label> of #i". Nil for samples that are not images or not of `sampleShape`.
    ///
    /// A pair is shown as is when both lie in [0, 1]; otherwise (a network's input scale — global
    /// contrast normalisation, standardisation — is not [0, 1]) it is stretched to [0, 1] by the
    /// pair's joint minimum and maximum, so the two stay comparable.
    public static func reconstructions(
        title: String, label: String, of samples: Samples, count: Int, sampleShape: [Int], device: Device,
        _ reconstruct: (Tensor) -> (input: Tensor, reconstruction: Tensor)
    ) -> ReportImages? {
        guard sampleShape.count == 3, samples.sampleShape == sampleShape, count > 0, samples.count > 0 else { return nil }
        let shown = min(count, samples.count)
        let width = samples.featureCount
        let x = Tensor(Array(samples.values.prefix(shown * width)), shape: [shown] + sampleShape).to(device)
        let (inputs, reconstructed) = withoutGradients {
            let (input, reconstruction) = reconstruct(x)
            return (input.to(.cpu).toArray(), reconstruction.to(.cpu).toArray())
        }
        var pairs: [Float] = []
        pairs.reserveCapacity(2 * shown * width)
        var captions: [String] = []
        for i in 0..<shown {
            let pair = Array(inputs[(i * width)..<((i + 1) * width)] + reconstructed[(i * width)..<((i + 1) * width)])
            pairs += unitRange(pair)
            captions += ["test #\(i)", "\(label) of #\(i)"]
        }
        return ReportImages(title: title, images: Samples(values: pairs, shape: [2 * shown] + sampleShape), captions: captions)
    }

    /// `values` as they are when they lie in [0, 1], else stretched to it by their minimum and
    /// maximum (a constant set becomes 0.5; non-finite values 0).
    public static func unitRange(_ values: [Float]) -> [Float] {
        let finite = values.filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max() else { return values.map { _ in 0 } }
        if low >= 0, high <= 1, finite.count == values.count { return values }
        guard high > low else { return values.map { $0.isFinite ? 0.5 : 0 } }
        return values.map { $0.isFinite ? ($0 - low) / (high - low) : 0 }
    }
}

/// A deep detector whose networks reconstruct their input (the autoencoder family): its report
/// shows test images beside their reconstructions, what its score compares.
public protocol ReconstructingDetector: DeepDetector, ImageReporting {
    /// A batch of samples as the network sees it (after the detector's input scaling) and the
    /// network's reconstruction of it, in the same scale.
    static func reconstruction(_ x: Tensor, state: State) -> (input: Tensor, reconstruction: Tensor)
}

extension ReconstructingDetector {
    /// The first `count` of `samples` each followed by its reconstruction (none for tables).
    public func reconstructionImages(of samples: Samples, count: Int, context: InferenceContext) throws -> [ReportImages] {
        guard let state else { throw DetectorError.notFitted(Self.methodName) }
        state.eval()
        return ReportImages.reconstructions(
            title: "Test images and their reconstructions", label: "reconstruction", of: samples, count: count,
            sampleShape: state.sampleShape, device: context.device
        ) { Self.reconstruction($0, state: state) }.map { [$0] } ?? []
    }

    public func reportImages(of samples: Samples, count: Int, context: InferenceContext) throws -> [ReportImages] {
        try reconstructionImages(of: samples, count: count, context: context)
    }
}
