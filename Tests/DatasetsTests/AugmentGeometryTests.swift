import Datasets
import Foundation
import Tensors
import Testing

@Suite struct AugmentGeometryTests {
    let fixture: AugmentFixture
    init() throws { fixture = try AugmentFixture("geometry.json") }

    @Test func rot90MatchesTorchRot90() {
        let x = fixture.tensor("rot_input")
        for k in [0, 1, 2, 3, -1, 5] {
            let expected = fixture.tensor("rot_k\(k)")
            let got = ImageOps.rot90(x, k: k)
            #expect(got.shape == expected.shape, "k = \(k)")
            #expect(got.toArray() == expected.toArray(), "k = \(k)")
        }
        // Four quarter turns are the identity; a counter-clockwise turn moves the top-right
        // corner to the top-left.
        let once = ImageOps.rot90(x, k: 1)
        #expect(ImageOps.rot90(ImageOps.rot90(ImageOps.rot90(once, k: 1), k: 1), k: 1).toArray() == x.toArray())
        #expect(once.pointer[0] == x.pointer[4])
    }

    @Test func fourRotationsStacksR0ToR3() {
        let x = fixture.tensor("four_input")
        let got = ImageOps.fourRotations(x)
        #expect(got.shape == [8, 2, 4, 4])
        #expect(got.toArray() == fixture.tensor("four_output").toArray())
    }

    @Test func horizontalFlipMatchesCSIFlipLayer() {
        let x = fixture.tensor("flip_input")
        let flags = fixture.ints("flip_flags").map { $0 != 0 }
        let got = ImageOps.flipHorizontally(x, where: flags)
        #expect(maxAbsDifference(got, fixture.tensor("flip_output")) < 1e-6)
        #expect(ImageOps.flipHorizontally(got, where: flags).toArray() == x.toArray())
    }

    @Test func randomHorizontalFlipProbability() {
        var generator = SeededGenerator(seed: 3)
        let flip = RandomHorizontalFlip()
        let flags = flip.sampleFlags(count: 4000, using: &generator)
        let fraction = Double(flags.filter { $0 }.count) / 4000
        #expect(abs(fraction - 0.5) < 0.03)
        let x = randomImages([6, 3, 4, 5], seed: 1)
        #expect(RandomHorizontalFlip(probability: 0)(x, using: &generator).toArray() == x.toArray())
        let all = RandomHorizontalFlip(probability: 1)(x, using: &generator)
        #expect(all.toArray() == ImageOps.flipHorizontally(x, where: Array(repeating: true, count: 6)).toArray())
    }

    @Test func reflectionGridSampleMatchesTorch() {
        let x = fixture.tensor("grid_input")
        let thetas = fixture.floats("grid_thetas")
        let transforms = (0..<4).map { AffineTransform(Array(thetas[($0 * 6)..<($0 * 6 + 6)])) }
        let same = ImageOps.affineGridSample(x, transforms: transforms)
        #expect(maxAbsDifference(same, fixture.tensor("grid_output")) < 2e-5)
        let resized = ImageOps.affineGridSample(x, transforms: transforms, outputSize: ImageSize(height: 5, width: 11))
        #expect(maxAbsDifference(resized, fixture.tensor("grid_output_5x11")) < 2e-5)
        // The identity map reproduces the input.
        let identity = ImageOps.affineGridSample(x, transforms: Array(repeating: .identity, count: 4))
        #expect(maxAbsDifference(identity, x) < 1e-6)
    }

