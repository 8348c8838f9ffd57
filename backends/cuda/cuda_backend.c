/* backends/cuda/cuda_backend.c - the "cuda" backend: discovery, device memory on one
 * stream per device, the shared helpers, and the op table. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_common.h"

/* ---------------------------------------------------------------- helpers ---- */

lt_status lt_cuda_check(cudaError_t e, const char *op, const char *what) {
    if (e == cudaSuccess) return LT_OK;
    (void)cudaGetLastError(); /* clear a non-sticky error so later calls start clean */
    return lt_error(LT_ERR_DEVICE, "%s: %s failed: %s (%s)", op, what, cudaGetErrorName(e),
                    cudaGetErrorString(e));
}

lt_status lt_cuda_launched(const char *op) {
    return lt_cuda_check(cudaGetLastError(), op, "kernel launch");
}

lt_status lt_cuda_ready(lt_device *dev, const char *op, lt_cuda_device **out) {
    lt_cuda_device *cd = (lt_cuda_device *)dev->impl;
    if (!cd) return lt_error(LT_ERR_INTERNAL, "%s: cuda device %d has no state", op, dev->index);
    LT_TRY(lt_cuda_check(cudaSetDevice(cd->ordinal), op, "cudaSetDevice"));
    if (!cd->ready) {
        if (!cd->stream)
            LT_TRY(lt_cuda_check(cudaStreamCreateWithFlags(&cd->stream, cudaStreamNonBlocking),
                                 op, "creating the device stream"));
        int pools = 0, smem = 0;
        if (cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, cd->ordinal) != cudaSuccess)
            pools = 0;
        if (cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, cd->ordinal) !=
            cudaSuccess)
            smem = 48 << 10;
        (void)cudaGetLastError();
        cd->pools = pools;
        cd->max_smem_optin = smem;
        if (pools) {
            /* Keep freed memory in the pool instead of returning it at every sync: a
             * training step frees and allocates the same sizes again. */
            cudaMemPool_t pool;
            if (cudaDeviceGetDefaultMemPool(&pool, cd->ordinal) == cudaSuccess) {
                uint64_t keep = UINT64_MAX;
                (void)cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
            }
            (void)cudaGetLastError();
        }
        const char *tf32 = getenv("LORETTA_CUDA_TF32");
        cd->tf32 = tf32 && strcmp(tf32, "1") == 0;
        cd->ready = 1;
    }
    *out = cd;
    return LT_OK;
}

static cudaError_t cuda_raw_alloc(lt_cuda_device *cd, void **p, size_t bytes) {
    return cd->pools ? cudaMallocAsync(p, bytes, cd->stream) : cudaMalloc(p, bytes);
}

static void cuda_raw_free(lt_cuda_device *cd, void *p) {
    if (!p) return;
    if (cd->pools) (void)cudaFreeAsync(p, cd->stream);
    else (void)cudaFree(p);
    (void)cudaGetLastError();
}

