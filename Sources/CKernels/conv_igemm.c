// Implicit-GEMM (direct) convolution for output widths that are multiples of 16, width stride 1
// (AVX-512): out[s, o, p] = Σ_k W[o, k] · col[k, p] without an im2col matrix. Each sample is
// copied once into a zero-bordered buffer; then row k = (c, ki, kj) of the im2col columns of 16
// consecutive output pixels (one output row piece) is a plain unaligned vector load from it at a
// fixed offset. Panels of two such pieces are multiplied by each 8-row panel of the packed
// weights with an 8×32 register tile (16 zmm accumulators) over the whole K, so nothing is
// packed per panel: im2col's write + read of C·kh·kw values per output pixel (and BLAS's
// repacking of that matrix) are gone — with few channels they cost about as much as the FMAs.
#include "nn_common.h"

#define IG_MR 8
#define IG_NR 32

int ak_igemm_available(void) {
#if defined(__x86_64__)
    return nn_cpu_level() == 1;
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

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdlib.h>

// c[rows × 32] = Σ_k a[k][0..8) ⊗ (xs[off[k] + p0 .. +16) ‖ xs[off[k] + p1 .. +16)); the second
// half only when `two` (otherwise zero and not stored).
__attribute__((target("avx512f,fma"))) static inline void ig_kernel(
    const float *a, const float *xs, const int *off, long K, long p0, long p1, int two, float *c, long ldc,
    int rows) {
    __m512 acc[IG_MR][2];
    for (int i = 0; i < IG_MR; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
    }
    const float *x0 = xs + p0, *x1 = xs + (two ? p1 : p0);
    for (long k = 0; k < K; k++) {
        const __m512 b0 = _mm512_loadu_ps(x0 + off[k]), b1 = _mm512_loadu_ps(x1 + off[k]);
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
    int pw, int Ho, int Wo, long i0, long i1) {
    const long K = (long)C * kh * kw, P = (long)Ho * Wo, pieces = P / 16, panels = (pieces + 1) / 2;
    const long plane = (long)H * W;
    const int Hp = H + 2 * ph, Wp = W + 2 * pw;
    const long padded = (long)Hp * Wp;
    const int blocks = (O + IG_MR - 1) / IG_MR;
    // The sample with zero borders (+16 floats of slack for the last row's vector loads), and
    // the offset of each im2col row k = (c, ki, kj) in it.
    float *xp = aligned_alloc(64, (size_t)((C * padded + 16 + 15) / 16 * 16) * sizeof(float));
    int *off = malloc((size_t)K * sizeof(int));
    if (!xp || !off) abort();
    memset(xp, 0, (size_t)(C * padded + 16) * sizeof(float));
    for (long k = 0; k < K; k++) {
        const long c = k / (kh * kw), r = k % (kh * kw);
        off[k] = (int)(c * padded + (r / kw) * Wp + r % kw);
    }
    long loaded = -1;
    for (long item = i0; item < i1; item++) {
        const long s = item / panels, j = item % panels;
        if (s != loaded) {
            for (int c = 0; c < C; c++)
                for (int h = 0; h < H; h++)
                    memcpy(xp + c * padded + (long)(h + ph) * Wp + pw, x + (s * C + c) * plane + (long)h * W,
                           sizeof(float) * (size_t)W);
            loaded = s;
        }
        const long q0 = 2 * j, q1 = q0 + 1;
        const int two = q1 < pieces;
        // Piece q: output row (16q)/Wo, columns from (16q)%Wo; its tap (0, 0) input in the padded sample.
        const long p0 = ((16 * q0) / Wo) * sh * Wp + (16 * q0) % Wo;
        const long p1 = two ? ((16 * q1) / Wo) * sh * Wp + (16 * q1) % Wo : p0;
        float *os = out + s * O * P + 16 * q0;
        for (int ob = 0; ob < blocks; ob++) {
            const int rows = O - ob * IG_MR < IG_MR ? O - ob * IG_MR : IG_MR;
            ig_kernel(wp + (long)ob * K * IG_MR, xp, off, K, p0, p1, two, os + (long)ob * IG_MR * P, P, rows);
        }
    }
    free(off);
    free(xp);
}
#endif

void ak_igemm_conv(const float *x, const float *packed, float *out, int C, int H, int W, int O, int kh, int kw,
                   int sh, int ph, int pw, int Ho, int Wo, long i0, long i1) {
#if defined(__x86_64__)
    igemm_conv_avx512(x, packed, out, C, H, W, O, kh, kw, sh, ph, pw, Ho, Wo, i0, i1);
#else
    (void)x; (void)packed; (void)out; (void)C; (void)H; (void)W; (void)O; (void)kh; (void)kw;
    (void)sh; (void)ph; (void)pw; (void)Ho; (void)Wo; (void)i0; (void)i1;
#endif
}
