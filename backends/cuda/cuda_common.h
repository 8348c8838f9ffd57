/* backends/cuda/cuda_common.h - state and helpers shared by the C and CUDA files of the
 * "cuda" backend (C-compatible: cuda_backend.c includes it too).
 *
 * Every device owns one non-blocking stream; allocations (cudaMallocAsync), copies and
 * kernels are all ordered on it, so ops never need their own synchronisation. Only the
 * host-facing calls (upload, download, sync) and ops that must check data (token ids,
 * lengths) wait for the stream: they read those few integers back and check them on the
 * host before any kernel writes, so a refused call leaves its outputs untouched and the
 * message names the offending position, exactly as the reference backend does. */
#ifndef LT_CUDA_COMMON_H
#define LT_CUDA_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include "loretta/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-device state (lt_device.impl), created at discovery, set up on first use so that
 * listing devices does not create a CUDA context on each GPU. */
typedef struct lt_cuda_device {
    int ordinal;              /* CUDA device index */
    int ready;                /* stream and attributes below are valid */
    int pools;                /* cudaMallocAsync available (memory pools) */
    int max_smem_optin;       /* largest dynamic shared memory a kernel may opt into */
    int tf32;                 /* LORETTA_CUDA_TF32=1: f32 GEMM on TF32 tensor cores */
    cudaStream_t stream;
    void *scratch;            /* stream-ordered temporary space, grown on demand */
    size_t scratch_bytes;
    cublasLtHandle_t blas;    /* created on the first matmul */
    void *blas_workspace;
    size_t blas_workspace_bytes;
} lt_cuda_device;

/* Makes dev's GPU current and its state ready; `op` names the caller in messages. */
lt_status lt_cuda_ready(lt_device *dev, const char *op, lt_cuda_device **out);
/* cudaSuccess -> LT_OK; anything else -> LT_ERR_DEVICE "op: what: error name (text)". */
lt_status lt_cuda_check(cudaError_t e, const char *op, const char *what);
/* After a kernel launch: a launch failure (bad configuration, no kernel image for this
 * GPU) becomes LT_ERR_DEVICE naming the op. */
lt_status lt_cuda_launched(const char *op);
/* At least `bytes` of device scratch, valid for the rest of the op (stream ordered). */
lt_status lt_cuda_scratch(lt_cuda_device *cd, size_t bytes, void **out);
/* Copies a small contiguous tensor (ids, lengths, weights) to new host memory (caller
 * frees; NULL for an empty tensor), waiting for the ops that produce it. */
lt_status lt_cuda_fetch(lt_cuda_device *cd, const char *op, const lt_tensor *t, void **out);
/* Device pointers are used with natural alignment: a view at an odd byte offset is refused. */
lt_status lt_cuda_aligned(const char *op, const char *arg, const lt_tensor *t);
/* f32, bf16 and f16 are computed in f32; anything else is UNSUPPORTED on this backend. */
lt_status lt_cuda_float_dtype(const char *op, const char *arg, const lt_tensor *t);

static inline void *lt_cuda_ptr(const lt_tensor *t) {
    return t ? (void *)((char *)t->buf->impl + t->offset) : NULL;
}

/* One op family per file: fill_copy.cu, matmul.cu, embed.cu, rmsnorm.cu,
 * elementwise.cu, cross_entropy.cu, attention.cu, adamw.cu, sample.cu. */
#define LT_CUDA_OP_LIST(X) \
    X(fill) X(copy) X(cast) X(matmul) X(embed_fwd) X(embed_bwd) X(pos_embed_fwd) \
    X(rmsnorm_fwd) X(rmsnorm_bwd) X(gelu_fwd) X(gelu_bwd) X(add) X(scale) X(axpy) \
    X(cross_entropy) X(attn_fwd) X(attn_bwd) X(attn_decode) X(kv_write) X(adamw) \
    X(sumsq) X(sample)

#define LT_DECLARE_CUDA_OP(name) lt_status lt_cuda_##name(lt_device *dev, const lt_op_call *call);
LT_CUDA_OP_LIST(LT_DECLARE_CUDA_OP)
#undef LT_DECLARE_CUDA_OP

/* Tears down a device's state (matmul.cu owns the cuBLASLt part). */
void lt_cuda_matmul_release(lt_cuda_device *cd);

#ifdef __cplusplus
}
#endif
#endif
