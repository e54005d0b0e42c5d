// Convolution helpers: im2col / col2im over a chunk of samples, per-channel bias and sums.
#include "nn_common.h"

// -1: not yet detected. Otherwise ak_cpu_level's encoding (1 AVX-512, 2 AVX2+FMA, 0 baseline).
static int nn_hardware_level = -1;
// This thread's lowered level (ak_nn_set_cpu_level), -1 for none. Per thread, so that a test
// comparing kernel variants never changes the numerics of work running concurrently on other
// threads; the Swift side hands it to the worker threads of a split operation
// (CPUThreads.inheritingKernelLevel).
static _Thread_local int nn_thread_level = -1;

static int nn_hardware(void) {
    int l = __atomic_load_n(&nn_hardware_level, __ATOMIC_RELAXED);
    if (l < 0) {
        l = ak_cpu_level();
        __atomic_store_n(&nn_hardware_level, l, __ATOMIC_RELAXED);
    }
    return l;
}

int ak_nn_cpu_level(void) {
    return nn_thread_level >= 0 ? nn_thread_level : nn_hardware();
}

// Rank of an encoding: baseline < AVX2 < AVX-512.
static int level_rank(int level) { return level == 1 ? 2 : level == 2 ? 1 : 0; }

int ak_nn_set_cpu_level(int level) {
    const int hardware = nn_hardware();
    if (level < 0) {
        nn_thread_level = -1;
        return hardware;
    }
    if (level > 2 || level_rank(level) > level_rank(hardware)) level = hardware;
    nn_thread_level = level;
    return level;
}

int ak_nn_thread_cpu_level(void) { return nn_thread_level; }

// Output columns ow whose input column ow*sw - pw + kj lies inside [0, W): [*lo, *hi).
NN_INLINE void valid_range(int W, int Wo, int sw, int pw, int kj, int *lo, int *hi) {
    int off = pw - kj;
    int l = off > 0 ? (off + sw - 1) / sw : 0;
    int lim = W + pw - kj;
    int h = lim <= 0 ? 0 : (lim + sw - 1) / sw;
    if (h > Wo) h = Wo;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

NN_INLINE void im2col_impl(const float *x, int C, int H, int W, int kh, int kw, int sh, int sw,
                           int ph, int pw, int Ho, int Wo, float *col, long ldcol, long i0, long i1) {
    const long plane = (long)H * W, P = (long)Ho * Wo;
    for (long item = i0; item < i1; item++) {
        const long s = item / C;
        const int c = (int)(item % C);
        const float *xc = x + (s * C + c) * plane;
        float *cs = col + s * P;
        for (int ki = 0; ki < kh; ki++) {
            for (int kj = 0; kj < kw; kj++) {
                float *restrict row = cs + ((long)(c * kh + ki) * kw + kj) * ldcol;
                int lo, hi;
                valid_range(W, Wo, sw, pw, kj, &lo, &hi);
                for (int oh = 0; oh < Ho; oh++) {
                    float *restrict dst = row + (long)oh * Wo;
                    const int ih = oh * sh - ph + ki;
                    if (ih < 0 || ih >= H || lo >= hi) {
                        memset(dst, 0, sizeof(float) * (size_t)Wo);
                        continue;
                    }
                    for (int ow = 0; ow < lo; ow++) dst[ow] = 0;
                    const float *restrict src = xc + (long)ih * W + (long)lo * sw - pw + kj;
                    const int n = hi - lo;
                    if (sw == 1) {
                        memcpy(dst + lo, src, sizeof(float) * (size_t)n);
                    } else if (sw == 2) {
                        for (int t = 0; t < n; t++) dst[lo + t] = src[2 * t];
                    } else {
                        for (int t = 0; t < n; t++) dst[lo + t] = src[(long)t * sw];
                    }
                    for (int ow = hi; ow < Wo; ow++) dst[ow] = 0;
                }
            }
        }
    }
}
NN_VARIANTS(im2col,
            (const float *x, int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw,
             int Ho, int Wo, float *col, long ldcol, long i0, long i1),
            (x, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo, col, ldcol, i0, i1))

#if defined(__x86_64__)
#include <immintrin.h>

// Stride-1 (along the width) im2col with masked vector loads: the lanes of an output row that
// fall into the padding are masked off (masked-off lanes are never read), so each row is a few
// loads and stores with no edge loops. The masks depend only on kj, not on the row.
#define MAX_BLOCKS 64
__attribute__((target("avx512f"))) static void im2col_s1_avx512(
    const float *x, int C, int H, int W, int kh, int kw, int sh, int ph, int pw, int Ho, int Wo, float *col,
    long ldcol, long i0, long i1) {
    const long plane = (long)H * W, P = (long)Ho * Wo;
    const int blocks = (Wo + 15) / 16;
    __mmask16 load_mask[MAX_BLOCKS], store_mask[MAX_BLOCKS];
    for (long item = i0; item < i1; item++) {
        const long s = item / C;
        const int c = (int)(item % C);
        const float *xc = x + (s * C + c) * plane;
        float *cs = col + s * P;
        for (int kj = 0; kj < kw; kj++) {
            const int shift = kj - pw;  // input column = output column + shift
            for (int b = 0; b < blocks; b++) {
                const int ow0 = b * 16, n = Wo - ow0 < 16 ? Wo - ow0 : 16;
                int lo = -shift - ow0, hi = W - shift - ow0;
                if (lo < 0) lo = 0;
                if (hi > n) hi = n;
                load_mask[b] = hi > lo ? (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u)) : 0;
                store_mask[b] = (__mmask16)((1u << n) - 1u);
            }
            for (int ki = 0; ki < kh; ki++) {
                float *row = cs + ((long)(c * kh + ki) * kw + kj) * ldcol;
                for (int oh = 0; oh < Ho; oh++) {
                    float *dst = row + (long)oh * Wo;
                    const int ih = oh * sh - ph + ki;
                    if (ih < 0 || ih >= H) {
                        for (int b = 0; b < blocks; b++)
                            _mm512_mask_storeu_ps(dst + b * 16, store_mask[b], _mm512_setzero_ps());
                        continue;
                    }
                    // Lanes outside [0, W) are masked, so the base may point before the row.
                    const float *src = xc + (long)ih * W + shift;
                    for (int b = 0; b < blocks; b++) {
                        __m512 v = _mm512_maskz_loadu_ps(load_mask[b], src + b * 16);
                        _mm512_mask_storeu_ps(dst + b * 16, store_mask[b], v);
                    }
                }
            }
        }
    }
}

