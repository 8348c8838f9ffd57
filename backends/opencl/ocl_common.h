/* backends/opencl/ocl_common.h - what the opencl backend's files share: the per-device
 * state, program/kernel lookup, kernel launches and status conversion.
 *
 * One context and one in-order queue per device; every op enqueues work and returns
 * (download and sync wait). Ops of one device are serialised by a mutex because an
 * OpenCL kernel object keeps its arguments between clSetKernelArg and the enqueue. */
#ifndef LT_OCL_COMMON_H
#define LT_OCL_COMMON_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <pthread.h>

#include "loretta/backend.h"

#define LT_OCL_MAX_PROGRAMS 32
#define LT_OCL_MAX_KERNELS 96

typedef struct lt_ocl_program {
    char key[160]; /* source name + extra build options */
    cl_program program;
} lt_ocl_program;

typedef struct lt_ocl_kernel {
    cl_program program;
    char name[48];
    cl_kernel kernel;
} lt_ocl_kernel;

typedef struct lt_ocl_device {
    cl_platform_id platform;
    cl_device_id id;
    cl_context context;
    cl_command_queue queue;
    pthread_mutex_t lock;
    char name[128];
    char cache_id[384];   /* device name, vendor, driver and platform version: cache key */
    int has_fp64;         /* cl_khr_fp64: f64 casts, exact sampling arithmetic */
    int has_fp16;         /* cl_khr_fp16 (unused by the f32 kernels so far) */
    int correct_div;      /* CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT */
    int wg;               /* work-group size of the reduction kernels (power of 2) */
    size_t max_wg;
    size_t local_mem;
    size_t max_alloc;
    cl_mem err;           /* int[1]: first failing position reported by index_check.cl */
    cl_mem scratch;       /* grow-only temporary (attention delta, sumsq partials) */
    size_t scratch_bytes;
    lt_ocl_program programs[LT_OCL_MAX_PROGRAMS];
    int nprograms;
    lt_ocl_kernel kernels[LT_OCL_MAX_KERNELS];
    int nkernels;
} lt_ocl_device;

static inline lt_ocl_device *lt_ocl_dev(lt_device *dev) { return (lt_ocl_device *)dev->impl; }
static inline cl_mem lt_ocl_mem(const lt_tensor *t) { return t ? (cl_mem)t->buf->impl : NULL; }
/* Element offset of a tensor (byte offsets are checked to be multiples of the dtype
 * size before any op runs). */
static inline cl_long lt_ocl_off(const lt_tensor *t) {
    return t ? (cl_long)(t->offset / lt_dtype_size(t->dtype)) : 0;
}

/* "CL_OUT_OF_RESOURCES" for an error code. */
const char *lt_ocl_error_name(cl_int err);
/* LT_ERR_DEVICE (LT_ERR_OUT_OF_MEMORY for allocation failures) with
 * "opencl: <what> failed: <CL_NAME> (<code>)". */
lt_status lt_ocl_fail(cl_int err, const char *what);

/* ---- programs (ocl_program.c) ---- */

/* The kernel `kernel` of shaders/opencl/<source>.cl built for this device with the
 * common options plus `options` (NULL = none), built and cached on first use. */
lt_status lt_ocl_kernel_get(lt_device *dev, const char *source, const char *options,
                            const char *kernel, cl_kernel *out);
void lt_ocl_programs_release(lt_ocl_device *d);

/* Test hook (tests/test_unit_opencl.c): builds `text` as program `name` for `dev` the
 * way shipped kernels are built, with or without the on-disk cache, and releases it.
 * cache_path (may be NULL) receives the cache file name. */
lt_status lt_opencl_test_build(lt_device *dev, const char *name, const char *text,
                               int use_cache, char *cache_path, size_t cache_path_size);

/* ---- launches (ocl_launch.c) ---- */

typedef struct lt_ocl_arg {
    size_t size;
    const void *value; /* NULL with a size = local memory of that many bytes */
} lt_ocl_arg;

