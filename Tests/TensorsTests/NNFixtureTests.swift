import CKernels
import Tensors
import Testing

/// Forward values and gradients of sum(output · upstream) against PyTorch 2.13 (fixtures from
/// scripts/fixtures/nn_fixtures.py). Tolerance: 1e-5 relative plus 1e-5 × the largest expected
/// magnitude (float32 sums in a different order).
@Suite struct NNFixtureTests {
    /// Runs `op` on leaves, back-propagates the fixture's upstream, and compares.
    private func check(
        _ c: NNFixture, inputs: [String], prefix: String = "", _ op: ([Tensor?]) -> Tensor
    ) {
        let leaves: [Tensor?] = inputs.map { c.optionalTensor($0)?.requiringGrad() }
        let out = op(leaves)
        expectClose(out, c.tensor(prefix + "out"), "\(c.name) \(prefix)out")
        guard out.shape == c.tensor("upstream").shape else { return }
        (out * c.tensor("upstream")).sum().backward()
        for (name, leaf) in zip(inputs, leaves) where leaf != nil {
            expectClose(leaf!.grad, c.tensor("\(prefix)grad_\(name)"), "\(c.name) \(prefix)grad of \(name)")
        }
    }

    /// The C kernels have AVX-512, AVX2 and baseline variants chosen at run time; each must
    /// match. (The level is lowered for this test's thread and the workers it splits work over
    /// only: tests running concurrently keep their kernels and their exact numerics.)
    @Test func everyKernelVariantMatchesPyTorch() {
        for level: Int32 in [0, 2, 1] {
            let used = ak_nn_set_cpu_level(level)
            defer { _ = ak_nn_set_cpu_level(-1) }
            if used != level { continue }  // this CPU lacks the instruction set
            conv2dMatchesPyTorch()
            convTranspose2dMatchesPyTorch()
            batchNormMatchesPyTorch()
            poolingMatchesPyTorch()
            upsamplingMatchesPyTorch()
        }
    }

    @Test func conv2dMatchesPyTorch() {
        let cases = loadNNFixtures("conv2d.json")
        #expect(cases.count >= 16)
        for c in cases {
            check(c, inputs: ["x", "weight", "bias"]) { t in
                conv2d(t[0]!, weight: t[1]!, bias: t[2], stride: c.size("stride"), padding: c.size("padding"))
            }
        }
    }

    @Test func convTranspose2dMatchesPyTorch() {
        let cases = loadNNFixtures("conv_transpose2d.json")
        #expect(cases.count >= 9)
        for c in cases {
            check(c, inputs: ["x", "weight", "bias"]) { t in
                convTranspose2d(
                    t[0]!, weight: t[1]!, bias: t[2], stride: c.size("stride"), padding: c.size("padding"),
                    outputPadding: c.size("outputPadding"))
            }
        }
    }

    @Test func batchNormMatchesPyTorch() {
        let cases = loadNNFixtures("batchnorm.json")
        #expect(cases.count >= 7)
        for c in cases {
            for relu in [false, true] {
                let runningMean = c.tensor("runningMean")
                let runningVar = c.tensor("runningVar")
                check(c, inputs: ["x", "weight", "bias"], prefix: relu ? "relu_" : "") { t in
                    batchNorm(
                        t[0]!, runningMean: runningMean, runningVariance: runningVar, weight: t[1], bias: t[2],
                        training: c.bool("training"), momentum: c.float("momentum"), epsilon: c.float("eps"),
                        fusedReLU: relu)
                }
                // Running statistics after one step (unchanged in evaluation mode).
                expectClose(runningMean, c.tensor("runningMeanAfter"), "\(c.name) running mean")
                expectClose(runningVar, c.tensor("runningVarAfter"), "\(c.name) running variance")
            }
        }
    }

    @Test func poolingMatchesPyTorch() {
        let cases = loadNNFixtures("pooling.json")
        #expect(cases.count >= 12)
        for c in cases {
            check(c, inputs: ["x"]) { t in
                switch c.string("kind") {
                case "max":
                    return maxPool2d(
                        t[0]!, kernel: c.size("kernel"), stride: c.size("stride"), padding: c.size("padding"))
                case "avg":
                    return avgPool2d(
                        t[0]!, kernel: c.size("kernel"), stride: c.size("stride"), padding: c.size("padding"),
                        countIncludePad: c.bool("countIncludePad"))
                default:
                    return adaptiveAvgPool2d(t[0]!, outputSize: c.size("outputSize"))
                }
            }
        }
    }

    @Test func upsamplingMatchesPyTorch() {
        let cases = loadNNFixtures("upsample.json")
        #expect(cases.count >= 7)
        for c in cases {
            check(c, inputs: ["x"]) { t in
                if c.string("mode") == "nearest" { return upsampleNearest(t[0]!, scale: c.size("scale")) }
                if c.fields["size"] != nil { return upsampleBilinear(t[0]!, size: c.size("size")) }
                return upsampleBilinear(t[0]!, scale: c.size("scale"))
            }
        }
    }
}
