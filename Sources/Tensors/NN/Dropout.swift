/// Inverted dropout.

/// Zeroes each value with probability `p` and scales the survivors by 1/(1 − p), so the
/// expected value is unchanged; the identity when not `training` or p = 0. The mask is drawn
/// from `generator` (one draw per value), so the same seed drops the same values.
public func dropout(_ input: Tensor, p: Float, training: Bool, generator: inout SeededGenerator) -> Tensor {
    precondition(p >= 0 && p <= 1, "dropout: probability \(p) must be in [0, 1]")
    if !training || p == 0 { return input }
    if p == 1 { return input * Tensor.zeros(input.shape, device: input.device) }
    let keepScale = 1 / (1 - p)
    let mask = Tensor(uninitializedShape: input.shape)
    let m = mask.pointer
    // 24 random bits per value, two values per 64-bit draw.
    let threshold = UInt32((Double(p) * 16_777_216).rounded())
    var i = 0
    while i + 1 < mask.count {
        let r = generator.next()
        m[i] = UInt32(truncatingIfNeeded: r >> 40) < threshold ? 0 : keepScale
        m[i + 1] = UInt32(truncatingIfNeeded: (r >> 8) & 0xFF_FFFF) < threshold ? 0 : keepScale
        i += 2
    }
    if i < mask.count { m[i] = UInt32(truncatingIfNeeded: generator.next() >> 40) < threshold ? 0 : keepScale }
    return input * mask.to(input.device)
}
