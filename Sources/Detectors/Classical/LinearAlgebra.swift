import Foundation

// Small dense linear algebra in Float64 (METHODS §8: no LAPACK on the target machines):
// the symmetric eigendecomposition (Householder tridiagonalisation, then implicit QL with
// Wilkinson-style shifts, as EISPACK's tred2/tql2) and the Cholesky factorisation.

/// Eigenvalues and eigenvectors of a symmetric matrix (PCA here; also what METHODS §8 asks for
/// an inverse square root of a covariance, CANCE's whitening).
public struct SymmetricEigen: Sendable, Equatable {
    /// Eigenvalues, descending.
    public var values: [Double]
    /// Eigenvectors as rows, row-major `[n, n]`: row `k` belongs to `values[k]`, unit length.
    public var vectors: [Double]

    /// Decomposes the symmetric row-major `n × n` matrix `matrix` (only symmetry is assumed; the
    /// lower triangle is read).
    public init(symmetric matrix: [Double], size n: Int) {
        precondition(matrix.count == n * n, "SymmetricEigen: \(matrix.count) values for a \(n)×\(n) matrix")
        guard n > 0 else {
            values = []
            vectors = []
            return
        }
        var v = matrix
        var d = [Double](repeating: 0, count: n)
        var e = [Double](repeating: 0, count: n)
        v.withUnsafeMutableBufferPointer { v in
            d.withUnsafeMutableBufferPointer { d in
                e.withUnsafeMutableBufferPointer { e in
                    Self.tridiagonalize(v.baseAddress!, d.baseAddress!, e.baseAddress!, n)
                }
            }
        }
        // Rows of `w` are the columns of `v`, so the QL rotations touch contiguous memory.
        var w = [Double](repeating: 0, count: n * n)
        for row in 0..<n {
            for column in 0..<n { w[column * n + row] = v[row * n + column] }
        }
        w.withUnsafeMutableBufferPointer { w in
            d.withUnsafeMutableBufferPointer { d in
                e.withUnsafeMutableBufferPointer { e in
                    Self.diagonalize(w.baseAddress!, d.baseAddress!, e.baseAddress!, n)
                }
            }
        }
        let order = (0..<n).sorted { d[$0] > d[$1] || (d[$0] == d[$1] && $0 < $1) }
        values = order.map { d[$0] }
        var sorted = [Double](repeating: 0, count: n * n)
        for (position, source) in order.enumerated() {
            for column in 0..<n { sorted[position * n + column] = w[source * n + column] }
        }
        vectors = sorted
    }

    /// Householder reduction of `v` to tridiagonal form: on return `d` is the diagonal, `e[1...]` the
    /// sub-diagonal, and `v` (row-major) the accumulated orthogonal transformation.
    private static func tridiagonalize(
        _ v: UnsafeMutablePointer<Double>, _ d: UnsafeMutablePointer<Double>, _ e: UnsafeMutablePointer<Double>,
        _ n: Int
    ) {
        @inline(__always) func at(_ row: Int, _ column: Int) -> UnsafeMutablePointer<Double> { v + row * n + column }
        for j in 0..<n { d[j] = at(n - 1, j).pointee }
        for i in stride(from: n - 1, to: 0, by: -1) {
            var scale = 0.0
            var h = 0.0
            for k in 0..<i { scale += abs(d[k]) }
            if scale == 0 {
                e[i] = d[i - 1]
                for j in 0..<i {
                    d[j] = at(i - 1, j).pointee
                    at(i, j).pointee = 0
                    at(j, i).pointee = 0
                }
            } else {
                // The Householder vector.
                for k in 0..<i {
                    d[k] /= scale
                    h += d[k] * d[k]
                }
                var f = d[i - 1]
                var g = h.squareRoot()
                if f > 0 { g = -g }
                e[i] = scale * g
                h -= f * g
                d[i - 1] = f - g
                for j in 0..<i { e[j] = 0 }
                // Similarity transformation of the remaining columns.
                for j in 0..<i {
                    f = d[j]
                    at(j, i).pointee = f
                    g = e[j] + at(j, j).pointee * f
                    if j + 1 <= i - 1 {
                        for k in (j + 1)...(i - 1) {
                            g += at(k, j).pointee * d[k]
                            e[k] += at(k, j).pointee * f
                        }
                    }
                    e[j] = g
                }
                f = 0
                for j in 0..<i {
                    e[j] /= h
                    f += e[j] * d[j]
                }
                let hh = f / (h + h)
                for j in 0..<i { e[j] -= hh * d[j] }
                for j in 0..<i {
                    f = d[j]
                    g = e[j]
                    for k in j...(i - 1) { at(k, j).pointee -= f * e[k] + g * d[k] }
                    d[j] = at(i - 1, j).pointee
                    at(i, j).pointee = 0
                }
            }
            d[i] = h
        }
        // Accumulate the transformations.
        for i in 0..<(n - 1) {
            at(n - 1, i).pointee = at(i, i).pointee
            at(i, i).pointee = 1
            let h = d[i + 1]
            if h != 0 {
                for k in 0...i { d[k] = at(k, i + 1).pointee / h }
                for j in 0...i {
                    var g = 0.0
                    for k in 0...i { g += at(k, i + 1).pointee * at(k, j).pointee }
                    for k in 0...i { at(k, j).pointee -= g * d[k] }
                }
            }
            for k in 0...i { at(k, i + 1).pointee = 0 }
        }
        for j in 0..<n {
            d[j] = at(n - 1, j).pointee
            at(n - 1, j).pointee = 0
        }
        at(n - 1, n - 1).pointee = 1
        e[0] = 0
    }

