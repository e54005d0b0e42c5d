// 2-D pooling over planes of H×W (one plane per sample and channel). Windows are given per
// output row and column as [start, end) ranges already clipped to the input, so max pooling,
// average pooling (with or without counting the padding) and adaptive pooling share one kernel.
#include "nn_common.h"

NN_INLINE void maxpool2d_impl(const float *x, int H, int W, int Ho, int Wo, const int32_t *hs,
                              const int32_t *he, const int32_t *ws, const int32_t *we, float *y,
                              int32_t *idx, long p0, long p1) {
    const long plane = (long)H * W, oplane = (long)Ho * Wo;
    for (long p = p0; p < p1; p++) {
        const float *xp = x + p * plane;
        float *yp = y + p * oplane;
        int32_t *ip = idx + p * oplane;
        for (int oh = 0; oh < Ho; oh++) {
            const int h0 = hs[oh], h1 = he[oh];
            for (int ow = 0; ow < Wo; ow++) {
                const int w0 = ws[ow], w1 = we[ow];
                float best = -INFINITY;
                int32_t bi = h0 * W + w0;
                for (int h = h0; h < h1; h++) {
                    const float *row = xp + (long)h * W;
                    for (int w = w0; w < w1; w++) {
                        const float v = row[w];
                        if (v > best || isnan(v)) {
                            best = v;
                            bi = h * W + w;
                            if (isnan(v)) goto done;
                        }
                    }
                }
            done:
                yp[(long)oh * Wo + ow] = best;
                ip[(long)oh * Wo + ow] = bi;
            }
        }
    }
}
NN_VARIANTS(maxpool2d,
            (const float *x, int H, int W, int Ho, int Wo, const int32_t *hs, const int32_t *he,
             const int32_t *ws, const int32_t *we, float *y, int32_t *idx, long p0, long p1),
            (x, H, W, Ho, Wo, hs, he, ws, we, y, idx, p0, p1))

void ak_maxpool2d(const float *x, int H, int W, int Ho, int Wo, const int32_t *hs, const int32_t *he,
                  const int32_t *ws, const int32_t *we, float *y, int32_t *idx, long p0, long p1) {
    NN_DISPATCH(maxpool2d, (x, H, W, Ho, Wo, hs, he, ws, we, y, idx, p0, p1));
}

// 2×2 windows with stride 2 and no padding: the common case, written out.
NN_INLINE void maxpool2x2_impl(const float *x, int H, int W, int Ho, int Wo, float *y, int32_t *idx,
                               long p0, long p1) {
    const long plane = (long)H * W, oplane = (long)Ho * Wo;
    for (long p = p0; p < p1; p++) {
        const float *xp = x + p * plane;
        float *yp = y + p * oplane;
        int32_t *ip = idx + p * oplane;
        for (int oh = 0; oh < Ho; oh++) {
            const float *r0 = xp + (long)(2 * oh) * W, *r1 = r0 + W;
            for (int ow = 0; ow < Wo; ow++) {
                const int w = 2 * ow;
                float best = r0[w];
                int32_t bi = 2 * oh * W + w;
                if (!isnan(best)) {
                    if (r0[w + 1] > best || isnan(r0[w + 1])) { best = r0[w + 1]; bi = 2 * oh * W + w + 1; }
                }
                if (!isnan(best)) {
                    if (r1[w] > best || isnan(r1[w])) { best = r1[w]; bi = (2 * oh + 1) * W + w; }
                }
                if (!isnan(best)) {
                    if (r1[w + 1] > best || isnan(r1[w + 1])) { best = r1[w + 1]; bi = (2 * oh + 1) * W + w + 1; }
                }
                yp[(long)oh * Wo + ow] = best;
                ip[(long)oh * Wo + ow] = bi;
            }
        }
    }
}
NN_VARIANTS(maxpool2x2, (const float *x, int H, int W, int Ho, int Wo, float *y, int32_t *idx, long p0, long p1),
            (x, H, W, Ho, Wo, y, idx, p0, p1))

void ak_maxpool2x2(const float *x, int H, int W, int Ho, int Wo, float *y, int32_t *idx, long p0, long p1) {
    NN_DISPATCH(maxpool2x2, (x, H, W, Ho, Wo, y, idx, p0, p1));
}