// Stride-1 col2im that accumulates each input row in registers: for input row ih it adds the
// kh·kw shifted column rows that read it (masked loads only), then stores the row once, so no
// row is read back right after a masked store.
__attribute__((target("avx512f"))) static void col2im_s1_avx512(
    const float *col, long ldcol, int C, int H, int W, int kh, int kw, int sh, int ph, int pw, int Ho, int Wo,
    float *x, long i0, long i1) {
    const long plane = (long)H * W, P = (long)Ho * Wo;
    const int blocks = (W + 15) / 16;
    __mmask16 mask[16][MAX_BLOCKS];  // [kj][input block]: lanes whose output column is valid
    const int kwm = kw < 16 ? kw : 16;
    for (int kj = 0; kj < kwm; kj++) {
        const int shift = kj - pw;  // input column = output column + shift
        for (int b = 0; b < blocks; b++) {
            const int iw0 = b * 16, n = W - iw0 < 16 ? W - iw0 : 16;
            int lo = shift - iw0, hi = Wo + shift - iw0;  // lanes with 0 <= iw - shift < Wo
            if (lo < 0) lo = 0;
            if (hi > n) hi = n;
            mask[kj][b] = hi > lo ? (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u)) : 0;
        }
    }
    const __mmask16 tail = (__mmask16)((1u << (W - (blocks - 1) * 16)) - 1u);
    for (long item = i0; item < i1; item++) {
        const long s = item / C;
        const int c = (int)(item % C);
        float *xc = x + (s * C + c) * plane;
        const float *cs = col + s * P + (long)c * kh * kw * ldcol;
        for (int ih = 0; ih < H; ih++) {
            __m512 acc[MAX_BLOCKS];
            for (int b = 0; b < blocks; b++) acc[b] = _mm512_setzero_ps();
            for (int ki = 0; ki < kh; ki++) {
                const int t = ih + ph - ki;  // = oh·sh
                if (t < 0 || t % sh != 0) continue;
                const int oh = t / sh;
                if (oh >= Ho) continue;
                for (int kj = 0; kj < kwm; kj++) {
                    const float *src = cs + (long)(ki * kw + kj) * ldcol + (long)oh * Wo - (kj - pw);
                    for (int b = 0; b < blocks; b++)
                        acc[b] = _mm512_add_ps(acc[b], _mm512_maskz_loadu_ps(mask[kj][b], src + b * 16));
                }
            }
            float *dst = xc + (long)ih * W;
            for (int b = 0; b + 1 < blocks; b++) _mm512_storeu_ps(dst + b * 16, acc[b]);
            _mm512_mask_storeu_ps(dst + (blocks - 1) * 16, tail, acc[blocks - 1]);
        }
    }
}

// Planes of at most 16 values (4×4 feature maps): a whole input plane is one register, and each
// kernel offset's im2col row (at most 16 outputs) is one permutation of it with zeroed lanes.
typedef struct {
    int count;
    int32_t index[16][16];
    __mmask16 mask[16];
} tiny_plan;

