// Fused element-wise kernels of residual blocks, vectorised through target attributes (Swift
// loops compile for baseline x86-64 and stay scalar and branchy here).
#include "nn_common.h"

NN_INLINE void add_relu_impl(const float *a, const float *b, float *y, long i0, long i1) {
    for (long i = i0; i < i1; i++) {
        const float v = a[i] + b[i];
        y[i] = v > 0 ? v : 0;
    }
}
NN_VARIANTS(add_relu, (const float *a, const float *b, float *y, long i0, long i1), (a, b, y, i0, i1))

void ak_add_relu(const float *a, const float *b, float *y, long i0, long i1) {
    NN_DISPATCH(add_relu, (a, b, y, i0, i1));
}

NN_INLINE void relu_backward_impl(const float *dy, const float *y, float *dx, long i0, long i1) {
    for (long i = i0; i < i1; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
}
NN_VARIANTS(relu_backward, (const float *dy, const float *y, float *dx, long i0, long i1), (dy, y, dx, i0, i1))

void ak_relu_backward(const float *dy, const float *y, float *dx, long i0, long i1) {
    NN_DISPATCH(relu_backward, (dy, y, dx, i0, i1));
}

// One Adam/AdamW step over elements [i0, i1), torch's arithmetic in float: p ← p·shrink;
// g' = g + l2·p; m ← lerp(m, g', weight) (torch's two-sided lerp formula); v ← β₂·v + (1 − β₂)·g'²;
// p ← p + negStep · m / (√v / rootCorrection + ε). No contraction into FMAs (as the scalar code).
#pragma clang fp contract(off)
NN_INLINE float adam_one(float *p, const float *g, float *m, float *v, long i, float shrink, float l2,
                         float weight, float b2, float keep_square, float neg_step, float root_correction,
                         float eps) {
    const float pi = p[i] * shrink;
    const float grad = g[i] + l2 * pi;
    const float mi = weight < 0.5f ? m[i] + weight * (grad - m[i]) : grad - (grad - m[i]) * (1 - weight);
    m[i] = mi;
    const float vi = v[i] * b2 + keep_square * grad * grad;
    v[i] = vi;
    return pi + neg_step * mi / (__builtin_sqrtf(vi) / root_correction + eps);
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static void adam_avx512(
    float *p, const float *g, float *m, float *v, float shrink, float l2, float weight, float b2,
    float keep_square, float neg_step, float root_correction, float eps, long i0, long i1) {
    const __m512 vs = _mm512_set1_ps(shrink), vl2 = _mm512_set1_ps(l2), vw = _mm512_set1_ps(weight);
    const __m512 vw1 = _mm512_set1_ps(1 - weight), vb2 = _mm512_set1_ps(b2), vk = _mm512_set1_ps(keep_square);
    const __m512 vn = _mm512_set1_ps(neg_step), vr = _mm512_set1_ps(root_correction), ve = _mm512_set1_ps(eps);
    const int low = weight < 0.5f;
    long i = i0;
    for (; i + 16 <= i1; i += 16) {
        const __m512 pi = _mm512_mul_ps(_mm512_loadu_ps(p + i), vs);
        const __m512 grad = _mm512_add_ps(_mm512_loadu_ps(g + i), _mm512_mul_ps(vl2, pi));
        const __m512 m0 = _mm512_loadu_ps(m + i);
        const __m512 d = _mm512_sub_ps(grad, m0);
        const __m512 mi = low ? _mm512_add_ps(m0, _mm512_mul_ps(vw, d)) : _mm512_sub_ps(grad, _mm512_mul_ps(d, vw1));
        _mm512_storeu_ps(m + i, mi);
        const __m512 vi = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(v + i), vb2),
                                        _mm512_mul_ps(_mm512_mul_ps(vk, grad), grad));
        _mm512_storeu_ps(v + i, vi);
        const __m512 den = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), vr), ve);
        _mm512_storeu_ps(p + i, _mm512_add_ps(pi, _mm512_div_ps(_mm512_mul_ps(vn, mi), den)));
    }
    for (; i < i1; i++)
        p[i] = adam_one(p, g, m, v, i, shrink, l2, weight, b2, keep_square, neg_step, root_correction, eps);
}
#endif

void ak_adam(float *p, const float *g, float *m, float *v, float shrink, float l2, float weight, float b2,
             float keep_square, float neg_step, float root_correction, float eps, long i0, long i1) {
#if defined(__x86_64__)
    if (nn_cpu_level() == 1) {
        adam_avx512(p, g, m, v, shrink, l2, weight, b2, keep_square, neg_step, root_correction, eps, i0, i1);
        return;
    }
#endif
    for (long i = i0; i < i1; i++)
        p[i] = adam_one(p, g, m, v, i, shrink, l2, weight, b2, keep_square, neg_step, root_correction, eps);
}

