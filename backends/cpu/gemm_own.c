/* backends/cpu/gemm_own.c - the cpu backend's own f32 GEMM (see gemm_own.h).
 *
 * Goto/BLIS structure in row-major form. The micro-kernel keeps an MR x NR tile of C in
 * registers and, per k, loads one NR-wide row of packed B and broadcasts MR values of
 * packed A. Blocking, outer to inner:
 *   ic: MC rows of A, packed once per (ic, pc) into MR-row slivers  (L3-sized panel)
 *   pc: KC of the shared dimension (C gets alpha*partial + beta*C, then + C)
 *   jc: NC columns of B, packed into NR-column slivers              (L2-sized block)
 *   ir over A slivers (an MR x KC sliver stays in L1), jr over B slivers (streamed from L2)
 * Packing pads ragged edges with zeros, so the kernel always runs full tiles; edge tiles go
 * through a scratch tile and only their valid part is written back.
 *
 * The vector kernels are compiled with function-level target attributes and chosen at run
 * time (__builtin_cpu_supports), so the library stays portable (no -march flags) yet uses
 * AVX-512 or AVX2+FMA where the CPU has them. LORETTA_CPU_GEMM_KERNEL=generic|avx2|avx512
 * forces one (if the CPU supports it): the tests use it to check every path. */
#include <stdlib.h>
#include <string.h>

#include "gemm_own.h"

#if defined(__GNUC__) && defined(__x86_64__)
#define LT_GEMM_X86 1
#include <immintrin.h>
#endif

typedef void (*lt_gemm_kernel_fn)(int64_t kc, const float *a, const float *b, float *c,
                                  int64_t ldc, float alpha, float beta);

typedef struct gemm_kernel {
    const char *name;
    int mr, nr;
    int64_t kc, mc, nc; /* block sizes: shared dim, A panel rows, B block columns */
    lt_gemm_kernel_fn fn;
} gemm_kernel;

#define LT_GEMM_MAX_TILE (16 * 32)
/* Below this many multiply-adds one thread is faster than waking the team. */
#define LT_GEMM_PARALLEL_MIN (64.0 * 64.0 * 64.0)

/* ---------------------------------------------------------------- portable kernel ---- */

#define GEN_MR 4
#define GEN_NR 8

static void kernel_generic(int64_t kc, const float *restrict a, const float *restrict b,
                           float *restrict c, int64_t ldc, float alpha, float beta) {
    float acc[GEN_MR][GEN_NR] = {{0}};
    for (int64_t k = 0; k < kc; k++, a += GEN_MR, b += GEN_NR)
        for (int i = 0; i < GEN_MR; i++)
            for (int j = 0; j < GEN_NR; j++) acc[i][j] += a[i] * b[j];
    for (int i = 0; i < GEN_MR; i++)
        for (int j = 0; j < GEN_NR; j++)
            c[i * ldc + j] = alpha * acc[i][j] + (beta != 0.0f ? beta * c[i * ldc + j] : 0.0f);
}

#ifdef LT_GEMM_X86
/* ---------------------------------------------------------------- AVX2 + FMA: 6 x 16 ---- */

#define AVX2_ROW(i)                                   \
    do {                                              \
        const __m256 ai = _mm256_broadcast_ss(a + i); \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);   \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);   \
    } while (0)

