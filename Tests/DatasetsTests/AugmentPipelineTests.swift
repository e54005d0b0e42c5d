import Datasets
import Foundation
import Tensors
import Testing

@Suite struct AugmentPipelineTests {
    static let augmentations: [(String, any BatchAugmentation)] = [
        ("flip", RandomHorizontalFlip()),
        ("jitter", ColorJitter()),
        ("grayscale", RandomGrayscale()),
        ("crop training", RandomResizedCrop.training),
        ("crop evaluation", RandomResizedCrop.evaluation),
        ("blur", GaussianBlur(kernelSize: 3)),
        ("simclr training", SimCLRAugmentation.training),
        ("simclr evaluation", SimCLRAugmentation.evaluation),
        ("csi", CSIAugmentation()),
        ("elsa views", CSIAugmentation(simclr: .evaluation, rotationCount: 1)),
        ("randaugment", RandAugmentMC()),
        ("pipeline", AugmentationPipeline([RandAugmentMC(), SimCLRAugmentation.evaluation])),
    ]

    @Test(arguments: 0..<augmentations.count)
    func sameSeedSameBatchDifferentSeedDifferentBatch(_ which: Int) {
        let (name, augmentation) = Self.augmentations[which]
        let x = randomImages([16, 3, 32, 32], seed: 41)
        var a = SeededGenerator(seed: 100)
        var b = SeededGenerator(seed: 100)
        var c = SeededGenerator(seed: 101)
        let first = augmentation(x, using: &a)
        let again = augmentation(x, using: &b)
        let other = augmentation(x, using: &c)
        #expect(first.toArray() == again.toArray(), "\(name)")
        #expect(first.toArray() != other.toArray(), "\(name)")
        #expect(a == b, "\(name): generators advanced differently")
        #expect(allInUnitInterval(first), "\(name): values left [0, 1]")
        #expect(first.shape.dropFirst() == x.shape.dropFirst(), "\(name)")
        #expect(x.toArray() == randomImages([16, 3, 32, 32], seed: 41).toArray(), "\(name) modified its input")
    }

    @Test func extremeInputsStayInRange() {
        // Saturated colours, black, white and grey images through the full CSI pipeline.
        var values = [Float]()
        for i in 0..<(8 * 3 * 32 * 32) { values.append([0, 1, 0.5, 1, 0][i % 5]) }
        let x = Tensor(values, shape: [8, 3, 32, 32])
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<3 {
            let y = CSIAugmentation()(x, using: &generator)
            #expect(y.shape == [64, 3, 32, 32])
            #expect(allInUnitInterval(y))
        }
    }

    @Test func csiShiftedViewsLayout() {
        let batchSize = 3
        let x = randomImages([batchSize, 3, 8, 8], seed: 42)
        let csi = CSIAugmentation()
        var generator = SeededGenerator(seed: 9)
        let views = csi.shiftedViews(x, using: &generator)
        #expect(views.shape == [24, 3, 8, 8])
        #expect(
            csi.rotationLabels(batchSize: batchSize) == [
                0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3,
            ])
        let flipped = ImageOps.flipHorizontally(x, where: Array(repeating: true, count: batchSize))
        var flipCounts = [0, 0]
        for view in 0..<2 {
            for b in 0..<batchSize {
                // Undo each rotation: all four must give the same copy (one flip per copy).
                let copies = (0..<4).map { k in
                    ImageOps.rot90(
                        image(views, csi.row(image: b, view: view, rotation: k, batchSize: batchSize)), k: -k
                    )
                    .toArray()
                }
                #expect(copies.allSatisfy { $0 == copies[0] })
                let isFlipped = copies[0] == image(flipped, b).toArray()
                #expect(isFlipped || copies[0] == image(x, b).toArray())
                flipCounts[isFlipped ? 1 : 0] += 1
            }
        }
        #expect(flipCounts[0] > 0 && flipCounts[1] > 0)
        // Rotation 1 of a view is torch.rot90(copy, 1).
        let copy = ImageOps.rot90(image(views, csi.row(image: 1, view: 1, rotation: 0, batchSize: batchSize)), k: 0)
        #expect(
            ImageOps.rot90(copy, k: 1).toArray()
                == image(views, csi.row(image: 1, view: 1, rotation: 1, batchSize: batchSize)).toArray())
    }

    @Test func csiTrainingViewsAreShiftedViewsThenSimCLR() {
        let x = randomImages([4, 3, 16, 16], seed: 43)
        let csi = CSIAugmentation(simclr: .evaluation)
        var a = SeededGenerator(seed: 10)
        var b = SeededGenerator(seed: 10)
        let full = csi(x, using: &a)
        let views = csi.shiftedViews(x, using: &b)
        #expect(full.toArray() == SimCLRAugmentation.evaluation(views, using: &b).toArray())
        #expect(full.shape == [32, 3, 16, 16])
        let test = csi.testView(x, rotation: 2, using: &a)
        #expect(test.shape == [4, 3, 16, 16])
    }

    @Test func simclrWithoutColourIsTheCrop() {
        let x = randomImages([6, 3, 32, 32], seed: 44)
        let simclr = SimCLRAugmentation(
            cropScale: 0.54...0.54, colorJitter: ColorJitter(probability: 0), grayscale: RandomGrayscale(probability: 0)
        )
        var a = SeededGenerator(seed: 11)
        let y = simclr(x, using: &a)
        var b = SeededGenerator(seed: 11)
        _ = ColorJitter(probability: 0).sampleParameters(count: 6, using: &b)
        _ = RandomGrayscale(probability: 0).sampleFlags(count: 6, using: &b)
        #expect(y.toArray() == RandomResizedCrop.evaluation(x, using: &b).toArray())
    }

    @Test func oneChannelImagesAreSupported() {
        let x = randomImages([5, 1, 28, 28], seed: 45)
        var generator = SeededGenerator(seed: 12)
        let y = SimCLRAugmentation.training(x, using: &generator)
        #expect(y.shape == [5, 1, 28, 28])
        #expect(allInUnitInterval(y))
        let r = RandAugmentMC()(x, using: &generator)
        #expect(r.shape == [5, 1, 28, 28])
    }
}
