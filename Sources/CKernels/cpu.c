#include "CKernels.h"

int ak_cpu_level(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 1;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    return 0;
}

int ak_cpu_is_intel(void) {
    __builtin_cpu_init();
    return __builtin_cpu_is("intel") ? 1 : 0;
}
