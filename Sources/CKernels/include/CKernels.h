#ifndef ANOMALYKIT_CKERNELS_H
#define ANOMALYKIT_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Returns 1 when the CPU supports AVX-512F, 2 when AVX2+FMA only, 0 otherwise.
int ak_cpu_level(void);



/// Row-major C = alpha·op(A)·op(B) + beta·C. Fallback when OpenBLAS is absent.
void ak_sgemm(int transA, int transB, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
#endif
