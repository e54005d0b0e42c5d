#include "CKernels.h"
#include <stdlib.h>
#include <string.h>

// Fallback GEMM: pack op(B) panel-wise into a row-major KC x N block, then i-k-j loops whose
// inner j loop the compiler vectorises (AVX2+FMA variant chosen at run time).
#define KC 256

static void gemm_block_generic(int m, int n, int kc, float alpha, const float *a, int lda, int transA,
                               int k0, const float *bp, float *c, int ldc) {
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        for (int p = 0; p < kc; p++) {
            float av = alpha * (transA ? a[(size_t)(k0 + p) * lda + i] : a[(size_t)i * lda + k0 + p]);
            const float *bpp = bp + (size_t)p * n;
            for (int j = 0; j < n; j++) ci[j] += av * bpp[j];
        }
    }
}

__attribute__((target("avx2,fma")))
static void gemm_block_avx2(int m, int n, int kc, float alpha, const float *a, int lda, int transA,
                            int k0, const float *bp, float *c, int ldc) {
    for (int i = 0; i < m; i++) {
        float *restrict ci = c + (size_t)i * ldc;
        for (int p = 0; p < kc; p++) {
            float av = alpha * (transA ? a[(size_t)(k0 + p) * lda + i] : a[(size_t)i * lda + k0 + p]);
            const float *restrict bpp = bp + (size_t)p * n;
            for (int j = 0; j < n; j++) ci[j] += av * bpp[j];
        }
    }
}

void ak_sgemm(int transA, int transB, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        if (beta == 0.0f) memset(ci, 0, sizeof(float) * (size_t)n);
        else if (beta != 1.0f) for (int j = 0; j < n; j++) ci[j] *= beta;
    }
    int avx2 = ak_cpu_level() != 0;
    float *bp = (float *)malloc(sizeof(float) * (size_t)KC * (size_t)n);
    for (int k0 = 0; k0 < k; k0 += KC) {
        int kc = k - k0 < KC ? k - k0 : KC;
        for (int p = 0; p < kc; p++) {
            float *row = bp + (size_t)p * n;
            if (transB) for (int j = 0; j < n; j++) row[j] = b[(size_t)j * ldb + k0 + p];
            else memcpy(row, b + (size_t)(k0 + p) * ldb, sizeof(float) * (size_t)n);
        }
        if (avx2) gemm_block_avx2(m, n, kc, alpha, a, lda, transA, k0, bp, c, ldc);
        else gemm_block_generic(m, n, kc, alpha, a, lda, transA, k0, bp, c, ldc);
    }
    free(bp);
}
