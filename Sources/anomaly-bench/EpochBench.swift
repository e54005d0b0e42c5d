import Datasets
import Detectors
import Foundation
import Layers
import Tensors

// MARK: Contrastive epoch

/// One contrastive epoch through the real pipeline (loader thread gathering and augmenting:
/// h-flip, 4 rotations, colour jitter, grey, resized crop; then CSI's step: NT-Xent over the 8B
/// views + rotation cross-entropy, Adam) against the bare step on the same, pre-built batches.
/// Both run the same number of steps on the same network; the ratio says how much of the step's
/// throughput loading and augmentation cost.
func benchContrastiveEpoch(_ options: Options) {
    let architecture = options.only.contains("resnet18") ? EncoderOptions.Architecture.resnet18 : .resnet20
    let images = options.epochImages, batch = options.epochBatch, shape = options.epochShape
    print("Contrastive epoch (CSI on \(architecture.rawValue)\(options.epochPadding ? "" : ", no padding"), \(images) images of \(shape.map(String.init).joined(separator: "×")), \(batch) images = \(8 * batch) views per step, Adam), \(CPUThreads.count) threads")
    var g = SeededGenerator(seed: 0)
    let samples = Samples(values: Tensor.uniform([images] + shape, using: &g).toArray(), shape: [images] + shape)
    let training = ContrastiveTrainingOptions(
        epochs: 1, batchSize: batch, optimizer: .adam, learningRate: 1e-3, weightDecay: 0, warmupEpochs: 0,
        warmupMultiplier: 1)
    let views = ContrastivePretraining.views(options: training, rotationCount: 4)
    let loader = ContrastivePretraining.loader(samples, options: training, views: views, seed: 0)
    var encoder = EncoderOptions(architecture: architecture)
    encoder.padsToMultipleOf8 = options.epochPadding
    let network = ContrastiveNetwork.csi(sampleShape: shape, encoder: encoder, shiftCount: 4, using: &g)
    network.train()
    let optimizer = Adam(parameters: network.parameters(), learningRate: 1e-3)
    let csi = CSI.Configuration()
    func step(_ x: Tensor) {
        optimizer.zeroGradients()
        let terms = CSI.lossTerms(network, views: x, imageCount: batch, configuration: csi)
        (terms[0].value + terms[1].value).backward()
        optimizer.step()
    }
    step(loader.batch(epoch: 0, index: 0).inputs)  // warm-up
    let prebuilt = (0..<loader.batchCount).map { loader.batch(epoch: 0, index: $0).inputs }
    var start = Date()
    for x in prebuilt { step(x) }
    let bare = Date().timeIntervalSince(start)
    start = Date()
    for batchOfViews in loader.epoch(0) { step(batchOfViews.inputs) }
    let full = Date().timeIntervalSince(start)
    start = Date()
    for index in 0..<loader.batchCount { _ = loader.batch(epoch: 1, index: index) }
    let augmentation = Date().timeIntervalSince(start)
    let perSecond = { (t: Double) in Double(loader.batchCount * batch) / t }
    print(String(format: "bare step   %8.1f img/s  (%.2f s for %d steps)", perSecond(bare), bare, loader.batchCount))
    print(String(format: "full epoch  %8.1f img/s  (%.2f s): %.2f× the bare step", perSecond(full), full, bare / full))
    print(String(format: "loading and augmentation alone, on the calling thread: %.2f s per epoch", augmentation))
    guard torchAvailable(options), let script = benchScript("torch_contrastive_epoch.py") else { return }
    let arguments = [
        script, "--json", "--images", "\(images)", "--batch", "\(batch)", "--arch", architecture.rawValue,
        "--shape", shape.map(String.init).joined(separator: "x"), "--threads", "\(CPUThreads.count)",
    ]
    guard let theirs = run(options.python, arguments).flatMap({ jsonLines($0).first }),
        let torchFull = theirs["full_img_per_s"] as? Double, let torchBare = theirs["bare_img_per_s"] as? Double
    else {
        print("PyTorch reference failed to run")
        return
    }
    print(String(format: "PyTorch     %8.1f img/s full epoch, %.1f bare step (same images, batch, threads)", torchFull, torchBare))
    print(String(format: "ours / PyTorch: full epoch %.2f×, bare step %.2f×", perSecond(full) / torchFull, perSecond(bare) / torchBare))
}
