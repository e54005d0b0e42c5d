// Implicit-GEMM (direct) convolution for width stride 1 and output planes cut into vectors of 16
// pixels (output width a multiple of 16, or of 8 with Ho·Wo a multiple of 16), AVX-512:
// out[s, o, p] = Σ_k W[o, k] · col[k, p] without an im2col matrix. Each sample is copied once
// into a zero-bordered buffer; then row k = (c, ki, kj) of the im2col columns of 16 consecutive
// output pixels is an unaligned vector load from it at a fixed offset (two 8-wide loads when the
// 16 pixels span two output rows). Forward: panels of two vectors times each 8-row panel of the
// packed weights, an 8×32 register tile (16 zmm accumulators) over the whole K. Weight gradient:
// 4×6 tiles of dW accumulate dY·col products in vector lanes over a group of samples that stays
// in L2, reduced once per group. So nothing is packed per panel: im2col's write + read of C·kh·kw
// values per output pixel (and BLAS's repacking of that matrix) are gone — with few channels
// they cost about as much as the FMAs.
#include "nn_common.h"

#define IG_MR 8
#define IG_NR 32

// The hardware's level, not ak_nn_set_cpu_level's: this kernel has one variant, so lowering the
// level (tests do, to cover the other kernels' variants) does not switch it off mid-run.
int ak_igemm_available(void) {
#if defined(__x86_64__)
    static int available = -1;
    int a = __atomic_load_n(&available, __ATOMIC_RELAXED);
    if (a < 0) {
        a = ak_cpu_level() == 1;
        __atomic_store_n(&available, a, __ATOMIC_RELAXED);
    }
    return a;
#else
    return 0;
#endif
}

void ak_igemm_pack_weights(const float *w, long O, long K, float *packed) {
    const long blocks = (O + IG_MR - 1) / IG_MR;
    for (long b = 0; b < blocks; b++) {
        float *dst = packed + b * K * IG_MR;
        for (long k = 0; k < K; k++) {
            for (int i = 0; i < IG_MR; i++) {
                const long o = b * IG_MR + i;
                dst[k * IG_MR + i] = o < O ? w[o * K + k] : 0.0f;
            }
        }
    }
}

static long ig_round16(long n) { return (n + 15) / 16 * 16; }

// Workspace floats (a multiple of 16, so consecutive workspaces stay 64-byte aligned).
long ak_igemm_conv_workspace(int C, int H, int W, int kh, int kw, int ph, int pw) {
    const long padded = (long)(H + 2 * ph) * (W + 2 * pw);
    return ig_round16(C * padded + 16) + ig_round16((long)C * kh * kw);
}

long ak_igemm_wgrad_workspace(int C, int H, int W, int kh, int kw, int ph, int pw, int Ho, int Wo, long group) {
    const long padded = (long)(H + 2 * ph) * (W + 2 * pw), vectors = (long)Ho * Wo / 16;
    const long K = (long)C * kh * kw, kblocks = (K + 5) / 6;
    // Pointers take two floats each (6 per vector for three tables).
    return ig_round16(6 * group * vectors) + ig_round16(group * C * padded + 16) + ig_round16(kblocks * 6);
}

#if defined(__x86_64__)
#include <immintrin.h>

// Zeroes `count` samples of C padded planes (+16 floats of slack for the last row's vector
// loads); the borders stay zero, ig_pad_sample fills the interiors.
static void ig_padded_clear(float *p, long count, int C, long padded) {
    memset(p, 0, (size_t)(count * C * padded + 16) * sizeof(float));
}

static void ig_pad_sample(const float *xs, int C, int H, int W, int ph, int pw, float *dst) {
    const int Wp = W + 2 * pw;
    const long padded = (long)(H + 2 * ph) * Wp;
    for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++)
            memcpy(dst + c * padded + (long)(h + ph) * Wp + pw, xs + ((long)c * H + h) * W, sizeof(float) * (size_t)W);
}

// Fills off[0 ..< count] with the offset in a padded sample of im2col row k = (c, ki, kj); rows
// past K repeat row K − 1 (tiles may overrun K; their results are dropped).
static void ig_offsets(int *off, long K, int kh, int kw, long padded, int Wp, long count) {
    for (long i = 0; i < count; i++) {
        const long k = i < K ? i : K - 1;
        const long c = k / (kh * kw), r = k % (kh * kw);
        off[i] = (int)(c * padded + (r / kw) * Wp + r % kw);
    }
}

// Output pixel n's tap-(0, 0) input in a padded sample.
static inline long ig_base(long n, int Wo, int sh, int Wp) { return (n / Wo) * sh * Wp + n % Wo; }