static int tiny_plan_build(tiny_plan *plan, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw,
                           int Ho, int Wo, int inverse) {
    if (H * W > 16 || Ho * Wo > 16 || kh * kw > 16) return 0;
    plan->count = kh * kw;
    for (int kk = 0; kk < kh * kw; kk++) {
        const int ki = kk / kw, kj = kk % kw;
        unsigned m = 0;
        for (int l = 0; l < 16; l++) plan->index[kk][l] = 0;
        for (int l = 0; l < Ho * Wo; l++) {
            const int ih = (l / Wo) * sh - ph + ki, iw = (l % Wo) * sw - pw + kj;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            const int i = ih * W + iw;
            if (inverse) {  // input lane i takes output lane l
                plan->index[kk][i] = l;
                m |= 1u << i;
            } else {  // output lane l takes input lane i
                plan->index[kk][l] = i;
                m |= 1u << l;
            }
        }
        plan->mask[kk] = (__mmask16)m;
    }
    return 1;
}

__attribute__((target("avx512f"))) static void im2col_tiny_avx512(
    const tiny_plan *plan, const float *x, int C, int H, int W, int Ho, int Wo, float *col, long ldcol, long i0,
    long i1) {
    const int plane = H * W, P = Ho * Wo;
    const __mmask16 in_mask = (__mmask16)((1u << plane) - 1u), out_mask = (__mmask16)((1u << P) - 1u);
    for (long item = i0; item < i1; item++) {
        const long s = item / C;
        const int c = (int)(item % C);
        const __m512 v = _mm512_maskz_loadu_ps(in_mask, x + (s * C + c) * plane);
        float *dst = col + s * P + (long)c * plan->count * ldcol;
        for (int kk = 0; kk < plan->count; kk++) {
            const __m512i idx = _mm512_loadu_si512(plan->index[kk]);
            _mm512_mask_storeu_ps(dst + kk * ldcol, out_mask, _mm512_maskz_permutexvar_ps(plan->mask[kk], idx, v));
        }
    }
}

__attribute__((target("avx512f"))) static void col2im_tiny_avx512(
    const tiny_plan *plan, const float *col, long ldcol, int C, int H, int W, int Ho, int Wo, float *x, long i0,
    long i1) {
    const int plane = H * W, P = Ho * Wo;
    const __mmask16 in_mask = (__mmask16)((1u << plane) - 1u), out_mask = (__mmask16)((1u << P) - 1u);
    for (long item = i0; item < i1; item++) {
        const long s = item / C;
        const int c = (int)(item % C);
        const float *src = col + s * P + (long)c * plan->count * ldcol;
        __m512 acc = _mm512_setzero_ps();
        for (int kk = 0; kk < plan->count; kk++) {
            const __m512i idx = _mm512_loadu_si512(plan->index[kk]);
            const __m512 v = _mm512_maskz_loadu_ps(out_mask, src + kk * ldcol);
            acc = _mm512_add_ps(acc, _mm512_maskz_permutexvar_ps(plan->mask[kk], idx, v));
        }
        _mm512_mask_storeu_ps(x + (s * C + c) * plane, in_mask, acc);
    }
}

// Stride 2 along the width: an output block of 16 reads a 32-wide input window; two masked
// loads and one even-lane permutation give the block (padding lanes masked to zero).
#define S2_BLOCKS 8
__attribute__((target("avx512f"))) static void im2col_s2_avx512(
    const float *x, int C, int H, int W, int kh, int kw, int sh, int ph, int pw, int Ho, int Wo, float *col,
    long ldcol, long i0, long i1) {
    const long plane = (long)H * W, P = (long)Ho * Wo;
    const int blocks = (Wo + 15) / 16;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    __mmask16 ma[S2_BLOCKS], mb[S2_BLOCKS], st[S2_BLOCKS];
    for (long item = i0; item < i1; item++) {
        const long s = item / C;
        const int c = (int)(item % C);
        const float *xc = x + (s * C + c) * plane;
        float *cs = col + s * P;
        for (int kj = 0; kj < kw; kj++) {
            const int shift = kj - pw;  // input column = 2·output column + shift
            for (int b = 0; b < blocks; b++) {
                const int start = 32 * b + shift, n = Wo - 16 * b < 16 ? Wo - 16 * b : 16;
                unsigned long long m = 0;
                for (int l = 0; l < 2 * n; l++)
                    if (start + l >= 0 && start + l < W) m |= 1ull << l;
                ma[b] = (__mmask16)(m & 0xFFFF);
                mb[b] = (__mmask16)(m >> 16);
                st[b] = (__mmask16)((1u << n) - 1u);
            }
            for (int ki = 0; ki < kh; ki++) {
                float *row = cs + ((long)(c * kh + ki) * kw + kj) * ldcol;
                for (int oh = 0; oh < Ho; oh++) {
                    float *dst = row + (long)oh * Wo;
                    const int ih = oh * sh - ph + ki;
                    if (ih < 0 || ih >= H) {
                        for (int b = 0; b < blocks; b++) _mm512_mask_storeu_ps(dst + b * 16, st[b], _mm512_setzero_ps());
                        continue;
                    }
                    const float *src = xc + (long)ih * W + shift;
                    for (int b = 0; b < blocks; b++) {
                        __m512 lo = _mm512_maskz_loadu_ps(ma[b], src + 32 * b);
                        __m512 hi = _mm512_maskz_loadu_ps(mb[b], src + 32 * b + 16);
                        _mm512_mask_storeu_ps(dst + b * 16, st[b], _mm512_permutex2var_ps(lo, even, hi));
                    }
                }
            }
        }
    }
}

