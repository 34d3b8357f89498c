// Portability macros shared by every driver (CPU, CUDA) that includes the optimizer math.
#pragma once

#if defined(__CUDACC__)
#define PYGD_HD __host__ __device__
#else
#define PYGD_HD
#endif

#if defined(_MSC_VER)
#define PYGD_INLINE __forceinline
#else
// Force inlining: the math must be inlined into each ISA's loop, and no out-of-line copy may exist
// that the linker could share between translation units compiled for different instruction sets.
#define PYGD_INLINE inline __attribute__((always_inline))
#endif
