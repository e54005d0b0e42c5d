// Batch normalisation over x viewed as [outer, C, inner] (NCHW: outer = N, inner = H·W), one
// channel at a time: a channel's N strided planes are read two or three times in a row while
// they are still in cache, so each kernel costs about one pass over memory.
#include "nn_common.h"

// Sum of a plane in float with reassociation (vectorised), returned in double.
NN_INLINE double plane_sum(const float *restrict p, long n) {
#pragma clang fp reassociate(on)
    float s = 0;
    for (long i = 0; i < n; i++) s += p[i];
    return s;
}

NN_INLINE double plane_centered_square_sum(const float *restrict p, long n, float mean) {
#pragma clang fp reassociate(on)
    float s = 0;
    for (long i = 0; i < n; i++) {
        float d = p[i] - mean;
        s += d * d;
    }
    return s;
}

NN_INLINE void bn_forward_train_impl(const float *x, long outer, long C, long inner, const float *weight,
                                     const float *bias, float eps, int relu, float *y, float *mean_out,
                                     float *invstd_out, float *var_out, long c0, long c1) {
    const double m = (double)outer * (double)inner;
    for (long c = c0; c < c1; c++) {
        double s = 0;
        for (long n = 0; n < outer; n++) s += plane_sum(x + (n * C + c) * inner, inner);
        const float mean = (float)(s / m);
        double q = 0;
        for (long n = 0; n < outer; n++) q += plane_centered_square_sum(x + (n * C + c) * inner, inner, mean);
        const double var = q / m;
        const float invstd = (float)(1.0 / sqrt(var + (double)eps));
        const float scale = (weight ? weight[c] : 1.0f) * invstd;
        const float shift = (bias ? bias[c] : 0.0f) - mean * scale;
        for (long n = 0; n < outer; n++) {
            const float *restrict p = x + (n * C + c) * inner;
            float *restrict o = y + (n * C + c) * inner;
            if (relu) {
                for (long i = 0; i < inner; i++) {
                    float v = p[i] * scale + shift;
                    o[i] = v > 0 ? v : 0;
                }
            } else {
                for (long i = 0; i < inner; i++) o[i] = p[i] * scale + shift;
            }
        }
        mean_out[c] = mean;
        invstd_out[c] = invstd;
        var_out[c] = (float)var;
    }
}
NN_VARIANTS(bn_forward_train,
            (const float *x, long outer, long C, long inner, const float *weight, const float *bias,
             float eps, int relu, float *y, float *mean_out, float *invstd_out, float *var_out, long c0,
             long c1),
            (x, outer, C, inner, weight, bias, eps, relu, y, mean_out, invstd_out, var_out, c0, c1))

void ak_bn_forward_train(const float *x, long outer, long C, long inner, const float *weight,
                         const float *bias, float eps, int relu, float *y, float *mean_out,
                         float *invstd_out, float *var_out, long c0, long c1) {
    NN_DISPATCH(bn_forward_train,
                (x, outer, C, inner, weight, bias, eps, relu, y, mean_out, invstd_out, var_out, c0, c1));
}

NN_INLINE void bn_apply_impl(const float *x, long C, long inner, const float *scale, const float *shift,
                             int relu, float *y, long i0, long i1) {
    for (long item = i0; item < i1; item++) {
        const long c = item % C;
        const float a = scale[c], b = shift[c];
        const float *restrict p = x + item * inner;
        float *restrict o = y + item * inner;
        if (relu) {
            for (long i = 0; i < inner; i++) {
                float v = p[i] * a + b;
                o[i] = v > 0 ? v : 0;
            }
        } else {
            for (long i = 0; i < inner; i++) o[i] = p[i] * a + b;
        }
    }
}
NN_VARIANTS(bn_apply,
            (const float *x, long C, long inner, const float *scale, const float *shift, int relu,
             float *y, long i0, long i1),
            (x, C, inner, scale, shift, relu, y, i0, i1))

