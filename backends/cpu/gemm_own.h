/* backends/cpu/gemm_own.h - the cpu backend's own f32 GEMM (no BLAS needed).
 *
 * Row-major C[M,N] = alpha * op(A) op(B) + beta * C, op(X) = X^T when trans_x is set,
 * A stored [M,K] (or [K,M] when trans_a) with row stride lda, B stored [K,N] (or [N,K]
 * when trans_b) with row stride ldb, C with row stride ldc. beta == 0 means C is not
 * read (it may hold NaN). Cache-blocked with packed panels and a register-tiled
 * micro-kernel chosen at run time (AVX-512, AVX2+FMA, or portable C); OpenMP over
 * `threads` threads. Used by lt_cpu_matmul when no CBLAS is compiled in or when the
 * environment sets LORETTA_CPU_GEMM=own; exposed so benchmarks can compare it with BLAS. */
#ifndef LT_CPU_GEMM_OWN_H
#define LT_CPU_GEMM_OWN_H

#include <stdint.h>

#include "loretta/status.h"

lt_status lt_cpu_gemm_own(int threads, int trans_a, int trans_b, int64_t M, int64_t N,
                          int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                          int64_t ldb, float beta, float *C, int64_t ldc);

/* Name of the micro-kernel lt_cpu_gemm_own uses on this machine ("avx512 12x32", ...). */
const char *lt_cpu_gemm_own_kernel(void);

/* The GEMM engine lt_cpu_matmul uses now, for reports: "CBLAS OpenBLAS 0.3.21 core
 * SkylakeX", "own avx512 12x32 (OpenBLAS core Prescott lacks AVX2)", ... (matmul.c). */
const char *lt_cpu_gemm_engine(void);

#endif
