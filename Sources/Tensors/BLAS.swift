import CKernels
import Dispatch
import Foundation

/// Single-precision GEMM. OpenBLAS (Debian's `libopenblas0`, installed by `scripts/setup.sh`) is
/// opened with `dlopen` at first use, so the package builds and runs without it (falling back to
/// our C kernel, correct but several times slower). Before opening it we choose its kernels with
/// `OPENBLAS_CORETYPE` unless the user set it (`BLAS.coreType`): Debian's 0.3.21 detects CPUs
/// newer than itself as a baseline SSE3 "Prescott" and leaves half or more of the machine unused.
public enum BLAS {
    typealias SgemmFunction = @convention(c) (
        Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
        UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32
    ) -> Void
    typealias SetThreadsFunction = @convention(c) (Int32) -> Void

    struct Library: @unchecked Sendable {
        let sgemm: SgemmFunction?
        let setThreads: SetThreadsFunction?
        let name: String
    }

    static let library: Library = {
        if ProcessInfo.processInfo.environment["ANOMALYKIT_NO_BLAS"] != nil {
            return Library(sgemm: nil, setThreads: nil, name: "built-in C kernel (ANOMALYKIT_NO_BLAS set)")
        }
        let level = ak_cpu_level()
        if let coreType = coreType(avx512: level == 1, avx2: level != 0, intel: ak_cpu_is_intel() != 0) {
            setenv("OPENBLAS_CORETYPE", coreType, 0)
        }
        for name in ["libopenblas.so.0", "libopenblas.so", "libopenblasp-r0.3.21.so"] {
            guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
            guard let symbol = dlsym(handle, "cblas_sgemm") else { continue }
            let setThreads = dlsym(handle, "openblas_set_num_threads").map {
                unsafeBitCast($0, to: SetThreadsFunction.self)
            }
            // One OpenBLAS thread: we split large products over the cores ourselves (below), so
            // no OpenBLAS worker spins (sched_yield) while our own kernels run.
            setThreads?(1)
            let kernels = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { ", \($0) kernels" } ?? ""
            return Library(
                sgemm: unsafeBitCast(symbol, to: SgemmFunction.self), setThreads: setThreads, name: "OpenBLAS (\(name)\(kernels))")
        }
        return Library(sgemm: nil, setThreads: nil, name: "built-in C kernel (OpenBLAS not found)")
    }()

    /// The OpenBLAS kernels for this CPU, measured on the project's machines (single-precision
    /// GEMM on the ResNet convolution shapes of `anomaly-bench gemm`; README, Performance):
    /// - Intel with AVX-512 (a 5th-generation Xeon, two 512-bit FMA units a core): SkylakeX,
    ///   170–270 GFLOP/s on two cores against 100–145 for Haswell's (Cooperlake's and
    ///   SapphireRapids' within noise of SkylakeX's);
    /// - AMD Zen 4 (AVX-512 double-pumped) and any other AVX2 CPU: Haswell, 20–40 % faster than
    ///   OpenBLAS's own choice on Zen 4's skinny convolution shapes;
    /// - without AVX2: nil, OpenBLAS's own detection.
    static func coreType(avx512: Bool, avx2: Bool, intel: Bool) -> String? {
        if avx512 && intel { return "SkylakeX" }
        return avx2 ? "Haswell" : nil
    }

    /// Which GEMM implementation is in use.
    public static var implementation: String { library.name }

    /// C = alpha·op(A)·op(B) + beta·C, row-major. Products of more than about a million
    /// multiply-adds are split into one column block (or row block) per core, each a
    /// single-threaded GEMM.
    public static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let parts = CPUThreads.count
        guard parts > 1, m * n * k >= 1 << 20, max(m, n) >= 32 * parts else {
            sgemmSingle(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let splitColumns = n >= m
        let extent = splitColumns ? n : m
        let align = splitColumns ? 16 : 8
        nonisolated(unsafe) let (pa, pb, pc) = (a, b, c)
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let start = (extent * part / parts) / align * align
            let end = part == parts - 1 ? extent : (extent * (part + 1) / parts) / align * align
            guard end > start else { return }
            if splitColumns {
                sgemmSingle(
                    transposeA: transposeA, transposeB: transposeB, m: m, n: end - start, k: k, alpha: alpha,
                    a: pa, lda: lda, b: transposeB ? pb + start * ldb : pb + start, ldb: ldb,
                    beta: beta, c: pc + start, ldc: ldc)
            } else {
                sgemmSingle(
                    transposeA: transposeA, transposeB: transposeB, m: end - start, n: n, k: k, alpha: alpha,
                    a: transposeA ? pa + start : pa + start * lda, lda: lda, b: pb, ldb: ldb,
                    beta: beta, c: pc + start * ldc, ldc: ldc)
            }
        }
    }

    static func sgemmSingle(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        if let f = library.sgemm {
            f(101, transposeA ? 112 : 111, transposeB ? 112 : 111, Int32(m), Int32(n), Int32(k), alpha,
              a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        } else {
            ak_sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
    }
}