    @Test func cropBoxMatchesCSIResizedCropLayer() {
        let x = fixture.tensor("crop_input")
        let box = fixture.ints("crop_box")
        let crop = RandomResizedCrop.Crop(width: box[0], height: box[1], offsetX: box[2], offsetY: box[3])
        let got = RandomResizedCrop.evaluation.apply(x, crops: [crop])
        #expect(maxAbsDifference(got, fixture.tensor("crop_output")) < 2e-5)
        #expect(
            crop.transform(for: ImageSize(height: 16, width: 20))
                == AffineTransform(a: 0.45, b: 0, c: -0.25, d: 0, e: 0.8125, f: 0.1875))
    }

    @Test func adaptiveAveragePoolMatchesTorch() {
        let x = fixture.tensor("pool_input")
        #expect(
            maxAbsDifference(
                ImageOps.adaptiveAveragePool(x, to: ImageSize(height: 3, width: 4)), fixture.tensor("pool_3x4")) < 1e-6)
        #expect(
            maxAbsDifference(
                ImageOps.adaptiveAveragePool(x, to: ImageSize(height: 10, width: 5)), fixture.tensor("pool_10x5"))
                < 1e-6)
    }

    @Test func fixedScaleCropsHave54PercentArea() {
        var generator = SeededGenerator(seed: 11)
        let size = ImageSize(height: 32, width: 32)
        let crops = RandomResizedCrop.evaluation.sampleCrops(count: 2000, imageSize: size, using: &generator)
        for crop in crops {
            let area = Double(crop.width * crop.height) / 1024
            #expect(abs(area - 0.54) < 0.04, "\(crop)")
            let aspect = Double(crop.width) / Double(crop.height)
            #expect(aspect > 0.75 * 0.93 && aspect < 4.0 / 3.0 * 1.07, "\(crop)")
            #expect(abs(crop.offsetX) <= 32 - crop.width && abs(crop.offsetY) <= 32 - crop.height, "\(crop)")
        }
        // Positions and aspects vary.
        #expect(Set(crops.map(\.width)).count > 4)
        #expect(Set(crops.map(\.offsetX)).count > 10)
    }

    @Test func trainingCropsSpanTheScaleRangeAndFallBackToTheFullImage() {
        var generator = SeededGenerator(seed: 12)
        let size = ImageSize(height: 32, width: 32)
        let crops = RandomResizedCrop.training.sampleCrops(count: 3000, imageSize: size, using: &generator)
        let areas = crops.map { Double($0.width * $0.height) / 1024 }
        #expect(areas.min()! < 0.1 && areas.max()! > 0.9)
        // Crops that can never fit: after the trials, the whole image, centred.
        let impossible = RandomResizedCrop(scale: 1...1, ratio: 2...3)
        let fallback = impossible.sampleCrops(count: 5, imageSize: size, using: &generator)
        #expect(fallback.allSatisfy { $0 == RandomResizedCrop.Crop(width: 32, height: 32, offsetX: 0, offsetY: 0) })
        let x = randomImages([5, 3, 32, 32], seed: 4)
        #expect(maxAbsDifference(impossible.apply(x, crops: fallback), x) < 1e-6)
    }

    @Test func cropOutputSizeIsPooled() {
        var generator = SeededGenerator(seed: 13)
        let x = randomImages([3, 3, 16, 16], seed: 5)
        let crop = RandomResizedCrop(scale: 0.5...1, outputSize: ImageSize(height: 8, width: 8))
        let y = crop(x, using: &generator)
        #expect(y.shape == [3, 3, 8, 8])
        #expect(allInUnitInterval(y))
    }

    @Test func gaussianBlurMatchesTorchvision() throws {
        let blur = try AugmentFixture("blur.json")
        let x = blur.tensor("input")
        let sigmas = blur.floats("sigmas").map { Optional($0) }
        for k in [3, 5] {
            let got = ImageOps.gaussianBlur(x, kernelSize: k, sigmas: sigmas)
            #expect(maxAbsDifference(got, blur.tensor("output_k\(k)")) < 2e-6, "kernel \(k)")
        }
        #expect(ImageOps.gaussianBlur(x, kernelSize: 5, sigmas: [nil, nil]).toArray() == x.toArray())
        let kernel = ImageOps.gaussianKernel(size: 7, sigma: 1.2)
        #expect(abs(kernel.reduce(0, +) - 1) < 1e-6)
        #expect(kernel[0] == kernel[6] && kernel[3] > kernel[2])
    }
}
