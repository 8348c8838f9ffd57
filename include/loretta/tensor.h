/* loretta/tensor.h - dtypes, devices, buffers and tensors (views on buffers).
 *
 * A buffer is one allocation on one device. A tensor is a small value type: dtype,
 * up to 4 dims, element strides and a byte offset into a buffer. Tensors never own
 * memory except through lt_tensor_alloc/lt_tensor_free, which pair a tensor with a
 * buffer of its own. Views (lt_tensor_view, slices, reshapes) share the buffer. */
#ifndef LORETTA_TENSOR_H
#define LORETTA_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "loretta/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LT_MAX_DIMS 4

typedef enum lt_dtype {
    LT_F32 = 0,
    LT_F64,  /* reference backend and gradient checks only */
    LT_BF16,
    LT_F16,
    LT_I32,
    LT_U8,
    LT_DTYPE_COUNT
} lt_dtype;

size_t lt_dtype_size(lt_dtype t);
const char *lt_dtype_name(lt_dtype t);
/* Parses "f32", "bf16", ...; returns LT_ERR_INVALID_ARG for an unknown name. */
lt_status lt_dtype_parse(const char *name, lt_dtype *out);

/* bf16 / f16 conversions on the host (round to nearest even). */
uint16_t lt_f32_to_bf16(float f);
float lt_bf16_to_f32(uint16_t h);
uint16_t lt_f32_to_f16(float f);
float lt_f16_to_f32(uint16_t h);

typedef struct lt_backend lt_backend; /* see loretta/backend.h */

/* What a device can do; filled by the backend. */
typedef struct lt_device_info {
    char name[128];          /* "AMD EPYC 7B13 (2 threads)", "pthread-cpu (PoCL)", ... */
    char backend_name[16];   /* "cpu", "ref", "opencl", "vulkan", "cuda" */
    size_t memory_bytes;     /* total device memory (0 = unknown) */
    size_t max_alloc_bytes;  /* largest single buffer (0 = unknown) */
    int compute_units;
    int is_reference;        /* the plain-loop oracle; not picked by default */
    int supports_f64;
    int supports_bf16;
    int supports_f16;
    /* Dense peak FLOP/s (FMA = 2), 0 = unknown: f32 on the general cores, and bf16/f16
     * with f32 accumulation on matrix units (what MFU and % of peak are measured
     * against; docs/cuda.md "Benchmarks" lists how each backend derives them). */
    double peak_flops_f32, peak_flops_half;
} lt_device_info;

typedef struct lt_device {
    const lt_backend *backend;
    int index;          /* index within its backend */
    int global_index;   /* index in lt_device_list() */
    lt_device_info info;
    size_t bytes_in_use;    /* tracked by the core for every live buffer */
    size_t memory_limit;    /* 0 = none; allocations beyond it fail with OUT_OF_MEMORY */
    int threads;            /* CPU thread count requested (0 = default) */
    void *impl;             /* backend-private state */
} lt_device;

typedef struct lt_buffer {
    lt_device *dev;
    size_t bytes;
    void *host_ptr; /* non-NULL when the memory is directly addressable by the host */
    void *impl;     /* backend-private handle (cl_mem, VkBuffer, device pointer) */
} lt_buffer;

typedef struct lt_tensor {
    lt_dtype dtype;
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    int64_t stride[LT_MAX_DIMS]; /* in elements */
    lt_buffer *buf;
    size_t offset;               /* in bytes, into buf */
} lt_tensor;

/* ---- devices ---- */

/* Registers every compiled-in backend and discovers its devices (idempotent). */
lt_status lt_init(void);
int lt_device_count(void);
lt_device *lt_device_get(int global_index);
/* Finds a device by backend name ("cpu", "opencl", ...; NULL = best non-reference
 * device) and index within that backend. */
lt_status lt_device_find(const char *backend_name, int index, lt_device **out);
void lt_device_set_memory_limit(lt_device *dev, size_t bytes);
void lt_device_set_threads(lt_device *dev, int threads);
lt_status lt_device_sync(lt_device *dev);

/* ---- buffers ---- */
lt_status lt_buffer_alloc(lt_device *dev, size_t bytes, lt_buffer **out);
void lt_buffer_free(lt_buffer *buf);
lt_status lt_buffer_upload(lt_buffer *dst, size_t offset, const void *src, size_t bytes);
lt_status lt_buffer_download(void *dst, const lt_buffer *src, size_t offset, size_t bytes);
/* Copies bytes between buffers on any devices (through the host across backends). */
lt_status lt_buffer_copy(lt_buffer *dst, size_t dst_offset, const lt_buffer *src,
                         size_t src_offset, size_t bytes);

/* ---- tensors ---- */

/* A contiguous row-major tensor description (no buffer yet). */
lt_tensor lt_tensor_desc(lt_dtype dtype, int ndim, const int64_t *shape);
/* Allocates a new buffer holding one contiguous tensor. */
lt_status lt_tensor_alloc(lt_device *dev, lt_dtype dtype, int ndim, const int64_t *shape,
                          lt_tensor *out);
/* Frees the tensor's buffer (only for tensors from lt_tensor_alloc). */
void lt_tensor_free(lt_tensor *t);
/* A contiguous view of `t`'s buffer at byte offset `offset` with a new shape. */
lt_status lt_tensor_view(const lt_tensor *base, size_t offset, lt_dtype dtype, int ndim,
                         const int64_t *shape, lt_tensor *out);
/* A view with explicit strides (in elements); checked against the buffer size. */
lt_status lt_tensor_strided(const lt_tensor *base, size_t offset, int ndim,
                            const int64_t *shape, const int64_t *stride, lt_tensor *out);
/* Same elements, new contiguous shape (t must be contiguous). */
lt_status lt_tensor_reshape(const lt_tensor *t, int ndim, const int64_t *shape, lt_tensor *out);

int64_t lt_tensor_numel(const lt_tensor *t);
size_t lt_tensor_nbytes(const lt_tensor *t); /* numel * dtype size */
int lt_tensor_is_contiguous(const lt_tensor *t);
/* Bytes from the first to one past the last element addressed (for bounds checks). */
size_t lt_tensor_span_bytes(const lt_tensor *t);
lt_device *lt_tensor_device(const lt_tensor *t);
/* "f32[4,64,512]" into buf; returns buf. */
const char *lt_tensor_str(const lt_tensor *t, char *buf, size_t n);

/* Host <-> tensor copies of the whole tensor (contiguous tensors only). */
lt_status lt_tensor_upload(lt_tensor *t, const void *src, size_t bytes);
lt_status lt_tensor_download(void *dst, const lt_tensor *t, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
