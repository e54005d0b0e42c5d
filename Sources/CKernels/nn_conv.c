// Convolution helpers: im2col / col2im over a chunk of samples, per-channel bias and sums.
#include "nn_common.h"

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

void ak_im2col(const float *x, int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw,
               int Ho, int Wo, float *col, long ldcol, long i0, long i1) {
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
