/* backends/cuda/matmul.cu - batched matmul through cuBLASLt.
 *
 * Our tensors are row-major; cuBLASLt is column-major. A row-major [r, c] matrix with
 * row stride ld is the column-major [c, r] matrix with the same ld, so C = op(A) op(B)
 * is computed as C^T = op(B)^T op(A)^T: cuBLASLt's "A" is our B, its "B" is our A, and
 * m, n = N, M. A batch of 1 is broadcast with a batch stride of 0.
 *
 * f32 runs in exact f32 (CUBLAS_COMPUTE_32F) so it matches the reference; setting
 * LORETTA_CUDA_TF32=1 opts into TF32 tensor cores. bf16 and f16 multiply on tensor
 * cores with f32 accumulation, into a C of their own dtype or (the mixed-precision
 * contract) an f32 C: A/B CUDA_R_16BF or CUDA_R_16F, C/D CUDA_R_32F, compute and scale
 * 32F, so the f32 accumulator is the result and accumulate adds to it in f32. A plain
 * kernel covers what cuBLASLt declines (K = 0, or no algorithm for an unusual layout). */
#include <string.h>

#include "cuda_kernels.cuh"

#define LT_BLAS_WORKSPACE ((size_t)32 << 20)

extern "C" void lt_cuda_matmul_release(lt_cuda_device *cd) {
    if (cd->blas) (void)cublasLtDestroy(cd->blas);
    cd->blas = NULL;
    if (cd->blas_workspace) (void)cudaFree(cd->blas_workspace);
    cd->blas_workspace = NULL;
    cd->blas_workspace_bytes = 0;
    (void)cudaGetLastError();
}

static lt_status blas_error(cublasStatus_t s, const char *what) {
    return lt_error(LT_ERR_DEVICE, "matmul: %s failed: %s (%s)", what, cublasLtGetStatusName(s),
                    cublasLtGetStatusString(s));
}

static lt_status blas_ready(lt_cuda_device *cd) {
    if (!cd->blas) {
        cublasStatus_t s = cublasLtCreate(&cd->blas);
        if (s != CUBLAS_STATUS_SUCCESS) {
            cd->blas = NULL;
            return blas_error(s, "cublasLtCreate");
        }
    }
    if (!cd->blas_workspace) {
        /* Without a workspace cuBLASLt still works, only with fewer algorithms. */
        if (cudaMalloc(&cd->blas_workspace, LT_BLAS_WORKSPACE) == cudaSuccess) {
            cd->blas_workspace_bytes = LT_BLAS_WORKSPACE;
        } else {
            (void)cudaGetLastError();
            cd->blas_workspace = NULL;
            cd->blas_workspace_bytes = 0;
        }
    }
    return LT_OK;
}

/* How one operand sits in memory: base pointer, row stride and batch stride (0 = one
 * matrix broadcast over the batch), all in elements. */
typedef struct mat_desc {
    const void *p;
    int64_t ld, batch_stride;
} mat_desc;

static mat_desc describe(const lt_tensor *t) {
    mat_desc m;
    int r = t->ndim - 2;
    m.p = lt_cuda_ptr(t);
    m.ld = t->stride[r];
    m.batch_stride = t->ndim == 3 && t->shape[0] > 1 ? t->stride[0] : 0;
    return m;
}

/* One thread per element of C, the K loop in f32: slow but obviously right. dt is the
 * dtype of A and B, dtc that of C (dt, or f32 for half operands). */
__global__ void lt_matmul_plain(const void *a, mat_desc ma, const void *b, mat_desc mb, void *c,
                                mat_desc mc, int dt, int dtc, int64_t batch, int64_t M,
                                int64_t N, int64_t K, int ta, int tb, float alpha,
                                int accumulate) {
    LT_GRID_STRIDE(idx, batch * M * N) {
        int64_t bi = idx / (M * N), rem = idx % (M * N), i = rem / N, j = rem % N;
        int64_t abase = bi * ma.batch_stride, bbase = bi * mb.batch_stride;
        float s = 0.0f;
        for (int64_t k = 0; k < K; k++) {
            float av = lt_ld(a, dt, abase + (ta ? k * ma.ld + i : i * ma.ld + k));
            float bv = lt_ld(b, dt, bbase + (tb ? j * mb.ld + k : k * mb.ld + j));
            s += av * bv;
        }
        int64_t o = bi * mc.batch_stride + i * mc.ld + j;
        float v = alpha * s;
        if (accumulate) v += lt_ld(c, dtc, o);
        lt_st(c, dtc, o, v);
    }
}

