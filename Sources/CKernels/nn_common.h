// Shared helpers of the neural-network kernels (nn_*.c): runtime CPU dispatch without compiler
// flags. Each kernel body is an always-inline `NAME_impl`; NN_VARIANTS compiles it three times
// (AVX-512, AVX2+FMA, baseline x86-64) through function-level target attributes, and
// NN_DISPATCH picks one at run time from ak_cpu_level().
#ifndef ANOMALYKIT_NN_COMMON_H
#define ANOMALYKIT_NN_COMMON_H
#include "CKernels.h"
#include <math.h>
#include <string.h>

#define NN_INLINE static inline __attribute__((always_inline))

/// The instruction set the NN kernels use (ak_cpu_level's encoding), possibly lowered by
/// ak_nn_set_cpu_level; defined in nn_conv.c.
int ak_nn_cpu_level(void);
#define nn_cpu_level ak_nn_cpu_level

#if defined(__x86_64__) || defined(__i386__)
#define NN_VARIANTS(name, params, args)                                                            \
    __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma"))) static void name##_avx512 params \
    { name##_impl args; }                                                                          \
    __attribute__((target("avx2,fma"))) static void name##_avx2 params { name##_impl args; }      \
    static void name##_base params { name##_impl args; }
#define NN_DISPATCH(name, args)                                                                    \
    do {                                                                                           \
        switch (nn_cpu_level()) {                                                                  \
        case 1: name##_avx512 args; break;                                                         \
        case 2: name##_avx2 args; break;                                                           \
        default: name##_base args; break;                                                          \
        }                                                                                          \
    } while (0)
#else
#define NN_VARIANTS(name, params, args) static void name##_base params { name##_impl args; }
#define NN_DISPATCH(name, args) name##_base args
#endif

#endif