lt_status lt_cuda_scratch(lt_cuda_device *cd, size_t bytes, void **out) {
    if (cd->scratch_bytes < bytes) {
        /* Freed and reallocated in stream order, so earlier kernels still using the old
         * scratch finish before its memory is reused. */
        size_t want = (bytes + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
        cuda_raw_free(cd, cd->scratch);
        cd->scratch = NULL;
        cd->scratch_bytes = 0;
        cudaError_t e = cuda_raw_alloc(cd, &cd->scratch, want);
        if (e == cudaErrorMemoryAllocation) {
            (void)cudaGetLastError();
            cd->scratch = NULL;
            return lt_error(LT_ERR_OUT_OF_MEMORY,
                            "cuda device %d: no room for %zu bytes of scratch space", cd->ordinal,
                            want);
        }
        if (e != cudaSuccess) {
            cd->scratch = NULL;
            return lt_cuda_check(e, "cuda scratch", "allocating scratch space");
        }
        cd->scratch_bytes = want;
    }
    *out = cd->scratch;
    return LT_OK;
}

lt_status lt_cuda_fetch(lt_cuda_device *cd, const char *op, const lt_tensor *t, void **out) {
    *out = NULL;
    size_t bytes = (size_t)lt_tensor_numel(t) * lt_dtype_size(t->dtype);
    if (!bytes) return LT_OK;
    void *h = malloc(bytes);
    if (!h) return lt_error(LT_ERR_OUT_OF_MEMORY, "%s: no host memory to check %zu bytes", op, bytes);
    lt_status s = lt_cuda_check(cudaMemcpyAsync(h, lt_cuda_ptr(t), bytes, cudaMemcpyDeviceToHost,
                                                cd->stream),
                                op, "reading indices back");
    if (s == LT_OK)
        s = lt_cuda_check(cudaStreamSynchronize(cd->stream), op,
                          "waiting for the stream (an earlier op may have failed)");
    if (s != LT_OK) {
        free(h);
        return s;
    }
    *out = h;
    return LT_OK;
}

lt_status lt_cuda_aligned(const char *op, const char *arg, const lt_tensor *t) {
    if (!t) return LT_OK;
    size_t es = lt_dtype_size(t->dtype);
    uintptr_t addr = (uintptr_t)lt_cuda_ptr(t);
    if (es > 1 && addr % es != 0)
        return lt_error(LT_ERR_UNSUPPORTED,
                        "%s: %s starts at byte offset %zu, not a multiple of its %zu-byte %s "
                        "elements (the cuda backend needs aligned views)",
                        op, arg, t->offset, es, lt_dtype_name(t->dtype));
    return LT_OK;
}

lt_status lt_cuda_float_dtype(const char *op, const char *arg, const lt_tensor *t) {
    if (!t || t->dtype == LT_F32 || t->dtype == LT_BF16 || t->dtype == LT_F16)
        return lt_cuda_aligned(op, arg, t);
    return lt_error(LT_ERR_UNSUPPORTED, "%s: %s is %s; the cuda backend computes f32, bf16 and f16",
                    op, arg, lt_dtype_name(t->dtype));
}

/* ---------------------------------------------------------------- devices ---- */

/* Dense peak FLOP/s from SM count x FLOP per clock per SM x clock, for the two
 * architectures this backend targets; other GPUs stay 0 (unknown) rather than guessed.
 *   sm_80 (A100): 1024 bf16/f16 FMA per clock per SM on the tensor cores = 2048 FLOP,
 *     64 f32 FMA = 128 FLOP; 108 SMs x 1.41 GHz -> 312 and 19.5 TFLOP/s (datasheet).
 *   sm_90 (H100/H200): 4096 bf16 FLOP and 128 f32 FMA = 256 FLOP per clock per SM.
 *     The 989 TFLOP/s bf16 datasheet figure of the SXM parts (132 SMs) is at 1.83 GHz,
 *     below the 1.98 GHz maximum the driver reports, so the tensor clock is capped there;
 *     f32 (67 TFLOP/s on the datasheet) uses the reported maximum.
 * The clock comes from cudaDevAttrClockRate (kHz): CUDA 13 removed cudaDeviceProp's
 * clockRate. */
static void cuda_peak_flops(int ordinal, int major, int minor, int sms, lt_device_info *info) {
    int khz = 0;
    if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, ordinal) != cudaSuccess) {
        (void)cudaGetLastError();
        return;
    }
    double hz = 1e3 * (double)khz, tensor_hz = hz;
    double half_per_clk = 0.0, f32_per_clk = 0.0;
    if (major == 8 && minor == 0) {
        half_per_clk = 2048.0;
        f32_per_clk = 128.0;
    } else if (major == 9 && minor == 0) {
        half_per_clk = 4096.0;
        f32_per_clk = 256.0;
        if (tensor_hz > 1.83e9) tensor_hz = 1.83e9;
    }
    info->peak_flops_half = (double)sms * half_per_clk * tensor_hz;
    info->peak_flops_f32 = (double)sms * f32_per_clk * hz;
}

static lt_status cuda_discover(lt_device *devs, int max, int *count) {
    *count = 0;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        int drv = 0, rt = 0;
        if (cudaDriverGetVersion(&drv) != cudaSuccess) drv = 0;
        if (cudaRuntimeGetVersion(&rt) != cudaSuccess) rt = 0;
        (void)cudaGetLastError();
        if (e == cudaErrorInsufficientDriver && drv == 0)
            lt_error(LT_ERR_DEVICE, "no NVIDIA driver found (built for CUDA runtime %d.%d)",
                     rt / 1000, rt % 1000 / 10);
        else if (e == cudaErrorInsufficientDriver)
            lt_error(LT_ERR_DEVICE, "the NVIDIA driver supports CUDA %d.%d, older than the runtime %d.%d",
                     drv / 1000, drv % 1000 / 10, rt / 1000, rt % 1000 / 10);
        else if (e == cudaErrorNoDevice)
            lt_error(LT_ERR_DEVICE, "the NVIDIA driver reports no GPU");
        else
            lt_error(LT_ERR_DEVICE, "no usable GPU (%s: %s)", cudaGetErrorName(e),
                     cudaGetErrorString(e));
        return LT_OK;
    }
    if (n <= 0) {
        lt_error(LT_ERR_DEVICE, "the CUDA driver reports no GPU");
        return LT_OK;
    }
    int found = 0;
    for (int i = 0; i < n && found < max; i++) {
        struct cudaDeviceProp p;
        e = cudaGetDeviceProperties(&p, i);
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            continue;
        }
        lt_cuda_device *cd = (lt_cuda_device *)calloc(1, sizeof *cd);
        if (!cd) break;
        cd->ordinal = i;
        lt_device_info *info = &devs[found].info;
        snprintf(info->name, sizeof info->name, "%.100s (sm_%d%d)", p.name, p.major, p.minor);
        info->memory_bytes = p.totalGlobalMem;
        info->compute_units = p.multiProcessorCount;
        info->supports_bf16 = p.major >= 8;
        info->supports_f16 = 1;
        info->supports_f64 = 0;
        cuda_peak_flops(i, p.major, p.minor, p.multiProcessorCount, info);
        devs[found].impl = cd;
        found++;
    }
    if (!found) lt_error(LT_ERR_DEVICE, "%d CUDA device(s) present but none could be queried", n);
    *count = found;
    return LT_OK;
}

