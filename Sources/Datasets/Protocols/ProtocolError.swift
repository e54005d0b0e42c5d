import Tensors

/// An error in the parameters of an experiment protocol, or in the labels it is applied to.
/// Every message names the option (or label array) and the offending value, so it can be shown
/// to a user as it is.
public enum ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A ratio or fraction outside its allowed range, e.g. `pollutionRatio = 1.2`.
    case invalidRatio(option: String, value: Double, allowed: String)
    /// A class id that does not occur in the labels, e.g. `knownAnomalyClass = 12`.
    case unknownClass(option: String, value: Int, available: [Int])
    /// The labels do not hold enough samples for the counts the option asks for.
    case notEnoughSamples(option: String, requested: Int, available: Int)
    /// An option whose value is not allowed for another reason (stated in `problem`).
    case invalidOption(option: String, value: String, problem: String)
    /// A label array that cannot be used (wrong values, empty, inconsistent lengths).
    case invalidLabels(name: String, problem: String)

    public var description: String {
        switch self {
        case .invalidRatio(let option, let value, let allowed):
            return "\(option) = \(value) is outside the allowed range \(allowed)"
        case .unknownClass(let option, let value, let available):
            let list =
                available.count <= 30
                ? available.map(String.init).joined(separator: ", ")
                : available.prefix(30).map(String.init).joined(separator: ", ") + ", …"
            return "\(option) = \(value) is not a class of the data set (classes: \(list))"
        case .notEnoughSamples(let option, let requested, let available):
            return "\(option): needs \(requested) samples but only \(available) are available"
        case .invalidOption(let option, let value, let problem):
            return "\(option) = \(value): \(problem)"
        case .invalidLabels(let name, let problem):
            return "\(name): \(problem)"
        }
    }
}

// MARK: - Checks shared by all protocols

/// Throws unless `0 ≤ value < 1` (the range of every γ in METHODS.md §4).
func checkRatio(_ value: Double, option: String) throws {
    guard value.isFinite, value >= 0, value < 1 else {
        throw ProtocolError.invalidRatio(option: option, value: value, allowed: "[0, 1)")
    }
}

/// Throws unless `0 < value < 1` (fractions that split a set into two non-empty parts).
func checkOpenFraction(_ value: Double, option: String) throws {
    guard value.isFinite, value > 0, value < 1 else {
        throw ProtocolError.invalidRatio(option: option, value: value, allowed: "(0, 1)")
    }
}

/// The indices of each class, ascending, keyed by class id.
func indicesByClass(_ labels: [Int]) -> [Int: [Int]] {
    var result: [Int: [Int]] = [:]
    for (index, label) in labels.enumerated() { result[label, default: []].append(index) }
    return result
}

/// Throws unless `classes` is non-empty, free of repeats, and every class occurs in `byClass`.
func checkClasses(_ classes: [Int], option: String, in byClass: [Int: [Int]]) throws {
    guard !classes.isEmpty else {
        throw ProtocolError.invalidOption(option: option, value: "[]", problem: "needs at least one class")
    }
    guard Set(classes).count == classes.count else {
        throw ProtocolError.invalidOption(option: option, value: "\(classes)", problem: "lists a class twice")
    }
    for c in classes where byClass[c] == nil {
        throw ProtocolError.unknownClass(option: option, value: c, available: byClass.keys.sorted())
    }
}

/// Throws unless `labels` is non-empty.
func checkNonEmpty(_ labels: [Int], name: String) throws {
    guard !labels.isEmpty else { throw ProtocolError.invalidLabels(name: name, problem: "is empty") }
}

/// `count` elements of `pool` chosen uniformly at random without replacement: the first `count`
/// entries of a random permutation (the `perm[:n]` idiom of the reference code).
func randomSubset(_ pool: [Int], count: Int, option: String, using generator: inout SeededGenerator) throws -> [Int] {
    guard count <= pool.count else {
        throw ProtocolError.notEnoughSamples(option: option, requested: count, available: pool.count)
    }
    if count == 0 { return [] }
    return generator.permutation(pool.count).prefix(count).map { pool[$0] }
}