// Stride-2 col2im, row-accumulating: input block [16b, 16b+16) takes output columns
// (iw − shift)/2 for the lanes of matching parity, one permutation of 16 loaded column values.
__attribute__((target("avx512f"))) static void col2im_s2_avx512(
    const float *col, long ldcol, int C, int H, int W, int kh, int kw, int sh, int ph, int pw, int Ho, int Wo,
    float *x, long i0, long i1) {
    const long plane = (long)H * W, P = (long)Ho * Wo;
    const int blocks = (W + 15) / 16;
    int32_t index[S2_BLOCKS][S2_BLOCKS][16];
    __mmask16 load_mask[S2_BLOCKS][S2_BLOCKS], lane_mask[S2_BLOCKS][S2_BLOCKS];
    int base[S2_BLOCKS][S2_BLOCKS];
    for (int kj = 0; kj < kw; kj++) {
        const int shift = kj - pw;
        for (int b = 0; b < blocks; b++) {
            const int t0 = 16 * b - shift;
            const int owb = t0 >= 0 ? t0 / 2 : -((-t0 + 1) / 2);  // floor(t0 / 2)
            unsigned lm = 0, pm = 0;
            for (int j = 0; j < 16; j++)
                if (owb + j >= 0 && owb + j < Wo) lm |= 1u << j;
            for (int l = 0; l < 16; l++) {
                const int t = t0 + l;  // = 2·ow when this lane receives output ow
                index[kj][b][l] = 0;
                if (16 * b + l >= W || t < 0 || (t & 1) || t / 2 >= Wo) continue;
                index[kj][b][l] = t / 2 - owb;
                pm |= 1u << l;
            }
            base[kj][b] = owb;
            load_mask[kj][b] = (__mmask16)lm;
            lane_mask[kj][b] = (__mmask16)pm;
        }
    }
    const __mmask16 tail = (__mmask16)((1u << (W - (blocks - 1) * 16)) - 1u);
    for (long item = i0; item < i1; item++) {
        const long s = item / C;
        const int c = (int)(item % C);
        float *xc = x + (s * C + c) * plane;
        const float *cs = col + s * P + (long)c * kh * kw * ldcol;
        for (int ih = 0; ih < H; ih++) {
            __m512 acc[S2_BLOCKS];
            for (int b = 0; b < blocks; b++) acc[b] = _mm512_setzero_ps();
            for (int ki = 0; ki < kh; ki++) {
                const int t = ih + ph - ki;
                if (t < 0 || t % sh != 0) continue;
                const int oh = t / sh;
                if (oh >= Ho) continue;
                for (int kj = 0; kj < kw; kj++) {
                    const float *src = cs + (long)(ki * kw + kj) * ldcol + (long)oh * Wo;
                    for (int b = 0; b < blocks; b++) {
                        const __m512 v = _mm512_maskz_loadu_ps(load_mask[kj][b], src + base[kj][b]);
                        const __m512i idx = _mm512_loadu_si512(index[kj][b]);
                        acc[b] = _mm512_add_ps(acc[b], _mm512_maskz_permutexvar_ps(lane_mask[kj][b], idx, v));
                    }
                }
            }
            float *dst = xc + (long)ih * W;
            for (int b = 0; b + 1 < blocks; b++) _mm512_storeu_ps(dst + b * 16, acc[b]);
            _mm512_mask_storeu_ps(dst + (blocks - 1) * 16, tail, acc[blocks - 1]);
        }
    }
}

// AVX2: the same with 8-lane vmaskmov (masked-off lanes are not read either).
__attribute__((target("avx2"))) static inline __m256i lane_mask8(int lo, int hi) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i ge = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1));
    __m256i lt = _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx);
    return _mm256_and_si256(ge, lt);
}