static void cuda_release(lt_device *dev) {
    lt_cuda_device *cd = (lt_cuda_device *)dev->impl;
    if (!cd) return;
    if (cudaSetDevice(cd->ordinal) == cudaSuccess && cd->ready) {
        (void)cudaStreamSynchronize(cd->stream);
        lt_cuda_matmul_release(cd);
        cuda_raw_free(cd, cd->scratch);
        (void)cudaStreamSynchronize(cd->stream);
        (void)cudaStreamDestroy(cd->stream);
    }
    (void)cudaGetLastError();
    free(cd);
    dev->impl = NULL;
}

/* ---------------------------------------------------------------- memory ---- */

static lt_status cuda_alloc(lt_device *dev, size_t bytes, lt_buffer *buf) {
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, "cuda alloc", &cd));
    void *p = NULL;
    /* A zero-byte buffer still gets a distinct, valid pointer. */
    cudaError_t e = cuda_raw_alloc(cd, &p, bytes ? bytes : 256);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) (void)cudaGetLastError();
        return lt_error(LT_ERR_OUT_OF_MEMORY,
                        "cuda device %d (%s): allocating %zu bytes failed with %zu bytes in use "
                        "by loretta (%zu of %zu bytes free on the GPU)",
                        dev->index, dev->info.name, bytes, dev->bytes_in_use, free_b, total_b);
    }
    LT_TRY(lt_cuda_check(e, "cuda alloc", "cudaMallocAsync"));
    buf->impl = p;
    buf->host_ptr = NULL;
    return LT_OK;
}

static void cuda_free(lt_device *dev, lt_buffer *buf) {
    lt_cuda_device *cd = (lt_cuda_device *)dev->impl;
    if (!cd || !buf->impl) return;
    if (cudaSetDevice(cd->ordinal) != cudaSuccess) {
        (void)cudaGetLastError();
        return;
    }
    cuda_raw_free(cd, buf->impl);
    buf->impl = NULL;
}

static lt_status cuda_upload(lt_buffer *dst, size_t offset, const void *src, size_t bytes) {
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dst->dev, "cuda upload", &cd));
    LT_TRY(lt_cuda_check(cudaMemcpyAsync((char *)dst->impl + offset, src, bytes,
                                         cudaMemcpyHostToDevice, cd->stream),
                         "cuda upload", "cudaMemcpyAsync"));
    /* The caller may reuse `src` as soon as we return. */
    return lt_cuda_check(cudaStreamSynchronize(cd->stream), "cuda upload", "waiting for the copy");
}

static lt_status cuda_download(void *dst, const lt_buffer *src, size_t offset, size_t bytes) {
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(src->dev, "cuda download", &cd));
    LT_TRY(lt_cuda_check(cudaMemcpyAsync(dst, (const char *)src->impl + offset, bytes,
                                         cudaMemcpyDeviceToHost, cd->stream),
                         "cuda download", "cudaMemcpyAsync"));
    return lt_cuda_check(cudaStreamSynchronize(cd->stream), "cuda download",
                         "waiting for the stream (an earlier op may have failed)");
}

static lt_status cuda_copy(lt_buffer *dst, size_t dst_offset, const lt_buffer *src,
                           size_t src_offset, size_t bytes) {
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dst->dev, "cuda copy", &cd));
    return lt_cuda_check(cudaMemcpyAsync((char *)dst->impl + dst_offset,
                                         (const char *)src->impl + src_offset, bytes,
                                         cudaMemcpyDeviceToDevice, cd->stream),
                         "cuda copy", "cudaMemcpyAsync");
}

static lt_status cuda_sync(lt_device *dev) {
    lt_cuda_device *cd;
    LT_TRY(lt_cuda_ready(dev, "cuda sync", &cd));
    return lt_cuda_check(cudaStreamSynchronize(cd->stream), "cuda sync",
                         "waiting for the stream (an earlier op failed on the GPU)");
}

static const lt_backend lt_cuda_backend = {
    .name = "cuda",
    .discover = cuda_discover,
    .release = cuda_release,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .copy = cuda_copy,
    .sync = cuda_sync,
    .ops = {
#define LT_CUDA_ENTRY(name) lt_cuda_##name,
        LT_CUDA_OP_LIST(LT_CUDA_ENTRY)
#undef LT_CUDA_ENTRY
    },
};
_Static_assert(LT_OP_COUNT == 22, "LT_CUDA_OP_LIST must list every op in lt_op order");

const lt_backend *lt_backend_cuda_get(void) { return &lt_cuda_backend; }