// Element-wise ops of CPUBackend.unary/binary without transcendental functions, with exactly
// the Swift expressions' semantics (Swift.max(x, y) = y >= x ? y : x, Swift.min = y < x ? y : x),
// so every CPU level gives the same values.
NN_INLINE void unary_impl(int op, float a, float b, const float *x, float *y, long i0, long i1) {
    switch (op) {
    case AK_UNARY_NEG: for (long i = i0; i < i1; i++) y[i] = -x[i]; break;
    case AK_UNARY_ABS: for (long i = i0; i < i1; i++) y[i] = __builtin_fabsf(x[i]); break;
    case AK_UNARY_RELU: for (long i = i0; i < i1; i++) y[i] = x[i] > 0 ? x[i] : 0; break;
    case AK_UNARY_SQUARE: for (long i = i0; i < i1; i++) y[i] = x[i] * x[i]; break;
    case AK_UNARY_RECIPROCAL: for (long i = i0; i < i1; i++) y[i] = 1 / x[i]; break;
    case AK_UNARY_LEAKY_RELU: for (long i = i0; i < i1; i++) y[i] = x[i] > 0 ? x[i] : x[i] * a; break;
    case AK_UNARY_CLAMP:
        for (long i = i0; i < i1; i++) {
            const float t = a >= x[i] ? a : x[i];
            y[i] = b < t ? b : t;
        }
        break;
    case AK_UNARY_ADD_SCALAR: for (long i = i0; i < i1; i++) y[i] = x[i] + a; break;
    case AK_UNARY_MUL_SCALAR: for (long i = i0; i < i1; i++) y[i] = x[i] * a; break;
    case AK_UNARY_POSITIVE_MASK: for (long i = i0; i < i1; i++) y[i] = x[i] > 0 ? 1.0f : 0.0f; break;
    case AK_UNARY_INSIDE_MASK: for (long i = i0; i < i1; i++) y[i] = x[i] >= a && x[i] <= b ? 1.0f : 0.0f; break;
    case AK_UNARY_SIGN: for (long i = i0; i < i1; i++) y[i] = x[i] > 0 ? 1.0f : (x[i] < 0 ? -1.0f : 0.0f); break;
    default: break;
    }
}
NN_VARIANTS(unary, (int op, float a, float b, const float *x, float *y, long i0, long i1), (op, a, b, x, y, i0, i1))

void ak_unary(int op, float a, float b, const float *x, float *y, long i0, long i1) {
    NN_DISPATCH(unary, (op, a, b, x, y, i0, i1));
}

// One loop per operand layout (both vectors, scalar right, scalar left) so each vectorises.
#define BINARY_LOOPS(expr)                                                                         \
    do {                                                                                           \
        if (sa && sb) {                                                                            \
            for (long i = 0; i < n; i++) { const float u = a[i], w = b[i]; o[i] = (expr); }      \
        } else if (sa) {                                                                           \
            const float w = b[0];                                                                  \
            for (long i = 0; i < n; i++) { const float u = a[i]; o[i] = (expr); }                 \
        } else if (sb) {                                                                           \
            const float u = a[0];                                                                  \
            for (long i = 0; i < n; i++) { const float w = b[i]; o[i] = (expr); }                 \
        } else {                                                                                   \
            const float u = a[0], w = b[0];                                                        \
            const float r = (expr);                                                                \
            for (long i = 0; i < n; i++) o[i] = r;                                                 \
        }                                                                                          \
    } while (0)

NN_INLINE void binary_impl(int op, const float *a, int sa, const float *b, int sb, float *o, long n) {
    switch (op) {
    case AK_BINARY_ADD: BINARY_LOOPS(u + w); break;
    case AK_BINARY_SUB: BINARY_LOOPS(u - w); break;
    case AK_BINARY_MUL: BINARY_LOOPS(u * w); break;
    case AK_BINARY_DIV: BINARY_LOOPS(u / w); break;
    case AK_BINARY_MAXIMUM: BINARY_LOOPS(w >= u ? w : u); break;
    case AK_BINARY_MINIMUM: BINARY_LOOPS(w < u ? w : u); break;
    case AK_BINARY_EQUAL: BINARY_LOOPS(u == w ? 1.0f : 0.0f); break;
    case AK_BINARY_NOT_EQUAL: BINARY_LOOPS(u != w ? 1.0f : 0.0f); break;
    case AK_BINARY_LESS: BINARY_LOOPS(u < w ? 1.0f : 0.0f); break;
    case AK_BINARY_LESS_EQUAL: BINARY_LOOPS(u <= w ? 1.0f : 0.0f); break;
    case AK_BINARY_GREATER: BINARY_LOOPS(u > w ? 1.0f : 0.0f); break;
    case AK_BINARY_GREATER_EQUAL: BINARY_LOOPS(u >= w ? 1.0f : 0.0f); break;
    default: break;
    }
}
NN_VARIANTS(binary, (int op, const float *a, int sa, const float *b, int sb, float *o, long n), (op, a, sa, b, sb, o, n))

void ak_binary(int op, const float *a, int sa, const float *b, int sb, float *o, long n) {
    NN_DISPATCH(binary, (op, a, sa, b, sb, o, n));
}

// dst[i] (+)= src rows: dst[i] = f(dst[i], src[k·inner + i]) for k < rows (sum, max, min as the
// Swift reduction: f(acc, x)), over i ∈ [i0, i1); `init` copies row 0 first.
NN_INLINE void reduce_rows_impl(int op, const float *src, long rows, long inner, float *dst, long i0, long i1) {
    for (long i = i0; i < i1; i++) dst[i] = src[i];
    for (long k = 1; k < rows; k++) {
        const float *s = src + k * inner;
        switch (op) {
        case 0: for (long i = i0; i < i1; i++) dst[i] = dst[i] + s[i]; break;
        case 1: for (long i = i0; i < i1; i++) dst[i] = s[i] >= dst[i] ? s[i] : dst[i]; break;
        default: for (long i = i0; i < i1; i++) dst[i] = s[i] < dst[i] ? s[i] : dst[i]; break;
        }
    }
}
NN_VARIANTS(reduce_rows, (int op, const float *src, long rows, long inner, float *dst, long i0, long i1),
            (op, src, rows, inner, dst, i0, i1))

void ak_reduce_rows(int op, const float *src, long rows, long inner, float *dst, long i0, long i1) {
    NN_DISPATCH(reduce_rows, (op, src, rows, inner, dst, i0, i1));
}