__attribute__((target("avx2"))) static void im2col_s1_avx2(
    const float *x, int C, int H, int W, int kh, int kw, int sh, int ph, int pw, int Ho, int Wo, float *col,
    long ldcol, long i0, long i1) {
    const long plane = (long)H * W, P = (long)Ho * Wo;
    const int blocks = (Wo + 7) / 8;
    __m256i load_mask[2 * MAX_BLOCKS], store_mask[2 * MAX_BLOCKS];
    for (long item = i0; item < i1; item++) {
        const long s = item / C;
        const int c = (int)(item % C);
        const float *xc = x + (s * C + c) * plane;
        float *cs = col + s * P;
        for (int kj = 0; kj < kw; kj++) {
            const int shift = kj - pw;
            for (int b = 0; b < blocks; b++) {
                const int ow0 = b * 8, n = Wo - ow0 < 8 ? Wo - ow0 : 8;
                int lo = -shift - ow0, hi = W - shift - ow0;
                if (lo < 0) lo = 0;
                if (hi > n) hi = n;
                load_mask[b] = lane_mask8(lo, hi > lo ? hi : lo);
                store_mask[b] = lane_mask8(0, n);
            }
            for (int ki = 0; ki < kh; ki++) {
                float *row = cs + ((long)(c * kh + ki) * kw + kj) * ldcol;
                for (int oh = 0; oh < Ho; oh++) {
                    float *dst = row + (long)oh * Wo;
                    const int ih = oh * sh - ph + ki;
                    if (ih < 0 || ih >= H) {
                        for (int b = 0; b < blocks; b++) _mm256_maskstore_ps(dst + b * 8, store_mask[b], _mm256_setzero_ps());
                        continue;
                    }
                    const float *src = xc + (long)ih * W + shift;
                    for (int b = 0; b < blocks; b++) {
                        __m256 v = _mm256_maskload_ps(src + b * 8, load_mask[b]);
                        _mm256_maskstore_ps(dst + b * 8, store_mask[b], v);
                    }
                }
            }
        }
    }
}

__attribute__((target("avx2"))) static void col2im_s1_avx2(
    const float *col, long ldcol, int C, int H, int W, int kh, int kw, int sh, int ph, int pw, int Ho, int Wo,
    float *x, long i0, long i1) {
    const long plane = (long)H * W, P = (long)Ho * Wo;
    const int blocks = (Wo + 7) / 8;
    __m256i mask[2 * MAX_BLOCKS];
    for (long item = i0; item < i1; item++) {
        const long s = item / C;
        const int c = (int)(item % C);
        float *xc = x + (s * C + c) * plane;
        const float *cs = col + s * P;
        memset(xc, 0, sizeof(float) * (size_t)plane);
        for (int kj = 0; kj < kw; kj++) {
            const int shift = kj - pw;
            for (int b = 0; b < blocks; b++) {
                const int ow0 = b * 8, n = Wo - ow0 < 8 ? Wo - ow0 : 8;
                int lo = -shift - ow0, hi = W - shift - ow0;
                if (lo < 0) lo = 0;
                if (hi > n) hi = n;
                mask[b] = lane_mask8(lo, hi > lo ? hi : lo);
            }
            for (int ki = 0; ki < kh; ki++) {
                const float *row = cs + ((long)(c * kh + ki) * kw + kj) * ldcol;
                for (int oh = 0; oh < Ho; oh++) {
                    const int ih = oh * sh - ph + ki;
                    if (ih < 0 || ih >= H) continue;
                    float *dst = xc + (long)ih * W + shift;
                    const float *src = row + (long)oh * Wo;
                    for (int b = 0; b < blocks; b++) {
                        __m256 d = _mm256_maskload_ps(dst + b * 8, mask[b]);
                        __m256 v = _mm256_maskload_ps(src + b * 8, mask[b]);
                        _mm256_maskstore_ps(dst + b * 8, mask[b], _mm256_add_ps(d, v));
                    }
                }
            }
        }
    }
}
#endif

void ak_im2col(const float *x, int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw,
               int Ho, int Wo, float *col, long ldcol, long i0, long i1) {
#if defined(__x86_64__)
    if (nn_cpu_level() == 1) {
        tiny_plan plan;
        if (tiny_plan_build(&plan, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo, 0)) {
            im2col_tiny_avx512(&plan, x, C, H, W, Ho, Wo, col, ldcol, i0, i1);
            return;
        }
    }
    if (sw == 2 && nn_cpu_level() == 1 && Wo <= 16 * S2_BLOCKS) {
        im2col_s2_avx512(x, C, H, W, kh, kw, sh, ph, pw, Ho, Wo, col, ldcol, i0, i1);
        return;
    }
    if (sw == 1 && Wo <= 16 * MAX_BLOCKS) {
        switch (nn_cpu_level()) {
        case 1: im2col_s1_avx512(x, C, H, W, kh, kw, sh, ph, pw, Ho, Wo, col, ldcol, i0, i1); return;
        case 2: im2col_s1_avx2(x, C, H, W, kh, kw, sh, ph, pw, Ho, Wo, col, ldcol, i0, i1); return;
        default: break;
        }
    }
#endif
    NN_DISPATCH(im2col, (x, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo, col, ldcol, i0, i1));
}