    /// Implicit QL iterations on the tridiagonal matrix (`d`, `e`); `w` holds the transformation
    /// as rows and receives the eigenvectors as rows.
    private static func diagonalize(
        _ w: UnsafeMutablePointer<Double>, _ d: UnsafeMutablePointer<Double>, _ e: UnsafeMutablePointer<Double>,
        _ n: Int
    ) {
        for i in 1..<max(n, 1) { e[i - 1] = e[i] }
        e[n - 1] = 0
        var f = 0.0
        var largest = 0.0
        let eps = Double.ulpOfOne
        for l in 0..<n {
            largest = max(largest, abs(d[l]) + abs(e[l]))
            var m = l
            while m < n - 1 && abs(e[m]) > eps * largest { m += 1 }
            if m > l {
                var iterations = 0
                repeat {
                    iterations += 1
                    // Implicit shift.
                    var g = d[l]
                    var p = (d[l + 1] - g) / (2 * e[l])
                    var r = (p * p + 1).squareRoot()
                    if p < 0 { r = -r }
                    d[l] = e[l] / (p + r)
                    d[l + 1] = e[l] * (p + r)
                    let dl1 = d[l + 1]
                    var h = g - d[l]
                    if l + 2 < n { for i in (l + 2)..<n { d[i] -= h } }
                    f += h
                    // Implicit QL transformation.
                    p = d[m]
                    var c = 1.0
                    var c2 = 1.0
                    var c3 = 1.0
                    let el1 = e[l + 1]
                    var s = 0.0
                    var s2 = 0.0
                    for i in stride(from: m - 1, through: l, by: -1) {
                        c3 = c2
                        c2 = c
                        s2 = s
                        g = c * e[i]
                        h = c * p
                        r = hypot(p, e[i])
                        e[i + 1] = s * r
                        s = e[i] / r
                        c = p / r
                        p = c * d[i] - s * g
                        d[i + 1] = h + s * (c * g + s * d[i])
                        let rowI = w + i * n
                        let rowNext = w + (i + 1) * n
                        for k in 0..<n {
                            let next = rowNext[k]
                            rowNext[k] = s * rowI[k] + c * next
                            rowI[k] = c * rowI[k] - s * next
                        }
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1
                    e[l] = s * p
                    d[l] = c * p
                } while abs(e[l]) > eps * largest && iterations < 60
            }
            d[l] += f
            e[l] = 0
        }
    }
}

/// Lower-triangular Cholesky factor `L` (row-major, `L Lᵀ = A`) of a symmetric positive-definite
/// `n × n` matrix (the lower triangle is read); `nil` when `A` is not positive definite.
public func choleskyFactor(_ matrix: [Double], size n: Int) -> [Double]? {
    var l = [Double](repeating: 0, count: n * n)
    let ok = l.withUnsafeMutableBufferPointer { l -> Bool in
        matrix.withUnsafeBufferPointer { a -> Bool in
            for row in 0..<n {
                for column in 0...row {
                    var sum = a[row * n + column]
                    for k in 0..<column { sum -= l[row * n + k] * l[column * n + k] }
                    if row == column {
                        guard sum > 0, sum.isFinite else { return false }
                        l[row * n + row] = sum.squareRoot()
                    } else {
                        l[row * n + column] = sum / l[column * n + column]
                    }
                }
            }
            return true
        }
    }
    return ok ? l : nil
}