#define LT_OCL_MEM(t) ((lt_ocl_arg){sizeof(cl_mem), &(cl_mem){lt_ocl_mem(t)}})
#define LT_OCL_CLMEM(m) ((lt_ocl_arg){sizeof(cl_mem), &(cl_mem){(m)}})
#define LT_OCL_LONG(v) ((lt_ocl_arg){sizeof(cl_long), &(cl_long){(cl_long)(v)}})
#define LT_OCL_ULONG(v) ((lt_ocl_arg){sizeof(cl_ulong), &(cl_ulong){(cl_ulong)(v)}})
#define LT_OCL_INT(v) ((lt_ocl_arg){sizeof(cl_int), &(cl_int){(cl_int)(v)}})
#define LT_OCL_FLOAT(v) ((lt_ocl_arg){sizeof(cl_float), &(cl_float){(cl_float)(v)}})
#define LT_OCL_OFF(t) LT_OCL_LONG(lt_ocl_off(t))
/* Strides (b, t, h, d) of a [B, T, H, Dh] tensor, or any 4 longs. */
#define LT_OCL_LONG4(a, b, c, d) \
    ((lt_ocl_arg){sizeof(cl_long4), &(cl_long4){{(cl_long)(a), (cl_long)(b), (cl_long)(c), (cl_long)(d)}}})
#define LT_OCL_ARGS(...) \
    (int)(sizeof((lt_ocl_arg[]){__VA_ARGS__}) / sizeof(lt_ocl_arg)), (lt_ocl_arg[]) { __VA_ARGS__ }

/* Sets the arguments and enqueues an NDRange. global sizes are rounded up to multiples
 * of local ones (local NULL = the driver picks); a zero global size enqueues nothing. */
lt_status lt_ocl_run(lt_device *dev, const char *source, const char *options,
                     const char *kernel, cl_uint dims, const size_t *global,
                     const size_t *local, int nargs, const lt_ocl_arg *args);
/* 1-d launch of n items in groups of the device's reduction size. */
lt_status lt_ocl_run_1d(lt_device *dev, const char *source, const char *kernel, size_t n,
                        int nargs, const lt_ocl_arg *args);

/* Runs index_check.cl's check_ids on ids[0..n): *bad = first position outside [lo, hi),
 * or -1 when every id is inside. Blocks until the answer is back. */
lt_status lt_ocl_check_ids(lt_device *dev, const lt_tensor *ids, int64_t n, int32_t lo,
                           int32_t hi, int64_t *bad);
/* Reads back the first bad position of a check kernel the caller enqueued after
 * lt_ocl_err_reset; -1 if none. */
lt_status lt_ocl_err_reset(lt_device *dev);
lt_status lt_ocl_err_read(lt_device *dev, int64_t *bad);
/* One i32 of a tensor (for error messages). */
int32_t lt_ocl_read_i32(lt_device *dev, const lt_tensor *t, int64_t index);
/* A device temporary of at least `bytes`, valid until the next call (the queue is in
 * order, so reuse by the next op is safe). */
lt_status lt_ocl_scratch(lt_device *dev, size_t bytes, cl_mem *out);

/* ---- op families, one file each ---- */
#define LT_OCL_OP_LIST(X) \
    X(fill) X(copy) X(cast) X(matmul) X(embed_fwd) X(embed_bwd) X(pos_embed_fwd) \
    X(rmsnorm_fwd) X(rmsnorm_bwd) X(gelu_fwd) X(gelu_bwd) X(add) X(scale) X(axpy) \
    X(cross_entropy) X(attn_fwd) X(attn_bwd) X(attn_decode) X(kv_write) X(adamw) \
    X(sumsq) X(sample)
#define LT_DECLARE_OCL_OP(name) lt_status lt_ocl_##name(lt_device *dev, const lt_op_call *call);
LT_OCL_OP_LIST(LT_DECLARE_OCL_OP)
#undef LT_DECLARE_OCL_OP

/* f32-only ops refuse other dtypes with one message. */
lt_status lt_ocl_need_f32(const lt_op_call *call);

#endif