NN_INLINE void col2im_impl(const float *col, long ldcol, int C, int H, int W, int kh, int kw, int sh,
                           int sw, int ph, int pw, int Ho, int Wo, float *x, long i0, long i1) {
    const long plane = (long)H * W, P = (long)Ho * Wo;
    for (long item = i0; item < i1; item++) {
        const long s = item / C;
        const int c = (int)(item % C);
        float *xc = x + (s * C + c) * plane;
        const float *cs = col + s * P;
        memset(xc, 0, sizeof(float) * (size_t)plane);
        for (int ki = 0; ki < kh; ki++) {
            for (int kj = 0; kj < kw; kj++) {
                const float *restrict row = cs + ((long)(c * kh + ki) * kw + kj) * ldcol;
                int lo, hi;
                valid_range(W, Wo, sw, pw, kj, &lo, &hi);
                const int n = hi - lo;
                if (n <= 0) continue;
                for (int oh = 0; oh < Ho; oh++) {
                    const int ih = oh * sh - ph + ki;
                    if (ih < 0 || ih >= H) continue;
                    float *restrict dst = xc + (long)ih * W + (long)lo * sw - pw + kj;
                    const float *restrict src = row + (long)oh * Wo + lo;
                    if (sw == 1) {
                        for (int t = 0; t < n; t++) dst[t] += src[t];
                    } else {
                        for (int t = 0; t < n; t++) dst[(long)t * sw] += src[t];
                    }
                }
            }
        }
    }
}
NN_VARIANTS(col2im,
            (const float *col, long ldcol, int C, int H, int W, int kh, int kw, int sh, int sw,
             int ph, int pw, int Ho, int Wo, float *x, long i0, long i1),
            (col, ldcol, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo, x, i0, i1))

void ak_col2im(const float *col, long ldcol, int C, int H, int W, int kh, int kw, int sh, int sw,
               int ph, int pw, int Ho, int Wo, float *x, long i0, long i1) {
#if defined(__x86_64__)
    if (nn_cpu_level() == 1) {
        tiny_plan plan;
        if (tiny_plan_build(&plan, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo, 1)) {
            col2im_tiny_avx512(&plan, col, ldcol, C, H, W, Ho, Wo, x, i0, i1);
            return;
        }
    }
    if (sw == 2 && nn_cpu_level() == 1 && W <= 16 * S2_BLOCKS && kw <= S2_BLOCKS) {
        col2im_s2_avx512(col, ldcol, C, H, W, kh, kw, sh, ph, pw, Ho, Wo, x, i0, i1);
        return;
    }
    if (sw == 1 && nn_cpu_level() == 1 && W <= 16 * MAX_BLOCKS && kw <= 16) {
        col2im_s1_avx512(col, ldcol, C, H, W, kh, kw, sh, ph, pw, Ho, Wo, x, i0, i1);
        return;
    }
    if (sw == 1 && nn_cpu_level() == 2 && Wo <= 16 * MAX_BLOCKS) {
        col2im_s1_avx2(col, ldcol, C, H, W, kh, kw, sh, ph, pw, Ho, Wo, x, i0, i1);
        return;
    }
#endif
    NN_DISPATCH(col2im, (col, ldcol, C, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo, x, i0, i1));
}

NN_INLINE void add_channel_bias_impl(float *x, const float *bias, long C, long inner, long i0, long i1) {
    for (long item = i0; item < i1; item++) {
        const float b = bias[item % C];
        float *restrict p = x + item * inner;
        for (long i = 0; i < inner; i++) p[i] += b;
    }
}
NN_VARIANTS(add_channel_bias, (float *x, const float *bias, long C, long inner, long i0, long i1),
            (x, bias, C, inner, i0, i1))

void ak_add_channel_bias(float *x, const float *bias, long C, long inner, long i0, long i1) {
    NN_DISPATCH(add_channel_bias, (x, bias, C, inner, i0, i1));
}

NN_INLINE void channel_sum_impl(const float *x, long outer, long C, long inner, float *out, long c0, long c1) {
#pragma clang fp reassociate(on)
    for (long c = c0; c < c1; c++) {
        double total = 0;
        for (long n = 0; n < outer; n++) {
            const float *restrict p = x + (n * C + c) * inner;
            float s = 0;
            for (long i = 0; i < inner; i++) s += p[i];
            total += s;
        }
        out[c] = (float)total;
    }
}
NN_VARIANTS(channel_sum, (const float *x, long outer, long C, long inner, float *out, long c0, long c1),
            (x, outer, C, inner, out, c0, c1))