#define AVX2_STORE(i)                                                                      \
    do {                                                                                   \
        float *cr = c + i * ldc;                                                           \
        if (beta == 0.0f) {                                                                \
            _mm256_storeu_ps(cr, _mm256_mul_ps(va, c##i##0));                              \
            _mm256_storeu_ps(cr + 8, _mm256_mul_ps(va, c##i##1));                          \
        } else {                                                                           \
            _mm256_storeu_ps(cr, _mm256_fmadd_ps(va, c##i##0,                              \
                                                 _mm256_mul_ps(vb, _mm256_loadu_ps(cr)))); \
            _mm256_storeu_ps(cr + 8, _mm256_fmadd_ps(va, c##i##1,                          \
                                                     _mm256_mul_ps(vb, _mm256_loadu_ps(cr + 8)))); \
        }                                                                                  \
    } while (0)

__attribute__((target("avx2,fma"))) static void
kernel_avx2(int64_t kc, const float *restrict a, const float *restrict b, float *restrict c,
            int64_t ldc, float alpha, float beta) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t k = 0; k < kc; k++, a += 6, b += 16) {
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        AVX2_ROW(0);
        AVX2_ROW(1);
        AVX2_ROW(2);
        AVX2_ROW(3);
        AVX2_ROW(4);
        AVX2_ROW(5);
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    AVX2_STORE(0);
    AVX2_STORE(1);
    AVX2_STORE(2);
    AVX2_STORE(3);
    AVX2_STORE(4);
    AVX2_STORE(5);
}

/* ---------------------------------------------------------------- AVX-512: 12 x 32 ---- */

#define AVX512_ROW(i)                                 \
    do {                                              \
        const __m512 ai = _mm512_set1_ps(a[i]);       \
        c##i##_0 = _mm512_fmadd_ps(ai, b0, c##i##_0); \
        c##i##_1 = _mm512_fmadd_ps(ai, b1, c##i##_1); \
    } while (0)

#define AVX512_STORE(i)                                                                      \
    do {                                                                                     \
        float *cr = c + i * ldc;                                                             \
        if (beta == 0.0f) {                                                                  \
            _mm512_storeu_ps(cr, _mm512_mul_ps(va, c##i##_0));                               \
            _mm512_storeu_ps(cr + 16, _mm512_mul_ps(va, c##i##_1));                          \
        } else {                                                                             \
            _mm512_storeu_ps(cr, _mm512_fmadd_ps(va, c##i##_0,                               \
                                                 _mm512_mul_ps(vb, _mm512_loadu_ps(cr))));   \
            _mm512_storeu_ps(cr + 16, _mm512_fmadd_ps(va, c##i##_1,                          \
                                                      _mm512_mul_ps(vb, _mm512_loadu_ps(cr + 16)))); \
        }                                                                                    \
    } while (0)

#define AVX512_ZERO2(i) __m512 c##i##_0 = _mm512_setzero_ps(), c##i##_1 = _mm512_setzero_ps()

__attribute__((target("avx512f"))) static void
kernel_avx512(int64_t kc, const float *restrict a, const float *restrict b, float *restrict c,
              int64_t ldc, float alpha, float beta) {
    AVX512_ZERO2(0); AVX512_ZERO2(1); AVX512_ZERO2(2); AVX512_ZERO2(3);
    AVX512_ZERO2(4); AVX512_ZERO2(5); AVX512_ZERO2(6); AVX512_ZERO2(7);
    AVX512_ZERO2(8); AVX512_ZERO2(9); AVX512_ZERO2(10); AVX512_ZERO2(11);
    for (int64_t k = 0; k < kc; k++, a += 12, b += 32) {
        const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        AVX512_ROW(0); AVX512_ROW(1); AVX512_ROW(2); AVX512_ROW(3);
        AVX512_ROW(4); AVX512_ROW(5); AVX512_ROW(6); AVX512_ROW(7);
        AVX512_ROW(8); AVX512_ROW(9); AVX512_ROW(10); AVX512_ROW(11);
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    AVX512_STORE(0); AVX512_STORE(1); AVX512_STORE(2); AVX512_STORE(3);
    AVX512_STORE(4); AVX512_STORE(5); AVX512_STORE(6); AVX512_STORE(7);
    AVX512_STORE(8); AVX512_STORE(9); AVX512_STORE(10); AVX512_STORE(11);
}
#endif /* LT_GEMM_X86 */

/* Block sizes: an MR x KC sliver of A fits L1 (48 KiB on current x86), a KC x NC block of
 * B about half of a 1-2 MiB L2, an MC x KC panel of A a share of L3. */
static const gemm_kernel lt_gemm_generic = {"generic 4x8", GEN_MR, GEN_NR, 256, 1024, 512,
                                            kernel_generic};
#ifdef LT_GEMM_X86
static const gemm_kernel lt_gemm_avx2 = {"avx2 6x16", 6, 16, 256, 1020, 512, kernel_avx2};
static const gemm_kernel lt_gemm_avx512 = {"avx512 12x32", 12, 32, 384, 1536, 512,
                                           kernel_avx512};
#endif

static const gemm_kernel *pick_kernel(void) {
    const char *want = getenv("LORETTA_CPU_GEMM_KERNEL");
    if (want && strcmp(want, "generic") == 0) return &lt_gemm_generic;
#ifdef LT_GEMM_X86
    const int has512 = __builtin_cpu_supports("avx512f");
    const int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (want && strcmp(want, "avx2") == 0 && has2) return &lt_gemm_avx2;
    if (has512) return &lt_gemm_avx512;
    if (has2) return &lt_gemm_avx2;
#endif
    return &lt_gemm_generic;
}

const char *lt_cpu_gemm_own_kernel(void) { return pick_kernel()->name; }

/* ---------------------------------------------------------------- packing ---- */

/* One MR-row sliver of op(A): rows i0.., columns p0..p0+kc, stored [k][MR]. */
static void pack_a(float *restrict dst, const float *A, int64_t lda, int trans_a, int64_t i0,
                   int64_t rows, int64_t p0, int64_t kc, int mr) {
    if (trans_a) { /* op(A)(i, k) = A[k, i]: each k is a contiguous run of rows */
        for (int64_t k = 0; k < kc; k++) {
            const float *src = A + (p0 + k) * lda + i0;
            float *d = dst + k * mr;
            for (int i = 0; i < mr; i++) d[i] = i < rows ? src[i] : 0.0f;
        }
        return;
    }
    for (int i = 0; i < mr; i++) {
        if (i < rows) {
            const float *src = A + (i0 + i) * lda + p0;
            for (int64_t k = 0; k < kc; k++) dst[k * mr + i] = src[k];
        } else {
            for (int64_t k = 0; k < kc; k++) dst[k * mr + i] = 0.0f;
        }
    }
}

/* One NR-column sliver of op(B): rows p0..p0+kc, columns j0.., stored [k][NR]. */
static void pack_b(float *restrict dst, const float *B, int64_t ldb, int trans_b, int64_t j0,
                   int64_t cols, int64_t p0, int64_t kc, int nr) {
    if (!trans_b) {
        for (int64_t k = 0; k < kc; k++) {
            const float *src = B + (p0 + k) * ldb + j0;
            float *d = dst + k * nr;
            for (int j = 0; j < nr; j++) d[j] = j < cols ? src[j] : 0.0f;
        }
        return;
    }
    for (int j = 0; j < nr; j++) { /* op(B)(k, j) = B[j, k] */
        if (j < cols) {
            const float *src = B + (j0 + j) * ldb + p0;
            for (int64_t k = 0; k < kc; k++) dst[k * nr + j] = src[k];
        } else {
            for (int64_t k = 0; k < kc; k++) dst[k * nr + j] = 0.0f;
        }
    }
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* C = beta * C, with beta == 0 writing zeros without reading C (it may hold NaN). */
static void scale_c(float *C, int64_t ldc, int64_t M, int64_t N, float beta) {
    for (int64_t i = 0; i < M; i++) {
        float *cr = C + i * ldc;
        if (beta == 0.0f)
            memset(cr, 0, (size_t)N * sizeof(float));
        else if (beta != 1.0f)
            for (int64_t j = 0; j < N; j++) cr[j] *= beta;
    }
}

static void run_tile(const gemm_kernel *kn, int64_t kc, const float *ap, const float *bp,
                     float *cp, int64_t ldc, int64_t rows, int64_t cols, float alpha,
                     float beta) {
    if (rows == kn->mr && cols == kn->nr) {
        kn->fn(kc, ap, bp, cp, ldc, alpha, beta);
        return;
    }
    float tile[LT_GEMM_MAX_TILE];
    kn->fn(kc, ap, bp, tile, kn->nr, alpha, 0.0f);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            float *o = cp + i * ldc + j;
            *o = tile[i * kn->nr + j] + (beta != 0.0f ? beta * *o : 0.0f);
        }
}

/* A handful of rows (generation: one token per sample) would spend more time packing B
 * than multiplying, so they skip packing: untransposed B is streamed row by row into a
 * block of accumulators, transposed B is read as N contiguous dot products. */
#define LT_GEMM_SMALL_M 4
#define LT_GEMM_SMALL_NB 256

static void gemm_small_m(int threads, int trans_a, int trans_b, int64_t M, int64_t N,
                         int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                         int64_t ldb, float beta, float *C, int64_t ldc) {
    if (!trans_b) {
        const int64_t blocks = (N + LT_GEMM_SMALL_NB - 1) / LT_GEMM_SMALL_NB;
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t blk = 0; blk < blocks; blk++) {
            const int64_t j0 = blk * LT_GEMM_SMALL_NB, nb = min64(LT_GEMM_SMALL_NB, N - j0);
            float acc[LT_GEMM_SMALL_M][LT_GEMM_SMALL_NB] = {{0}};
            int64_t k = 0;
            /* Four rows of B per pass: one load and store of the accumulators per 4 FMAs. */
            for (; k + 4 <= K; k += 4) {
                const float *restrict b0 = B + k * ldb + j0, *restrict b1 = b0 + ldb,
                                      *restrict b2 = b1 + ldb, *restrict b3 = b2 + ldb;
                for (int64_t i = 0; i < M; i++) {
                    float a4[4];
                    for (int q = 0; q < 4; q++)
                        a4[q] = trans_a ? A[(k + q) * lda + i] : A[i * lda + k + q];
                    float *restrict ar = acc[i];
                    for (int64_t j = 0; j < nb; j++)
                        ar[j] += (a4[0] * b0[j] + a4[1] * b1[j]) + (a4[2] * b2[j] + a4[3] * b3[j]);
                }
            }
            for (; k < K; k++) {
                const float *restrict brow = B + k * ldb + j0;
                for (int64_t i = 0; i < M; i++) {
                    const float aik = trans_a ? A[k * lda + i] : A[i * lda + k];
                    float *restrict ar = acc[i];
                    for (int64_t j = 0; j < nb; j++) ar[j] += aik * brow[j];
                }
            }
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < nb; j++) {
                    float *o = C + i * ldc + j0 + j;
                    *o = alpha * acc[i][j] + (beta != 0.0f ? beta * *o : 0.0f);
                }
        }
        return;
    }
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t j = 0; j < N; j++) {
        const float *restrict brow = B + j * ldb;
        for (int64_t i = 0; i < M; i++) {
            float s = 0.0f;
            if (trans_a) {
                for (int64_t k = 0; k < K; k++) s += A[k * lda + i] * brow[k];
            } else {
                const float *restrict arow = A + i * lda;
#pragma omp simd reduction(+ : s)
                for (int64_t k = 0; k < K; k++) s += arow[k] * brow[k];
            }
            float *o = C + i * ldc + j;
            *o = alpha * s + (beta != 0.0f ? beta * *o : 0.0f);
        }
    }
}

lt_status lt_cpu_gemm_own(int threads, int trans_a, int trans_b, int64_t M, int64_t N,
                          int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                          int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return LT_OK;
    if (K <= 0 || alpha == 0.0f) { /* BLAS semantics: A and B are not read */
        scale_c(C, ldc, M, N, beta);
        return LT_OK;
    }
    if ((double)M * (double)N * (double)K < LT_GEMM_PARALLEL_MIN || threads < 1) threads = 1;
    if (M <= LT_GEMM_SMALL_M) {
        gemm_small_m(threads, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return LT_OK;
    }
    const gemm_kernel *kn = pick_kernel();
    const int mr = kn->mr, nr = kn->nr;
    const int64_t KC = min64(K, kn->kc);
    const int64_t MC = min64(round_up(M, mr), kn->mc), NC = min64(round_up(N, nr), kn->nc);
    /* aligned_alloc wants a size that is a multiple of the alignment */
    float *apack = aligned_alloc(64, (size_t)round_up(MC * KC, 16) * sizeof(float));
    float *bpack = aligned_alloc(64, (size_t)round_up(KC * NC, 16) * sizeof(float));
    if (!apack || !bpack) {
        free(apack);
        free(bpack);
        return lt_error(LT_ERR_OUT_OF_MEMORY, "matmul: no host memory for GEMM packing (%lld floats)",
                        (long long)(MC * KC + KC * NC));
    }

#pragma omp parallel num_threads(threads)
    for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = min64(MC, M - ic), a_slivers = (mc + mr - 1) / mr;
        for (int64_t pc = 0; pc < K; pc += KC) {
            const int64_t kc = min64(KC, K - pc);
            const float beta_k = pc == 0 ? beta : 1.0f;
#pragma omp for schedule(static)
            for (int64_t s = 0; s < a_slivers; s++)
                pack_a(apack + s * mr * kc, A, lda, trans_a, ic + s * mr,
                       min64(mr, mc - s * mr), pc, kc, mr);
            for (int64_t jc = 0; jc < N; jc += NC) {
                const int64_t nc = min64(NC, N - jc), b_slivers = (nc + nr - 1) / nr;
#pragma omp for schedule(static)
                for (int64_t t = 0; t < b_slivers; t++)
                    pack_b(bpack + t * nr * kc, B, ldb, trans_b, jc + t * nr,
                           min64(nr, nc - t * nr), pc, kc, nr);
                /* Dynamic chunks of whole A-sliver rows where possible: keeps the sliver in
                 * L1 and lets a thread that shares its core with another process fall
                 * behind without stalling the other at the barrier. */
                const int64_t tiles = a_slivers * b_slivers;
                int64_t chunk = tiles / (4 * (int64_t)threads);
                chunk = chunk < 1 ? 1 : chunk > b_slivers ? b_slivers : chunk;
#pragma omp for collapse(2) schedule(dynamic, chunk)
                for (int64_t s = 0; s < a_slivers; s++)
                    for (int64_t t = 0; t < b_slivers; t++)
                        run_tile(kn, kc, apack + s * mr * kc, bpack + t * nr * kc,
                                 C + (ic + s * mr) * ldc + jc + t * nr, ldc,
                                 min64(mr, mc - s * mr), min64(nr, nc - t * nr), alpha, beta_k);
            }
        }
    }
    free(apack);
    free(bpack);
    return LT_OK;
}
