import Foundation

/// A learning rate as a function of training progress — a step count or a fractional epoch,
/// whichever the training loop counts in. A value: build it once, then each iteration
///
///     optimizer.learningRate = schedule.learningRate(at: Double(epoch - 1) + Double(i) / Double(batches))
///
/// The closed forms follow `torch.optim.lr_scheduler` (evaluated in Float64).
public struct LearningRateSchedule: Sendable {
    private let function: @Sendable (Double) -> Double

    /// A schedule from any function of the step.
    public init(_ function: @escaping @Sendable (Double) -> Double) {
        self.function = function
    }

    /// The learning rate at `step` (fractional steps allowed).
    public func learningRate(at step: Double) -> Float { Float(function(step)) }

    /// The same rate at every step.
    public static func constant(_ value: Float) -> LearningRateSchedule {
        let v = Double(value)
        return LearningRateSchedule { _ in v }
    }

    /// Cosine annealing from `initial` to `minimum` over `steps` (torch `CosineAnnealingLR`
    /// with T_max = steps, eta_min = minimum, closed form):
    /// minimum + (initial − minimum)·(1 + cos(π·t/steps))/2. Holds `minimum` after `steps`
    /// (torch's closed form would rise again) and `initial` before 0.
    public static func cosineDecay(from initial: Float, to minimum: Float = 0, over steps: Double)
        -> LearningRateSchedule
    {
        precondition(steps > 0, "cosineDecay: steps must be positive, got \(steps)")
        let hi = Double(initial)
        let lo = Double(minimum)
        return LearningRateSchedule { t in
            let progress = Swift.min(Swift.max(t, 0), steps) / steps
            return lo + (hi - lo) * (1 + Foundation.cos(Double.pi * progress)) / 2
        }
    }

    /// Linear warm-up to `target` over `steps`, starting at `startFactor`·target (torch
    /// `LinearLR` with end_factor 1): target·(s + (1 − s)·min(t, steps)/steps); `target` after.
    public static func linearWarmup(to target: Float, startFactor: Float, over steps: Double) -> LearningRateSchedule {
        precondition(steps > 0, "linearWarmup: steps must be positive, got \(steps)")
        let base = Double(target)
        let s = Double(startFactor)
        return LearningRateSchedule { t in
            base * (s + (1 - s) * Swift.min(Swift.max(t, 0), steps) / steps)
        }
    }

    /// `initial` multiplied by `gamma` once for every milestone reached (torch `MultiStepLR`):
    /// initial·gamma^(number of milestones ≤ t).
    public static func multiStep(_ initial: Float, milestones: [Double], gamma: Float) -> LearningRateSchedule {
        let base = Double(initial)
        let g = Double(gamma)
        let sorted = milestones.sorted()
        return LearningRateSchedule { t in
            base * Foundation.pow(g, Double(sorted.filter { $0 <= t }.count))
        }
    }

    /// This schedule before `boundary`, then `next` started afresh: next(t − boundary) for
    /// t ≥ boundary (torch `SequentialLR` with one milestone).
    public func followed(by next: LearningRateSchedule, at boundary: Double) -> LearningRateSchedule {
        let first = function
        let second = next.function
        return LearningRateSchedule { t in t < boundary ? first(t) : second(t - boundary) }
    }

    /// Linear warm-up from startFactor·peak to `peak` over `warmupSteps`, then cosine decay to
    /// `minimum` over the remaining `totalSteps − warmupSteps`.
    public static func warmupCosine(
        peak: Float, warmupSteps: Double, totalSteps: Double, startFactor: Float = 0, minimum: Float = 0
    ) -> LearningRateSchedule {
        precondition(
            totalSteps > warmupSteps, "warmupCosine: totalSteps \(totalSteps) must exceed warmupSteps \(warmupSteps)")
        return linearWarmup(to: peak, startFactor: startFactor, over: warmupSteps)
            .followed(by: cosineDecay(from: peak, to: minimum, over: totalSteps - warmupSteps), at: warmupSteps)
    }

    /// `GradualWarmupScheduler` (as used by CSI, `training/scheduler.py`): for t ≤ warmup the
    /// rate ramps linearly from `base` to `multiplier`·base — base·((multiplier − 1)·t/warmup + 1),
    /// or base·t/warmup when multiplier is 1 — then follows `after(t − warmup)`. Build `after`
    /// starting from multiplier·base (the scheduler resets its successor's base rate so).
    ///
    /// Not reproduced: on the first call past the warm-up the original returns its successor's
    /// stale last rate for one iteration.
    public static func gradualWarmup(
        base: Float, multiplier: Float, warmup: Double, then after: LearningRateSchedule
    ) -> LearningRateSchedule {
        precondition(multiplier >= 1, "gradualWarmup: multiplier must be ≥ 1, got \(multiplier)")
        precondition(warmup > 0, "gradualWarmup: warm-up length must be positive, got \(warmup)")
        let b = Double(base)
        let m = Double(multiplier)
        let next = after.function
        return LearningRateSchedule { t in
            if t > warmup { return next(t - warmup) }
            return m == 1 ? b * t / warmup : b * ((m - 1) * t / warmup + 1)
        }
    }

    /// CSI's schedule (METHODS.md §1.4), in fractional epochs e = epoch − 1 + i/batches:
    /// gradual warm-up from `base` to `multiplier`·base over `warmupEpochs`, then cosine
    /// annealing from multiplier·base towards 0 with T_max = `epochs` (so it ends just short of 0).
    public static func csi(
        base: Float = 0.1, multiplier: Float = 10, warmupEpochs: Double = 10, epochs: Double
    ) -> LearningRateSchedule {
        gradualWarmup(
            base: base, multiplier: multiplier, warmup: warmupEpochs,
            then: cosineDecay(from: base * multiplier, to: 0, over: epochs))
    }
}