void ak_channel_sum(const float *x, long outer, long C, long inner, float *out, long c0, long c1) {
    NN_DISPATCH(channel_sum, (x, outer, C, inner, out, c0, c1));
}

// Rectangles of planes, for convolutions computed one kernel tap at a time. The AVX-512
// versions handle planes of at most 16 values with one permutation per plane, and rows of at
// most 16 values with masked loads and stores; other shapes use the plain loops.

NN_INLINE void gather_rect_impl(const float *src, long sstride, long cstride, int W, int samples, int row0,
                                int nr, int rs, int col0, int nc, int cs, float *dst, long ld, long c0, long c1) {
    for (long c = c0; c < c1; c++) {
        float *restrict d = dst + c * ld;
        for (int s = 0; s < samples; s++) {
            const float *plane = src + s * sstride + c * cstride;
            for (int i = 0; i < nr; i++) {
                const float *restrict row = plane + (long)(row0 + i * rs) * W + col0;
                if (cs == 1) {
                    for (int j = 0; j < nc; j++) d[j] = row[j];
                } else {
                    for (int j = 0; j < nc; j++) d[j] = row[(long)j * cs];
                }
                d += nc;
            }
        }
    }
}
NN_VARIANTS(gather_rect,
            (const float *src, long sstride, long cstride, int W, int samples, int row0, int nr, int rs, int col0,
             int nc, int cs, float *dst, long ld, long c0, long c1),
            (src, sstride, cstride, W, samples, row0, nr, rs, col0, nc, cs, dst, ld, c0, c1))

NN_INLINE void scatter_add_rect_impl(const float *src, long ld, float *dst, long sstride, long cstride, int W,
                                     int samples, int row0, int nr, int rs, int col0, int nc, int cs, long c0,
                                     long c1) {
    for (long c = c0; c < c1; c++) {
        const float *restrict s_ = src + c * ld;
        for (int s = 0; s < samples; s++) {
            float *plane = dst + s * sstride + c * cstride;
            for (int i = 0; i < nr; i++) {
                float *restrict row = plane + (long)(row0 + i * rs) * W + col0;
                if (cs == 1) {
                    for (int j = 0; j < nc; j++) row[j] += s_[j];
                } else {
                    for (int j = 0; j < nc; j++) row[(long)j * cs] += s_[j];
                }
                s_ += nc;
            }
        }
    }
}
NN_VARIANTS(scatter_add_rect,
            (const float *src, long ld, float *dst, long sstride, long cstride, int W, int samples, int row0, int nr,
             int rs, int col0, int nc, int cs, long c0, long c1),
            (src, ld, dst, sstride, cstride, W, samples, row0, nr, rs, col0, nc, cs, c0, c1))

#if defined(__x86_64__)
// Plane offsets of a rectangle's values (row-major within the rectangle), when the plane and
// the rectangle fit one register.
static int rect_index(int H, int W, int row0, int nr, int rs, int col0, int nc, int cs, int32_t index[16]) {
    if (H * W > 16 || nr * nc > 16) return 0;
    for (int l = 0; l < 16; l++) index[l] = 0;
    for (int l = 0; l < nr * nc; l++) index[l] = (row0 + (l / nc) * rs) * W + col0 + (l % nc) * cs;
    return 1;
}

__attribute__((target("avx512f"))) static void gather_rect_avx512_fast(
    const float *src, long sstride, long cstride, int H, int W, int samples, int row0, int nr, int rs, int col0,
    int nc, int cs, float *dst, long ld, long c0, long c1) {
    int32_t index[16];
    const int n = nr * nc;
    if (rect_index(H, W, row0, nr, rs, col0, nc, cs, index)) {
        const __m512i idx = _mm512_loadu_si512(index);
        const __mmask16 in = (__mmask16)((1u << (H * W)) - 1u), out = (__mmask16)((1u << n) - 1u);
        for (long c = c0; c < c1; c++) {
            float *d = dst + c * ld;
            for (int s = 0; s < samples; s++) {
                const __m512 v = _mm512_maskz_loadu_ps(in, src + s * sstride + c * cstride);
                _mm512_mask_storeu_ps(d + (long)s * n, out, _mm512_permutexvar_ps(idx, v));
            }
        }
        return;
    }
    // Unit column step and short rows: one masked load per row and a full-width store (the
    // next row overwrites the extra lanes); only a channel's last row is stored masked, so no
    // lane lands in another channel's part.
    const __mmask16 m = (__mmask16)((1u << nc) - 1u);
    for (long c = c0; c < c1; c++) {
        float *d = dst + c * ld;
        float *const last = d + (long)(samples * nr - 1) * nc;
        for (int s = 0; s < samples; s++) {
            const float *plane = src + s * sstride + c * cstride + (long)row0 * W + col0;
            for (int i = 0; i < nr; i++, d += nc) {
                const __m512 v = _mm512_maskz_loadu_ps(m, plane + (long)i * rs * W);
                if (d == last) _mm512_mask_storeu_ps(d, m, v);
                else _mm512_storeu_ps(d, v);
            }
        }
    }
}

