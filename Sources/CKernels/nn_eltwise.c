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