// 16 consecutive output pixels' inputs at offset `o`: one load when they lie in one output row,
// else (`split`, output widths that are multiples of 8 only) two 8-wide loads from the halves'
// bases lo and hi.
#define IG_LOAD(p, o, lo, hi, split)                                                                        \
    ((split) ? _mm512_castpd_ps(_mm512_insertf64x4(                                                     \
                   _mm512_castps_pd(_mm512_castps256_ps512(_mm256_loadu_ps((p) + (lo) + (o)))),          \
                   _mm256_castps_pd(_mm256_loadu_ps((p) + (hi) + (o))), 1))                              \
             : _mm512_loadu_ps((p) + (lo) + (o)))

// c[rows × 32] = Σ_k a[k][0..8) ⊗ (pixels of vector 0 ‖ vector 1) at tap offset off[k]; vector v's
// halves start at lo[v] and hi[v]; the second vector only when `two` (otherwise not stored).
__attribute__((target("avx512f,fma"), always_inline)) static inline void ig_kernel(
    const float *a, const float *xs, const int *off, long K, const long *lo, const long *hi, int two, int split,
    float *c, long ldc, int rows) {
    __m512 acc[IG_MR][2];
    for (int i = 0; i < IG_MR; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
    }
    const long lo0 = lo[0], hi0 = hi[0], lo1 = two ? lo[1] : lo[0], hi1 = two ? hi[1] : hi[0];
    for (long k = 0; k < K; k++) {
        const int o = off[k];
        const __m512 b0 = IG_LOAD(xs, o, lo0, hi0, split), b1 = IG_LOAD(xs, o, lo1, hi1, split);
        for (int i = 0; i < IG_MR; i++) {
            const __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += IG_MR;
    }
    for (int i = 0; i < IG_MR; i++) {
        if (i < rows) {
            _mm512_storeu_ps(c + i * ldc, acc[i][0]);
            if (two) _mm512_storeu_ps(c + i * ldc + 16, acc[i][1]);
        }
    }
}

__attribute__((target("avx512f,fma"))) static void igemm_conv_avx512(
    const float *x, const float *wp, float *out, int C, int H, int W, int O, int kh, int kw, int sh, int ph,
    int pw, int Ho, int Wo, float *workspace, long i0, long i1) {
    const long K = (long)C * kh * kw, P = (long)Ho * Wo, vectors = P / 16, panels = (vectors + 1) / 2;
    const long plane = (long)H * W;
    const int Wp = W + 2 * pw, split = Wo % 16 != 0;
    const long padded = (long)(H + 2 * ph) * Wp;
    const int blocks = (O + IG_MR - 1) / IG_MR;
    // Workspace: the padded sample, then the K offsets.
    float *xp = workspace;
    int *off = (int *)(workspace + ig_round16(C * padded + 16));
    ig_padded_clear(xp, 1, C, padded);
    ig_offsets(off, K, kh, kw, padded, Wp, K);
    long loaded = -1;
    for (long item = i0; item < i1; item++) {
        const long s = item / panels, n0 = (item % panels) * 32;
        if (s != loaded) {
            ig_pad_sample(x + s * C * plane, C, H, W, ph, pw, xp);
            loaded = s;
        }
        const int two = n0 + 16 < P;
        const long lo[2] = {ig_base(n0, Wo, sh, Wp), two ? ig_base(n0 + 16, Wo, sh, Wp) : 0};
        const long hi[2] = {ig_base(n0 + 8, Wo, sh, Wp), two ? ig_base(n0 + 24, Wo, sh, Wp) : 0};
        float *os = out + s * O * P + n0;
        for (int ob = 0; ob < blocks; ob++) {
            const int rows = O - ob * IG_MR < IG_MR ? O - ob * IG_MR : IG_MR;
            const float *a = wp + (long)ob * K * IG_MR;
            float *c = os + (long)ob * IG_MR * P;
            if (split) ig_kernel(a, xp, off, K, lo, hi, two, 1, c, P, rows);
            else ig_kernel(a, xp, off, K, lo, hi, two, 0, c, P, rows);
        }
    }
}

// Weight gradient tile: dst[i·K + j] += Σ over vectors of dY[o0 + i, vector] · col[k0 + j, vector]
// for i < 4, j < nk (orow = o0·P), the vectors' products summed in lanes and reduced once.
#define WG_MO 4
#define WG_NK 6
__attribute__((target("avx512f,fma"), always_inline)) static inline void wg_kernel(
    const float *const *dy, const float *const *xlo, const float *const *xhi, const int *off, long vectors,
    long orow, long P, int split, float *dst, long K, int nk) {
    __m512 acc[WG_MO][WG_NK];
    for (int i = 0; i < WG_MO; i++)
        for (int j = 0; j < WG_NK; j++) acc[i][j] = _mm512_setzero_ps();
    for (long q = 0; q < vectors; q++) {
        const float *d = dy[q] + orow;
        __m512 dv[WG_MO];
        for (int i = 0; i < WG_MO; i++) dv[i] = _mm512_load_ps(d + i * P);
        const float *b = xlo[q];
        const long h = xhi[q] - b;
        for (int j = 0; j < WG_NK; j++) {
            const __m512 cv = IG_LOAD(b, off[j], 0, h, split);
            for (int i = 0; i < WG_MO; i++) acc[i][j] = _mm512_fmadd_ps(dv[i], cv, acc[i][j]);
        }
    }
    for (int i = 0; i < WG_MO; i++)
        for (int j = 0; j < WG_NK; j++)
            if (j < nk) dst[i * K + j] += _mm512_reduce_add_ps(acc[i][j]);
}

__attribute__((target("avx512f,fma"))) static void igemm_wgrad_avx512(
    const float *x, const float *gy, float *dw, int C, int H, int W, int O, int kh, int kw, int sh, int ph, int pw,
    int Ho, int Wo, long group, float *workspace, long s0, long s1) {
    const long K = (long)C * kh * kw, P = (long)Ho * Wo, vectors = P / 16, plane = (long)H * W;
    const int Wp = W + 2 * pw, split = Wo % 16 != 0;
    const long padded = (long)(H + 2 * ph) * Wp;
    const long kblocks = (K + WG_NK - 1) / WG_NK;
    if (group > s1 - s0) group = s1 - s0;
    // Workspace: three pointer tables of group·vectors entries, the padded samples, the offsets.
    const long n_ptr = group * vectors;
    const float **dy = (const float **)(void *)workspace;
    const float **xlo = dy + n_ptr, **xhi = xlo + n_ptr;
    float *xp = workspace + ig_round16(6 * n_ptr);
    int *off = (int *)(xp + ig_round16(group * C * padded + 16));
    ig_padded_clear(xp, group, C, padded);
    ig_offsets(off, K, kh, kw, padded, Wp, kblocks * WG_NK);
    memset(dw, 0, (size_t)(O * K) * sizeof(float));
    for (long g0 = s0; g0 < s1; g0 += group) {
        const long gn = s1 - g0 < group ? s1 - g0 : group;
        long n = 0;
        for (long t = 0; t < gn; t++) {
            float *xs = xp + t * C * padded;
            ig_pad_sample(x + (g0 + t) * C * plane, C, H, W, ph, pw, xs);
            for (long q = 0; q < vectors; q++, n++) {
                dy[n] = gy + (g0 + t) * O * P + 16 * q;
                xlo[n] = xs + ig_base(16 * q, Wo, sh, Wp);
                xhi[n] = xs + ig_base(16 * q + 8, Wo, sh, Wp);
            }
        }
        for (int o0 = 0; o0 < O; o0 += WG_MO) {
            for (long k0 = 0; k0 < K; k0 += WG_NK) {
                const int nk = K - k0 < WG_NK ? (int)(K - k0) : WG_NK;
                float *d = dw + (long)o0 * K + k0;
                if (split) wg_kernel(dy, xlo, xhi, off + k0, n, (long)o0 * P, P, 1, d, K, nk);
                else wg_kernel(dy, xlo, xhi, off + k0, n, (long)o0 * P, P, 0, d, K, nk);
            }
        }
    }
}
#endif

void ak_igemm_conv(const float *x, const float *packed, float *out, int C, int H, int W, int O, int kh, int kw,
                   int sh, int ph, int pw, int Ho, int Wo, float *workspace, long i0, long i1) {
#if defined(__x86_64__)
    igemm_conv_avx512(x, packed, out, C, H, W, O, kh, kw, sh, ph, pw, Ho, Wo, workspace, i0, i1);
#else
    (void)x; (void)packed; (void)out; (void)C; (void)H; (void)W; (void)O; (void)kh; (void)kw;
    (void)sh; (void)ph; (void)pw; (void)Ho; (void)Wo; (void)workspace; (void)i0; (void)i1;
#endif
}

void ak_igemm_conv_wgrad(const float *x, const float *gy, float *dw, int C, int H, int W, int O, int kh, int kw,
                         int sh, int ph, int pw, int Ho, int Wo, long group, float *workspace, long s0, long s1) {
#if defined(__x86_64__)
    igemm_wgrad_avx512(x, gy, dw, C, H, W, O, kh, kw, sh, ph, pw, Ho, Wo, group, workspace, s0, s1);
#else
    (void)x; (void)gy; (void)dw; (void)C; (void)H; (void)W; (void)O; (void)kh; (void)kw;
    (void)sh; (void)ph; (void)pw; (void)Ho; (void)Wo; (void)group; (void)workspace; (void)s0; (void)s1;
#endif
}
