import Foundation
import Layers
import Testing

private typealias Support = LossTestSupport

private struct ScheduleFixtureFile: Decodable {
    struct Case: Decodable {
        let name: String
        let base: Float
        let values: [Double]
        let startFactor: Float?
        let steps: Double?
        let etaMin: Float?
        let milestones: [Double]?
        let gamma: Float?
        let warmup: Double?
        let cosineSteps: Double?
        let multiplier: Float?
        let epochs: Double?
        let at: [Double]?
    }

    let cases: [Case]
}

@Suite struct ScheduleTests {
    /// Against torch.optim.lr_scheduler (LinearLR, CosineAnnealingLR, MultiStepLR, SequentialLR)
    /// stepped once per iteration, and CSI's warm-up + CosineAnnealingLR at fractional epochs.
    @Test func matchesPyTorch() throws {
        let fixture = try Support.loadFixture(ScheduleFixtureFile.self, "schedules.json", snakeCaseKeys: true)
        var names: [String] = []
        for c in fixture.cases {
            names.append(c.name)
            let schedule: LearningRateSchedule
            switch c.name {
            case "linear_warmup":
                schedule = .linearWarmup(to: c.base, startFactor: c.startFactor!, over: c.steps!)
            case "cosine":
                schedule = .cosineDecay(from: c.base, to: c.etaMin!, over: c.steps!)
            case "multistep":
                schedule = .multiStep(c.base, milestones: c.milestones!, gamma: c.gamma!)
            case "warmup_then_cosine":
                schedule = .warmupCosine(
                    peak: c.base, warmupSteps: c.warmup!, totalSteps: c.warmup! + c.cosineSteps!,
                    startFactor: c.startFactor!)
            case "csi":
                schedule = .csi(base: c.base, multiplier: c.multiplier!, warmupEpochs: c.warmup!, epochs: c.epochs!)
            default:
                Issue.record("unknown schedule case \(c.name)")
                continue
            }
            let steps = c.at ?? c.values.indices.map(Double.init)
            let actual = steps.map { schedule.learningRate(at: $0) }
            Support.expectClose(actual, c.values.map(Float.init), atol: 1e-7, rtol: 1e-5, c.name)
        }
        #expect(names == ["linear_warmup", "cosine", "multistep", "warmup_then_cosine", "csi"])
    }

    @Test func cosineDecayByHand() {
        let s = LearningRateSchedule.cosineDecay(from: 1, to: 0.1, over: 100)
        #expect(s.learningRate(at: 0) == 1)
        #expect(Swift.abs(s.learningRate(at: 50) - 0.55) < 1e-6)
        #expect(Swift.abs(s.learningRate(at: 25) - Float(0.1 + 0.9 * (1 + 0.5.squareRoot()) / 2)) < 1e-6)
        #expect(s.learningRate(at: 100) == 0.1)
        #expect(s.learningRate(at: 250) == 0.1)  // holds the minimum
    }

    @Test func linearWarmupAndMilestonesByHand() {
        let warm = LearningRateSchedule.linearWarmup(to: 2, startFactor: 0.25, over: 4)
        #expect(warm.learningRate(at: 0) == 0.5)
        #expect(warm.learningRate(at: 1) == 0.875)
        #expect(warm.learningRate(at: 2.5) == 2 * (0.25 + 0.75 * 2.5 / 4))
        #expect(warm.learningRate(at: 4) == 2)
        #expect(warm.learningRate(at: 9) == 2)
        let steps = LearningRateSchedule.multiStep(1, milestones: [30, 10], gamma: 0.5)
        #expect(steps.learningRate(at: 9.99) == 1)
        #expect(steps.learningRate(at: 10) == 0.5)
        #expect(steps.learningRate(at: 29) == 0.5)
        #expect(steps.learningRate(at: 30) == 0.25)
    }

    @Test func compositionRestartsTheSecondSchedule() {
        let s = LearningRateSchedule.constant(3).followed(by: .linearWarmup(to: 1, startFactor: 0, over: 10), at: 5)
        #expect(s.learningRate(at: 4.9) == 3)
        #expect(s.learningRate(at: 5) == 0)
        #expect(s.learningRate(at: 10) == 0.5)
        let wc = LearningRateSchedule.warmupCosine(peak: 1, warmupSteps: 10, totalSteps: 110)
        #expect(wc.learningRate(at: 0) == 0)
        #expect(wc.learningRate(at: 5) == 0.5)
        #expect(wc.learningRate(at: 10) == 1)
        #expect(Swift.abs(wc.learningRate(at: 60) - 0.5) < 1e-6)
        #expect(wc.learningRate(at: 110) == 0)
    }

    /// METHODS.md §1.4: from lr_init to 10·lr_init over 10 epochs, then cosine from 10·lr_init
    /// with T_max = epochs.
    @Test func csiScheduleByHand() {
        let s = LearningRateSchedule.csi(base: 0.1, multiplier: 10, warmupEpochs: 10, epochs: 1000)
        #expect(Swift.abs(s.learningRate(at: 0) - 0.1) < 1e-7)
        #expect(Swift.abs(s.learningRate(at: 5) - 0.55) < 1e-6)
        #expect(Swift.abs(s.learningRate(at: 10) - 1.0) < 1e-6)
        #expect(Swift.abs(s.learningRate(at: 510) - 0.5) < 1e-6)
        let end = Float(0.5 * (1 + Foundation.cos(Double.pi * 990 / 1000)))
        #expect(Swift.abs(s.learningRate(at: 1000) - end) < 1e-7)
        #expect(s.learningRate(at: 1000) > 0)  // T_max = epochs, so it stops short of zero
        // multiplier 1: the plain linear ramp from 0
        let ramp = LearningRateSchedule.gradualWarmup(base: 0.4, multiplier: 1, warmup: 4, then: .constant(0.4))
        #expect(ramp.learningRate(at: 1) == 0.1)
        #expect(ramp.learningRate(at: 7) == 0.4)
    }
}