/* Largest power of two (at most 256) dividing every matrix start of the batch. */
static uint32_t alignment(const mat_desc *m, size_t es) {
    uintptr_t a = (uintptr_t)m->p | (uintptr_t)(m->batch_stride * (int64_t)es) | 256u;
    return (uint32_t)(a & (~a + 1));
}

typedef struct lt_layouts {
    cublasLtMatrixLayout_t a, b, c;
} lt_layouts;

static lt_status make_layout(cublasLtMatrixLayout_t *out, cudaDataType_t type, uint64_t rows,
                             uint64_t cols, int64_t ld, int32_t batch, int64_t batch_stride) {
    cublasStatus_t s = cublasLtMatrixLayoutCreate(out, type, rows, cols, ld);
    if (s != CUBLAS_STATUS_SUCCESS) {
        *out = NULL;
        return blas_error(s, "cublasLtMatrixLayoutCreate");
    }
    if (batch > 1) {
        s = cublasLtMatrixLayoutSetAttribute(*out, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch,
                                             sizeof batch);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cublasLtMatrixLayoutSetAttribute(*out, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                 &batch_stride, sizeof batch_stride);
        if (s != CUBLAS_STATUS_SUCCESS) return blas_error(s, "setting the batch layout");
    }
    return LT_OK;
}

/* Runs C = alpha op(A) op(B) + beta C with cuBLASLt. Returns LT_ERR_UNSUPPORTED (without
 * a message) when cuBLASLt has no algorithm, so the caller falls back. */
static cudaDataType_t cuda_type(lt_dtype dtype) {
    return dtype == LT_F32 ? CUDA_R_32F : dtype == LT_BF16 ? CUDA_R_16BF : CUDA_R_16F;
}