__attribute__((target("avx512f"))) static void scatter_add_rect_avx512_fast(
    const float *src, long ld, float *dst, long sstride, long cstride, int H, int W, int samples, int row0, int nr,
    int rs, int col0, int nc, int cs, long c0, long c1) {
    int32_t forward[16];
    const int n = nr * nc;
    if (rect_index(H, W, row0, nr, rs, col0, nc, cs, forward)) {
        // Inverse map: plane lane p takes rectangle lane l where forward[l] = p.
        int32_t inverse[16] = {0};
        unsigned lanes = 0;
        for (int l = 0; l < n; l++) {
            inverse[forward[l]] = l;
            lanes |= 1u << forward[l];
        }
        const __m512i idx = _mm512_loadu_si512(inverse);
        const __mmask16 plane_mask = (__mmask16)((1u << (H * W)) - 1u), rect = (__mmask16)((1u << n) - 1u);
        for (long c = c0; c < c1; c++) {
            const float *sc = src + c * ld;
            for (int s = 0; s < samples; s++) {
                float *p = dst + s * sstride + c * cstride;
                const __m512 v = _mm512_maskz_loadu_ps(rect, sc + (long)s * n);
                const __m512 acc = _mm512_maskz_loadu_ps(plane_mask, p);
                _mm512_mask_storeu_ps(p, plane_mask, _mm512_add_ps(acc, _mm512_maskz_permutexvar_ps((__mmask16)lanes, idx, v)));
            }
        }
        return;
    }
    const __mmask16 m = (__mmask16)((1u << nc) - 1u);
    for (long c = c0; c < c1; c++) {
        const float *sc = src + c * ld;
        for (int s = 0; s < samples; s++) {
            float *plane = dst + s * sstride + c * cstride + (long)row0 * W + col0;
            for (int i = 0; i < nr; i++, sc += nc) {
                float *row = plane + (long)i * rs * W;
                _mm512_mask_storeu_ps(row, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, row), _mm512_maskz_loadu_ps(m, sc)));
            }
        }
    }
}
#endif

void ak_gather_rect(const float *src, long sstride, long cstride, int H, int W, int samples, int row0, int nr,
                    int rs, int col0, int nc, int cs, float *dst, long ld, long c0, long c1) {
#if defined(__x86_64__)
    if (nn_cpu_level() == 1 && ((H * W <= 16 && nr * nc <= 16) || (cs == 1 && nc <= 16))) {
        gather_rect_avx512_fast(src, sstride, cstride, H, W, samples, row0, nr, rs, col0, nc, cs, dst, ld, c0, c1);
        return;
    }
#endif
    NN_DISPATCH(gather_rect, (src, sstride, cstride, W, samples, row0, nr, rs, col0, nc, cs, dst, ld, c0, c1));
}

void ak_scatter_add_rect(const float *src, long ld, float *dst, long sstride, long cstride, int H, int W,
                         int samples, int row0, int nr, int rs, int col0, int nc, int cs, long c0, long c1) {
#if defined(__x86_64__)
    if (nn_cpu_level() == 1 && ((H * W <= 16 && nr * nc <= 16) || (cs == 1 && nc <= 16))) {
        scatter_add_rect_avx512_fast(src, ld, dst, sstride, cstride, H, W, samples, row0, nr, rs, col0, nc, cs, c0, c1);
        return;
    }
#endif
    NN_DISPATCH(scatter_add_rect, (src, ld, dst, sstride, cstride, W, samples, row0, nr, rs, col0, nc, cs, c0, c1));
}

NN_INLINE void repack_taps_impl(const float *src, long O, long C, long T, float *dst, int inverse, long o0, long o1) {
    for (long o = o0; o < o1; o++) {
        for (long t = 0; t < T; t++) {
            if (inverse) {
                const float *restrict s_ = src + (t * O + o) * C;
                float *restrict d = dst + o * C * T + t;
                for (long c = 0; c < C; c++) d[c * T] = s_[c];
            } else {
                const float *restrict s_ = src + o * C * T + t;
                float *restrict d = dst + (t * O + o) * C;
                for (long c = 0; c < C; c++) d[c] = s_[c * T];
            }
        }
    }
}
NN_VARIANTS(repack_taps, (const float *src, long O, long C, long T, float *dst, int inverse, long o0, long o1),
            (src, O, C, T, dst, inverse, o0, o1))

void ak_repack_taps(const float *src, long O, long C, long T, float *dst, int inverse, long o0, long o1) {
    NN_DISPATCH(repack_taps, (src, O, C, T, dst, inverse, o0, o1));
}
