#ifndef ANOMALYKIT_CKERNELS_H
#define ANOMALYKIT_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Returns 1 when the CPU supports AVX-512F, 2 when AVX2+FMA only, 0 otherwise.
int ak_cpu_level(void);

#endif