/* dtype: of A and B; ctype: of C (dtype, or f32 for half operands). */
static lt_status blas_matmul(lt_cuda_device *cd, lt_dtype dtype, lt_dtype ctype,
                             const mat_desc *ma, const mat_desc *mb, const mat_desc *mc,
                             int64_t batch, int64_t M, int64_t N, int64_t K, int ta, int tb,
                             float alpha, int accumulate) {
    LT_TRY(blas_ready(cd));
    cudaDataType_t type = cuda_type(dtype), ctype_cu = cuda_type(ctype);
    cublasComputeType_t compute =
        dtype == LT_F32 && cd->tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    size_t es = lt_dtype_size(dtype), ces = lt_dtype_size(ctype);
    int32_t nb = (int32_t)batch;
    cublasOperation_t op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N; /* cuBLASLt's A */
    cublasOperation_t op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N; /* cuBLASLt's B */

    cublasLtMatmulDesc_t desc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    lt_layouts l = {NULL, NULL, NULL};
    lt_status st = LT_OK;
    cublasStatus_t s = cublasLtMatmulDescCreate(&desc, compute, CUDA_R_32F);
    if (s != CUBLAS_STATUS_SUCCESS) {
        desc = NULL;
        st = blas_error(s, "cublasLtMatmulDescCreate");
    }
    if (st == LT_OK) {
        s = cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_b, sizeof op_b);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_a, sizeof op_a);
        if (s != CUBLAS_STATUS_SUCCESS) st = blas_error(s, "setting the transposes");
    }
    /* Stored shapes (before op) in column-major terms. */
    if (st == LT_OK)
        st = make_layout(&l.a, type, tb ? (uint64_t)K : (uint64_t)N, tb ? (uint64_t)N : (uint64_t)K,
                         mb->ld, nb, mb->batch_stride);
    if (st == LT_OK)
        st = make_layout(&l.b, type, ta ? (uint64_t)M : (uint64_t)K, ta ? (uint64_t)K : (uint64_t)M,
                         ma->ld, nb, ma->batch_stride);
    if (st == LT_OK)
        st = make_layout(&l.c, ctype_cu, (uint64_t)N, (uint64_t)M, mc->ld, nb, mc->batch_stride);
    if (st == LT_OK) {
        s = cublasLtMatmulPreferenceCreate(&pref);
        if (s != CUBLAS_STATUS_SUCCESS) {
            pref = NULL;
            st = blas_error(s, "cublasLtMatmulPreferenceCreate");
        }
    }
    if (st == LT_OK) {
        /* The default preference assumes 256-byte aligned matrices; views can be less. */
        uint64_t ws = cd->blas_workspace_bytes;
        uint32_t al_a = alignment(mb, es), al_b = alignment(ma, es), al_c = alignment(mc, ces);
        s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                 &ws, sizeof ws);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                                     &al_a, sizeof al_a);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                                     &al_b, sizeof al_b);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                                                     &al_c, sizeof al_c);
        if (s == CUBLAS_STATUS_SUCCESS)
            s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                                                     &al_c, sizeof al_c);
        if (s != CUBLAS_STATUS_SUCCESS) st = blas_error(s, "setting the preferences");
    }
    cublasLtMatmulHeuristicResult_t heur;
    memset(&heur, 0, sizeof heur);
    if (st == LT_OK) {
        int found = 0;
        s = cublasLtMatmulAlgoGetHeuristic(cd->blas, desc, l.a, l.b, l.c, l.c, pref, 1, &heur,
                                           &found);
        if (s != CUBLAS_STATUS_SUCCESS || found < 1) st = LT_ERR_UNSUPPORTED;
    }
    if (st == LT_OK) {
        float beta = accumulate ? 1.0f : 0.0f;
        /* C and D are the same matrix: cuBLASLt allows the in-place form. */
        s = cublasLtMatmul(cd->blas, desc, &alpha, mb->p, l.a, ma->p, l.b, &beta, mc->p, l.c,
                           (void *)mc->p, l.c, &heur.algo, cd->blas_workspace,
                           cd->blas_workspace_bytes, cd->stream);
        if (s == CUBLAS_STATUS_NOT_SUPPORTED) st = LT_ERR_UNSUPPORTED;
        else if (s != CUBLAS_STATUS_SUCCESS) st = blas_error(s, "cublasLtMatmul");
    }
    if (pref) (void)cublasLtMatmulPreferenceDestroy(pref);
    if (l.a) (void)cublasLtMatrixLayoutDestroy(l.a);
    if (l.b) (void)cublasLtMatrixLayoutDestroy(l.b);
    if (l.c) (void)cublasLtMatrixLayoutDestroy(l.c);
    if (desc) (void)cublasLtMatmulDescDestroy(desc);
    return st;
}

extern "C" lt_status lt_cuda_matmul(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *a = call->src[0], *b = call->src[1];
    lt_tensor *c = call->dst[0];
    const lt_matmul_params *p = &call->p.matmul;
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, "matmul", &cd));
    LT_TRY(lt_cuda_float_dtype("matmul", "a", a));
    LT_TRY(lt_cuda_aligned("matmul", "b", b));
    LT_TRY(lt_cuda_aligned("matmul", "c", c));
    const int rc = c->ndim - 2, ra = a->ndim - 2;
    const int64_t batch = c->ndim == 3 ? c->shape[0] : 1;
    const int64_t M = c->shape[rc], N = c->shape[rc + 1];
    const int64_t K = p->trans_a ? a->shape[ra] : a->shape[ra + 1];
    if (batch == 0 || M == 0 || N == 0) return LT_OK;
    mat_desc ma = describe(a), mb = describe(b), mc = describe(c);
    if (K > 0 && batch <= INT32_MAX) {
        lt_status s = blas_matmul(cd, a->dtype, c->dtype, &ma, &mb, &mc, batch, M, N, K,
                                  p->trans_a, p->trans_b, p->alpha, p->accumulate);
        if (s != LT_ERR_UNSUPPORTED) return s;
        lt_clear_error();
    }
    int64_t n = batch * M * N;
    lt_matmul_plain<<<lt_cuda_grid(n, LT_CUDA_THREADS), LT_CUDA_THREADS, 0, cd->stream>>>(
        ma.p, ma, mb.p, mb, lt_cuda_ptr(c), mc, (int)a->dtype, (int)c->dtype, batch, M, N, K,
        p->trans_a, p->trans_b, p->alpha, p->accumulate);
    return lt_cuda_launched("matmul");
}