void ak_maxpool2d_backward(const float *dy, const int32_t *idx, int H, int W, int Ho, int Wo, float *dx,
                           long p0, long p1) {
    const long plane = (long)H * W, oplane = (long)Ho * Wo;
    for (long p = p0; p < p1; p++) {
        float *dp = dx + p * plane;
        const float *gp = dy + p * oplane;
        const int32_t *ip = idx + p * oplane;
        memset(dp, 0, sizeof(float) * (size_t)plane);
        for (long o = 0; o < oplane; o++) dp[ip[o]] += gp[o];
    }
}

NN_INLINE void avgpool2d_impl(const float *x, int H, int W, int Ho, int Wo, const int32_t *hs,
                              const int32_t *he, const int32_t *ws, const int32_t *we, const float *rh,
                              const float *rw, float *y, long p0, long p1) {
#pragma clang fp reassociate(on)
    const long plane = (long)H * W, oplane = (long)Ho * Wo;
    for (long p = p0; p < p1; p++) {
        const float *xp = x + p * plane;
        float *yp = y + p * oplane;
        for (int oh = 0; oh < Ho; oh++) {
            const int h0 = hs[oh], h1 = he[oh];
            for (int ow = 0; ow < Wo; ow++) {
                const int w0 = ws[ow], w1 = we[ow];
                float s = 0;
                for (int h = h0; h < h1; h++) {
                    const float *row = xp + (long)h * W;
                    for (int w = w0; w < w1; w++) s += row[w];
                }
                yp[(long)oh * Wo + ow] = s * rh[oh] * rw[ow];
            }
        }
    }
}
NN_VARIANTS(avgpool2d,
            (const float *x, int H, int W, int Ho, int Wo, const int32_t *hs, const int32_t *he,
             const int32_t *ws, const int32_t *we, const float *rh, const float *rw, float *y, long p0,
             long p1),
            (x, H, W, Ho, Wo, hs, he, ws, we, rh, rw, y, p0, p1))

void ak_avgpool2d(const float *x, int H, int W, int Ho, int Wo, const int32_t *hs, const int32_t *he,
                  const int32_t *ws, const int32_t *we, const float *rh, const float *rw, float *y, long p0,
                  long p1) {
    NN_DISPATCH(avgpool2d, (x, H, W, Ho, Wo, hs, he, ws, we, rh, rw, y, p0, p1));
}

NN_INLINE void avgpool2d_backward_impl(const float *dy, int H, int W, int Ho, int Wo, const int32_t *hs,
                                       const int32_t *he, const int32_t *ws, const int32_t *we,
                                       const float *rh, const float *rw, float *dx, long p0, long p1) {
    const long plane = (long)H * W, oplane = (long)Ho * Wo;
    for (long p = p0; p < p1; p++) {
        float *dp = dx + p * plane;
        const float *gp = dy + p * oplane;
        memset(dp, 0, sizeof(float) * (size_t)plane);
        for (int oh = 0; oh < Ho; oh++) {
            const int h0 = hs[oh], h1 = he[oh];
            for (int ow = 0; ow < Wo; ow++) {
                const int w0 = ws[ow], w1 = we[ow];
                const float g = gp[(long)oh * Wo + ow] * rh[oh] * rw[ow];
                for (int h = h0; h < h1; h++) {
                    float *row = dp + (long)h * W;
                    for (int w = w0; w < w1; w++) row[w] += g;
                }
            }
        }
    }
}
NN_VARIANTS(avgpool2d_backward,
            (const float *dy, int H, int W, int Ho, int Wo, const int32_t *hs, const int32_t *he,
             const int32_t *ws, const int32_t *we, const float *rh, const float *rw, float *dx, long p0,
             long p1),
            (dy, H, W, Ho, Wo, hs, he, ws, we, rh, rw, dx, p0, p1))

void ak_avgpool2d_backward(const float *dy, int H, int W, int Ho, int Wo, const int32_t *hs,
                           const int32_t *he, const int32_t *ws, const int32_t *we, const float *rh,
                           const float *rw, float *dx, long p0, long p1) {
    NN_DISPATCH(avgpool2d_backward, (dy, H, W, Ho, Wo, hs, he, ws, we, rh, rw, dx, p0, p1));
}
