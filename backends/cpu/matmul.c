/* backends/cpu/matmul.c - batched f32 matmul on the cpu backend.
 *
 * bf16/f16 operands (C half or f32) are staged through f32 scratch and run here as f32
 * (half_stage.c); f32 calls never touch that path.
 *
 * Each batch is one row-major GEMM, C = alpha op(A) op(B) + beta C with beta = 1 when
 * accumulating (0 otherwise, so C is never read and may hold garbage). Row strides go to
 * the GEMM as leading dimensions, so views into larger buffers need no copy. A batched
 * A times a shared, untransposed-A weight B whose batches lie back to back (activations
 * [B, T, D] @ W) is folded into one tall GEMM, which BLAS runs much better than B small ones.
 *
 * GEMM engine: CBLAS when the build found one (LT_HAVE_CBLAS), else the own tiled kernel
 * in gemm_own.c. At run time LORETTA_CPU_GEMM=own forces the own GEMM, =blas forces CBLAS;
 * unset, an OpenBLAS that picked SSE-only kernels is passed over (see weak_openblas_core). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_common.h"
#include "cpu_half.h"
#include "gemm_own.h"

#ifdef LT_HAVE_CBLAS
#include <cblas.h>
#endif

typedef struct mat_view {
    const float *p;
    int64_t rows, cols; /* as stored */
    int64_t ld;         /* row stride */
    int64_t bstride;    /* batch stride; 0 when the single matrix is broadcast */
} mat_view;

static mat_view view_of(const lt_tensor *t) {
    const int r = t->ndim - 2;
    mat_view v = {lt_cpu_ptr(t), t->shape[r], t->shape[r + 1], t->stride[r], 0};
    if (t->ndim == 3 && t->shape[0] > 1) v.bstride = t->stride[0];
    /* A single row's stride is never used to step; keep BLAS's ld >= cols rule happy. */
    if (v.rows == 1 || v.ld < v.cols) v.ld = v.cols > 0 ? v.cols : 1;
    return v;
}

#ifdef LT_HAVE_CBLAS
/* OpenBLAS names the kernel set it picked at load time. Weak, so any other CBLAS links
 * too (the pointer is then NULL). */
#pragma weak openblas_get_corename
char *openblas_get_corename(void);

/* OpenBLAS 0.3.21 (Debian 12) does not recognise some current Xeons and falls back to its
 * SSE3 "Prescott" kernels, 3-4x slower than the own AVX-512 GEMM on the same machine.
 * When OpenBLAS reports a core without AVX2 while the own GEMM has an AVX2/AVX-512
 * kernel, the own GEMM is used instead; LORETTA_CPU_GEMM=blas keeps CBLAS regardless
 * (OPENBLAS_CORETYPE=SkylakeX, set before the program starts, fixes OpenBLAS itself). */
static const char *weak_openblas_core(void) {
    static const char *const sse_only[] = {"Unknown", "Katmai", "Coppermine", "Northwood",
                                           "Prescott", "Banias", "Atom", "Core2", "Penryn",
                                           "Dunnington", "Nehalem", "Athlon", "Opteron",
                                           "Opteron_SSE3", "Barcelona", "Nano", "Bobcat",
                                           "Sandybridge"};
    const char *core = openblas_get_corename ? openblas_get_corename() : NULL;
    if (!core || strncmp(lt_cpu_gemm_own_kernel(), "generic", 7) == 0) return NULL;
    for (size_t i = 0; i < sizeof sse_only / sizeof sse_only[0]; i++)
        if (strcmp(core, sse_only[i]) == 0) return core;
    return NULL;
}
#endif

static int use_own_gemm(void) {
#ifdef LT_HAVE_CBLAS
    const char *e = getenv("LORETTA_CPU_GEMM");
    if (e && strcmp(e, "own") == 0) return 1;
    if (e && strcmp(e, "blas") == 0) return 0;
    return weak_openblas_core() != NULL;
#else
    return 1;
#endif
}

const char *lt_cpu_gemm_engine(void) {
    static _Thread_local char name[160];
#ifdef LT_HAVE_CBLAS
    const char *core = openblas_get_corename ? openblas_get_corename() : "";
    if (!use_own_gemm())
        snprintf(name, sizeof name, "CBLAS %s%s%s", LT_CBLAS_NAME, *core ? " core " : "", core);
    else if (weak_openblas_core())
        snprintf(name, sizeof name, "own %s (OpenBLAS core %s lacks AVX2)",
                 lt_cpu_gemm_own_kernel(), core);
    else
        snprintf(name, sizeof name, "own %s (LORETTA_CPU_GEMM=own)", lt_cpu_gemm_own_kernel());
#else
    snprintf(name, sizeof name, "own %s (no CBLAS in this build)", lt_cpu_gemm_own_kernel());
#endif
    return name;
}

static lt_status gemm(lt_device *dev, int own, int ta, int tb, int64_t M, int64_t N, int64_t K,
                      float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                      float beta, float *C, int64_t ldc) {
#ifdef LT_HAVE_CBLAS
    const int64_t lim = INT_MAX;
    if (!own && M <= lim && N <= lim && K <= lim && lda <= lim && ldb <= lim && ldc <= lim &&
        M > 0 && N > 0 && K > 0) {
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
        return LT_OK;
    }
#else
    (void)own;
#endif
    return lt_cpu_gemm_own(lt_cpu_threads(dev), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C,
                           ldc);
}

lt_status lt_cpu_matmul(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *a_t = call->src[0], *b_t = call->src[1];
    lt_tensor *c_t = call->dst[0];
    if (a_t->dtype != LT_F32 || c_t->dtype != LT_F32) {
        if (lt_cpu_is_half(a_t)) return lt_cpu_half_staged(dev, call);
        return lt_error(LT_ERR_UNSUPPORTED, "matmul: backend cpu supports f32 (and bf16/f16 "
                        "operands) only, got %s", lt_dtype_name(a_t->dtype));
    }
    const lt_matmul_params *p = &call->p.matmul;
    mat_view a = view_of(a_t), b = view_of(b_t), c = view_of(c_t);
    const int64_t batches = c_t->ndim == 3 ? c_t->shape[0] : 1;
    int64_t M = c.rows;
    const int64_t N = c.cols, K = p->trans_a ? a.rows : a.cols;
    const float beta = p->accumulate ? 1.0f : 0.0f;
    const int own = use_own_gemm();
    int64_t n_calls = batches;
    if (batches > 1 && a.bstride != 0 && b.bstride == 0 && !p->trans_a &&
        a.bstride == M * a.ld && c.bstride == M * c.ld) {
        M *= batches;
        n_calls = 1;
    }
    for (int64_t i = 0; i < n_calls; i++)
        LT_TRY(gemm(dev, own, p->trans_a, p->trans_b, M, N, K, p->alpha, a.p + i * a.bstride,
                    a.ld, b.p + i * b.bstride, b.ld, beta, (float *)c.p + i * c.bstride, c.ld));
    return LT_OK;
}
