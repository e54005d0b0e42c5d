// Up-sampling of planes: nearest neighbour by integer factors, and separable linear
// interpolation from per-axis source indices and weights (bilinear, any size).
#include "nn_common.h"

NN_INLINE void upsample_nearest_impl(const float *x, int H, int W, int sh, int sw, float *y, long p0, long p1) {
    const long plane = (long)H * W, Wo = (long)W * sw, oplane = plane * sh * sw;
    for (long p = p0; p < p1; p++) {
        const float *xp = x + p * plane;
        float *yp = y + p * oplane;
        for (int h = 0; h < H; h++) {
            const float *restrict src = xp + (long)h * W;
            float *restrict row = yp + (long)h * sh * Wo;
            if (sw == 2) {
                for (int w = 0; w < W; w++) { row[2 * w] = src[w]; row[2 * w + 1] = src[w]; }
            } else {
                for (int w = 0; w < W; w++)
                    for (int k = 0; k < sw; k++) row[(long)w * sw + k] = src[w];
            }
            for (int k = 1; k < sh; k++) memcpy(row + k * Wo, row, sizeof(float) * (size_t)Wo);
        }
    }
}
NN_VARIANTS(upsample_nearest, (const float *x, int H, int W, int sh, int sw, float *y, long p0, long p1),
            (x, H, W, sh, sw, y, p0, p1))

void ak_upsample_nearest(const float *x, int H, int W, int sh, int sw, float *y, long p0, long p1) {
    NN_DISPATCH(upsample_nearest, (x, H, W, sh, sw, y, p0, p1));
}

NN_INLINE void upsample_nearest_backward_impl(const float *dy, int H, int W, int sh, int sw, float *dx,
                                              long p0, long p1) {
    const long plane = (long)H * W, Wo = (long)W * sw, oplane = plane * sh * sw;
    for (long p = p0; p < p1; p++) {
        float *dp = dx + p * plane;
        const float *gp = dy + p * oplane;
        for (int h = 0; h < H; h++) {
            float *restrict d = dp + (long)h * W;
            for (int w = 0; w < W; w++) d[w] = 0;
            for (int k = 0; k < sh; k++) {
                const float *restrict g = gp + ((long)h * sh + k) * Wo;
                if (sw == 2) {
                    for (int w = 0; w < W; w++) d[w] += g[2 * w] + g[2 * w + 1];
                } else {
                    for (int w = 0; w < W; w++) {
                        float s = 0;
                        for (int j = 0; j < sw; j++) s += g[(long)w * sw + j];
                        d[w] += s;
                    }
                }
            }
        }
    }
}
NN_VARIANTS(upsample_nearest_backward,
            (const float *dy, int H, int W, int sh, int sw, float *dx, long p0, long p1),
            (dy, H, W, sh, sw, dx, p0, p1))

void ak_upsample_nearest_backward(const float *dy, int H, int W, int sh, int sw, float *dx, long p0, long p1) {
    NN_DISPATCH(upsample_nearest_backward, (dy, H, W, sh, sw, dx, p0, p1));
}

NN_INLINE void resample_linear_impl(const float *x, int H, int W, int Ho, int Wo, const int32_t *h0,
                                    const int32_t *h1, const float *lh, const int32_t *w0,
                                    const int32_t *w1, const float *lw, float *y, long p0, long p1) {
    const long plane = (long)H * W, oplane = (long)Ho * Wo;
    for (long p = p0; p < p1; p++) {
        const float *xp = x + p * plane;
        float *yp = y + p * oplane;
        for (int oh = 0; oh < Ho; oh++) {
            const float *r0 = xp + (long)h0[oh] * W, *r1 = xp + (long)h1[oh] * W;
            const float b = lh[oh], a = 1.0f - b;
            float *restrict o = yp + (long)oh * Wo;
            for (int ow = 0; ow < Wo; ow++) {
                const float d = lw[ow], c = 1.0f - d;
                const int i0 = w0[ow], i1 = w1[ow];
                o[ow] = a * (c * r0[i0] + d * r0[i1]) + b * (c * r1[i0] + d * r1[i1]);
            }
        }
    }
}
NN_VARIANTS(resample_linear,
            (const float *x, int H, int W, int Ho, int Wo, const int32_t *h0, const int32_t *h1,
             const float *lh, const int32_t *w0, const int32_t *w1, const float *lw, float *y, long p0,
             long p1),
            (x, H, W, Ho, Wo, h0, h1, lh, w0, w1, lw, y, p0, p1))

void ak_resample_linear(const float *x, int H, int W, int Ho, int Wo, const int32_t *h0, const int32_t *h1,
                        const float *lh, const int32_t *w0, const int32_t *w1, const float *lw, float *y,
                        long p0, long p1) {
    NN_DISPATCH(resample_linear, (x, H, W, Ho, Wo, h0, h1, lh, w0, w1, lw, y, p0, p1));
}

void ak_resample_linear_backward(const float *dy, int H, int W, int Ho, int Wo, const int32_t *h0,
                                 const int32_t *h1, const float *lh, const int32_t *w0, const int32_t *w1,
                                 const float *lw, float *dx, long p0, long p1) {
    const long plane = (long)H * W, oplane = (long)Ho * Wo;
    for (long p = p0; p < p1; p++) {
        float *dp = dx + p * plane;
        const float *gp = dy + p * oplane;
        memset(dp, 0, sizeof(float) * (size_t)plane);
        for (int oh = 0; oh < Ho; oh++) {
            float *r0 = dp + (long)h0[oh] * W, *r1 = dp + (long)h1[oh] * W;
            const float b = lh[oh], a = 1.0f - b;
            const float *g = gp + (long)oh * Wo;
            for (int ow = 0; ow < Wo; ow++) {
                const float d = lw[ow], c = 1.0f - d, v = g[ow];
                const int i0 = w0[ow], i1 = w1[ow];
                r0[i0] += a * c * v;
                r0[i1] += a * d * v;
                r1[i0] += b * c * v;
                r1[i1] += b * d * v;
            }
        }
    }
}
