import Datasets
import Foundation
import Tensors

// Shared machinery of the classical detectors: thread-count-independent parallel
// output, distance kernels on raw pointers, log-sum-exp, and standardisation. Everything numeric that
// more than one classical detector needs lives here once.

// MARK: - Parallel output

/// An array of `count` elements filled by `body(range, output)` over chunks of `0..<count` on all
/// cores (`CPUThreads.parallelRanges`). Each chunk writes only its own range, so the result does
/// not depend on the number of threads.
func parallelFill<T>(
    count: Int, repeating initial: T, costPerItem: Int, _ body: (Range<Int>, UnsafeMutablePointer<T>) -> Void
) -> [T] {
    var result = [T](repeating: initial, count: count)
    result.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return }
        CPUThreads.parallelRanges(count, costPerItem: costPerItem) { start, end in body(start..<end, base) }
    }
    return result
}

/// Counts finished work items from concurrent workers and reports the count to a progress reporter.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var completed = 0
    private let reporter: any ProgressReporter

    init(_ reporter: any ProgressReporter) { self.reporter = reporter }

    func advance(metrics: [String: Double] = [:]) {
        lock.lock()
        defer { lock.unlock() }
        completed += 1
        reporter.update(completed: completed, metrics: metrics)
    }
}

// MARK: - Distance kernels
//
// Multiply and add stay separate (`+= a * b`, not `addProduct`): the package builds for baseline
// x86-64 without FMA, where a fused multiply-add becomes a library call per lane.

/// `Σᵢ term(aᵢ, bᵢ)` over `count` values, eight lanes at a time; the tail is padded with zeros,
/// so `term(0, 0)` must be 0.
@inline(__always)
func sumOfPairs<Scalar: SIMDScalar & BinaryFloatingPoint>(
    _ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>, _ count: Int,
    _ term: (SIMD8<Scalar>, SIMD8<Scalar>) -> SIMD8<Scalar>
) -> Scalar {
    var lanes = SIMD8<Scalar>()
    var index = 0
    let rawA = UnsafeRawPointer(a)
    let rawB = UnsafeRawPointer(b)
    let stride = MemoryLayout<Scalar>.stride
    while index + 8 <= count {
        lanes += term(
            rawA.loadUnaligned(fromByteOffset: index * stride, as: SIMD8<Scalar>.self),
            rawB.loadUnaligned(fromByteOffset: index * stride, as: SIMD8<Scalar>.self))
        index += 8
    }
    if index < count {
        var tailA = SIMD8<Scalar>()
        var tailB = SIMD8<Scalar>()
        for lane in 0..<(count - index) {
            tailA[lane] = a[index + lane]
            tailB[lane] = b[index + lane]
        }
        lanes += term(tailA, tailB)
    }
    return lanes.sum()
}

/// `‖a − b‖²` over `count` values (Float or Double).
@inline(__always)
func squaredDistance<Scalar: SIMDScalar & BinaryFloatingPoint>(
    _ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>, _ count: Int
) -> Scalar {
    sumOfPairs(a, b, count) { x, y in
        let difference = x - y
        return difference * difference
    }
}

/// `a · b` over `count` values (Float or Double).
@inline(__always)
func dotProduct<Scalar: SIMDScalar & BinaryFloatingPoint>(
    _ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>, _ count: Int
) -> Scalar {
    sumOfPairs(a, b, count) { x, y in x * y }
}

// MARK: - Small numerics

/// `log Σ exp(values[i])` with the max-shift (METHODS §8); `-inf` for no values or all `-inf`.
@inline(__always)
func logSumExp(_ values: UnsafePointer<Double>, _ count: Int) -> Double {
    var maximum = -Double.infinity
    for index in 0..<count where values[index] > maximum { maximum = values[index] }
    guard maximum > -Double.infinity else { return -Double.infinity }
    if maximum == .infinity { return .infinity }
    var sum = 0.0
    for index in 0..<count { sum += exp(values[index] - maximum) }
    return maximum + log(sum)
}

/// Euler–Mascheroni constant, for the harmonic-number approximation `H(i) ≈ ln i + γ`.
let eulerGamma = 0.5772156649015329

/// Per-feature mean and scale of a row-major Double matrix, as scikit-learn's `StandardScaler`:
/// population standard deviation, and a scale of 1 for (near-)constant features.
public struct FeatureScaler: Codable, Sendable, Equatable {
    public var mean: [Double]
    public var scale: [Double]

    public init(mean: [Double], scale: [Double]) {
        self.mean = mean
        self.scale = scale
    }

    init(fitting values: [Double], rows: Int, columns: Int) {
        var mean = [Double](repeating: 0, count: columns)
        var variance = [Double](repeating: 0, count: columns)
        values.withUnsafeBufferPointer { x in
            for row in 0..<rows {
                for column in 0..<columns { mean[column] += x[row * columns + column] }
            }
            for column in 0..<columns { mean[column] /= Double(rows) }
            for row in 0..<rows {
                for column in 0..<columns {
                    let centred = x[row * columns + column] - mean[column]
                    variance[column] += centred * centred
                }
            }
        }
        self.mean = mean
        // StandardScaler's test for a constant feature (variance within rounding of zero) → scale 1.
        let n = Double(rows)
        let eps = Double.ulpOfOne
        self.scale = (0..<columns).map { column in
            let populationVariance = variance[column] / n
            let roundingBound = n * eps * populationVariance + (n * mean[column] * eps) * (n * mean[column] * eps)
            return populationVariance <= roundingBound ? 1 : populationVariance.squareRoot()
        }
    }

    /// Standardises `values` (row-major, `mean.count` columns) in place.
    public func apply(_ values: inout [Double]) {
        let columns = mean.count
        values.withUnsafeMutableBufferPointer { x in
            for index in 0..<x.count {
                let column = index % columns
                x[index] = (x[index] - mean[column]) / scale[column]
            }
        }
    }
}

extension Samples {
    /// The values as Double, row-major `[count, featureCount]`.
    var doubleValues: [Double] { values.map(Double.init) }
}
