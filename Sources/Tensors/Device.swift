/// Where a tensor's storage lives. The CPU is always present; CUDA plugs in behind the same
/// backend interface (a later issue).
public enum Device: Sendable, Hashable, CustomStringConvertible {
    case cpu
    case cuda(Int)

    public var description: String {
        switch self {
        case .cpu: return "cpu"
        case .cuda(let index): return "cuda:\(index)"
        }
    }
}