void ak_bn_apply(const float *x, long C, long inner, const float *scale, const float *shift, int relu,
                 float *y, long i0, long i1) {
    NN_DISPATCH(bn_apply, (x, C, inner, scale, shift, relu, y, i0, i1));
}

// Σdy' and Σdy'·x̂ over a plane, dy' = dy masked by the fused ReLU (w·x̂ + b > 0).
NN_INLINE void plane_grad_sums(const float *restrict p, const float *restrict g, long n, float mean,
                               float invstd, int relu, float w, float b, double *sdy, double *sdyx) {
#pragma clang fp reassociate(on)
    float s1 = 0, s2 = 0;
    if (relu) {
        for (long i = 0; i < n; i++) {
            float xh = (p[i] - mean) * invstd;
            float d = xh * w + b > 0 ? g[i] : 0;
            s1 += d;
            s2 += d * xh;
        }
    } else {
        for (long i = 0; i < n; i++) {
            float xh = (p[i] - mean) * invstd;
            s1 += g[i];
            s2 += g[i] * xh;
        }
    }
    *sdy += s1;
    *sdyx += s2;
}

NN_INLINE void bn_backward_impl(const float *x, const float *dy, long outer, long C, long inner,
                                const float *mean_in, const float *invstd_in, const float *weight,
                                const float *bias, int relu, int batch_stats, float *dx, float *dweight,
                                float *dbias, long c0, long c1) {
    const double m = (double)outer * (double)inner;
    for (long c = c0; c < c1; c++) {
        const float mean = mean_in[c], invstd = invstd_in[c];
        const float w = weight ? weight[c] : 1.0f, b = bias ? bias[c] : 0.0f;
        double sdy = 0, sdyx = 0;
        if (dweight || dbias || (dx && batch_stats)) {
            for (long n = 0; n < outer; n++) {
                const long o = (n * C + c) * inner;
                plane_grad_sums(x + o, dy + o, inner, mean, invstd, relu, w, b, &sdy, &sdyx);
            }
        }
        if (dweight) dweight[c] = (float)sdyx;
        if (dbias) dbias[c] = (float)sdy;
        if (!dx) continue;
        const float k = w * invstd;
        const float a = batch_stats ? (float)(sdy / m) : 0.0f;
        const float bc = batch_stats ? (float)(sdyx / m) : 0.0f;
        for (long n = 0; n < outer; n++) {
            const long o = (n * C + c) * inner;
            const float *restrict p = x + o;
            const float *restrict g = dy + o;
            float *restrict d = dx + o;
            if (relu) {
                for (long i = 0; i < inner; i++) {
                    float xh = (p[i] - mean) * invstd;
                    float gi = xh * w + b > 0 ? g[i] : 0;
                    d[i] = k * (gi - a - xh * bc);
                }
            } else {
                for (long i = 0; i < inner; i++) {
                    float xh = (p[i] - mean) * invstd;
                    d[i] = k * (g[i] - a - xh * bc);
                }
            }
        }
    }
}
NN_VARIANTS(bn_backward,
            (const float *x, const float *dy, long outer, long C, long inner, const float *mean_in,
             const float *invstd_in, const float *weight, const float *bias, int relu, int batch_stats,
             float *dx, float *dweight, float *dbias, long c0, long c1),
            (x, dy, outer, C, inner, mean_in, invstd_in, weight, bias, relu, batch_stats, dx, dweight,
             dbias, c0, c1))

void ak_bn_backward(const float *x, const float *dy, long outer, long C, long inner, const float *mean,
                    const float *invstd, const float *weight, const float *bias, int relu, int batch_stats,
                    float *dx, float *dweight, float *dbias, long c0, long c1) {
    NN_DISPATCH(bn_backward, (x, dy, outer, C, inner, mean, invstd, weight, bias, relu, batch_stats, dx,
                              dweight, dbias, c0, c1));
}
