import Datasets
import Foundation
import Tensors
import Testing

@Suite struct AugmentColorTests {
    let fixture: AugmentFixture
    init() throws { fixture = try AugmentFixture("color.json") }

    @Test func contrastWithFixedFactorsMatchesReference() {
        let x = fixture.tensor("input")
        let got = ImageOps.adjustContrast(x, factors: fixture.floats("contrast_factors"))
        #expect(maxAbsDifference(got, fixture.tensor("contrast_output")) < 2e-6)
    }

    @Test func hsvWithFixedFactorsMatchesReference() {
        let x = fixture.tensor("input")
        let got = ImageOps.adjustHSV(
            x, hueFactors: fixture.floats("hue_factors"), saturationFactors: fixture.floats("saturation_factors"),
            valueFactors: fixture.floats("value_factors"))
        #expect(maxAbsDifference(got, fixture.tensor("hsv_output")) < 1e-5)
        // CSI's atan2 hue makes even the neutral factors a (small) colour change; we keep it.
        let neutral = ImageOps.adjustHSV(
            x, hueFactors: Array(repeating: 0, count: 5), saturationFactors: Array(repeating: 1, count: 5),
            valueFactors: Array(repeating: 1, count: 5))
        #expect(maxAbsDifference(neutral, fixture.tensor("hsv_identity_output")) < 1e-5)
        #expect(maxAbsDifference(neutral, x) < 0.02)
    }

    @Test func hsvOnGreyImagesScalesValue() {
        let grey = fixture.tensor("grey_input")
        let got = ImageOps.adjustHSV(
            grey, hueFactors: [0.05, -0.1], saturationFactors: [1.3, 0.7], valueFactors: [1.25, 0.8])
        #expect(maxAbsDifference(got, fixture.tensor("grey_hsv_output")) < 1e-6)
    }

    @Test func grayscaleUsesLumaWeights() {
        let x = fixture.tensor("input")
        let flags = fixture.ints("gray_flags").map { $0 != 0 }
        #expect(maxAbsDifference(ImageOps.grayscale(x, where: flags), fixture.tensor("gray_output")) < 1e-6)
        // Pure red, green and blue pixels become their weights.
        let primaries = Tensor([1, 0, 0, 0, 1, 0, 0, 0, 1], shape: [1, 3, 1, 3])
        let grey = ImageOps.grayscale(primaries, where: [true]).toArray()
        for (index, weight) in [Float(0.299), 0.587, 0.114].enumerated() {
            for channel in 0..<3 { #expect(abs(grey[channel * 3 + index] - weight) < 1e-7) }
        }
    }

    @Test func colorJitterWithFixedParametersMatchesReference() {
        let x = fixture.tensor("input")
        let table = fixture.floats("jitter_parameters")
        let parameters = (0..<5).map { i in
            ColorJitter.Parameters(
                apply: table[i * 6] != 0, contrastFirst: table[i * 6 + 1] != 0, contrastFactor: table[i * 6 + 2],
                hueFactor: table[i * 6 + 3], saturationFactor: table[i * 6 + 4], valueFactor: table[i * 6 + 5])
        }
        let got = ColorJitter().apply(x, parameters: parameters)
        #expect(maxAbsDifference(got, fixture.tensor("jitter_output")) < 1e-5)
        // An image that is not jittered is copied exactly.
        #expect(image(got, 2).toArray() == image(x, 2).toArray())
    }

    @Test func colorJitterDrawsWithinTheRanges() {
        var generator = SeededGenerator(seed: 21)
        let jitter = ColorJitter()
        let parameters = jitter.sampleParameters(count: 5000, using: &generator)
        let applied = Double(parameters.filter(\.apply).count) / 5000
        #expect(abs(applied - 0.8) < 0.02)
        #expect(parameters.allSatisfy { $0.contrastFactor >= 0.6 && $0.contrastFactor <= 1.4 })
        #expect(parameters.allSatisfy { abs($0.hueFactor) <= 0.1 })
        #expect(parameters.allSatisfy { $0.saturationFactor >= 0.6 && $0.saturationFactor <= 1.4 })
        #expect(parameters.allSatisfy { $0.valueFactor >= 0.6 && $0.valueFactor <= 1.4 })
        // The released code draws the order once per batch.
        #expect(Set(parameters.map(\.contrastFirst)).count == 1)
        let perSample = ColorJitter(orderPerSample: true).sampleParameters(count: 200, using: &generator)
        #expect(Set(perSample.map(\.contrastFirst)).count == 2)
        var orders = Set<Bool>()
        for _ in 0..<20 { orders.insert(jitter.sampleParameters(count: 1, using: &generator)[0].contrastFirst) }
        #expect(orders.count == 2)
    }

    @Test func randomGrayscaleProbability() {
        var generator = SeededGenerator(seed: 22)
        let flags = RandomGrayscale().sampleFlags(count: 5000, using: &generator)
        #expect(abs(Double(flags.filter { $0 }.count) / 5000 - 0.2) < 0.02)
    }

    /// A big batch runs on several threads; each image must come out as if it had been alone.
    @Test func perImageResultsDoNotDependOnTheBatch() {
        let x = randomImages([64, 3, 16, 16], seed: 23)
        var generator = SeededGenerator(seed: 24)
        let jitter = ColorJitter(orderPerSample: true)
        let parameters = jitter.sampleParameters(count: 64, using: &generator)
        let batch = jitter.apply(x, parameters: parameters)
        for i in [0, 17, 40, 63] {
            #expect(image(batch, i).toArray() == jitter.apply(image(x, i), parameters: [parameters[i]]).toArray())
        }
    }
}
