/* backends/opencl/ocl_backend.c - the "opencl" backend: discovery of every platform and
 * device through the ICD loader, buffers, transfers and the op table.
 *
 * Buffers are plain clCreateBuffer allocations; tensors that view part of one pass an
 * element offset to the kernels (and to CLBlast) instead of becoming sub-buffers, whose
 * origins must be aligned to CL_DEVICE_MEM_BASE_ADDR_ALIGN. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_common.h"
#include "op_f32_staging.h"

static lt_status ocl_info_str(cl_device_id id, cl_device_info what, char *out, size_t n) {
    size_t got = 0;
    cl_int e = clGetDeviceInfo(id, what, n, out, &got);
    if (e != CL_SUCCESS) {
        if (n) out[0] = 0;
        return lt_ocl_fail(e, "clGetDeviceInfo");
    }
    out[n - 1] = 0;
    return LT_OK;
}

/* Largest power of two <= min(cap, limit), at least 1. */
static int pow2_at_most(size_t limit, int cap) {
    int p = 1;
    while ((size_t)(p * 2) <= limit && p * 2 <= cap) p *= 2;
    return p;
}

static void ocl_device_free(lt_ocl_device *d) {
    if (!d) return;
    lt_ocl_programs_release(d);
    if (d->scratch) clReleaseMemObject(d->scratch);
    if (d->err) clReleaseMemObject(d->err);
    if (d->queue) clReleaseCommandQueue(d->queue);
    if (d->context) clReleaseContext(d->context);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/* Context, queue and the device facts the kernels need. */
static lt_status ocl_device_open(cl_platform_id platform, cl_device_id id, lt_device *dev) {
    lt_ocl_device *d = calloc(1, sizeof *d);
    if (!d) return lt_error(LT_ERR_OUT_OF_MEMORY, "opencl: no host memory for device state");
    pthread_mutex_init(&d->lock, NULL);
    d->platform = platform;
    d->id = id;
    cl_int e;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
    d->context = clCreateContext(props, 1, &id, NULL, NULL, &e);
    if (e != CL_SUCCESS) {
        ocl_device_free(d);
        return lt_ocl_fail(e, "clCreateContext");
    }
    d->queue = clCreateCommandQueue(d->context, id, 0, &e);
    if (e != CL_SUCCESS) {
        ocl_device_free(d);
        return lt_ocl_fail(e, "clCreateCommandQueue");
    }
    d->err = clCreateBuffer(d->context, CL_MEM_READ_WRITE, sizeof(cl_int), NULL, &e);
    if (e != CL_SUCCESS) {
        ocl_device_free(d);
        return lt_ocl_fail(e, "clCreateBuffer (error flag)");
    }

    char devname[128], vendor[96], driver[64], pname[96], pversion[128];
    ocl_info_str(id, CL_DEVICE_NAME, devname, sizeof devname);
    ocl_info_str(id, CL_DEVICE_VENDOR, vendor, sizeof vendor);
    ocl_info_str(id, CL_DRIVER_VERSION, driver, sizeof driver);
    if (clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof pname, pname, NULL) != CL_SUCCESS)
        snprintf(pname, sizeof pname, "?");
    if (clGetPlatformInfo(platform, CL_PLATFORM_VERSION, sizeof pversion, pversion, NULL) != CL_SUCCESS)
        snprintf(pversion, sizeof pversion, "?");
    pname[sizeof pname - 1] = 0;
    pversion[sizeof pversion - 1] = 0;
    snprintf(d->name, sizeof d->name, "%s", devname);
    snprintf(d->cache_id, sizeof d->cache_id, "%s|%s|%s|%s", devname, vendor, driver, pversion);

    cl_ulong gmem = 0, maxalloc = 0, lmem = 0;
    cl_uint units = 0;
    size_t maxwg = 0;
    cl_device_fp_config dfp = 0, sfp = 0;
    clGetDeviceInfo(id, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gmem, &gmem, NULL);
    clGetDeviceInfo(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof maxalloc, &maxalloc, NULL);
    clGetDeviceInfo(id, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lmem, &lmem, NULL);
    clGetDeviceInfo(id, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL);
    clGetDeviceInfo(id, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof maxwg, &maxwg, NULL);
    if (clGetDeviceInfo(id, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof dfp, &dfp, NULL) != CL_SUCCESS) dfp = 0;
    clGetDeviceInfo(id, CL_DEVICE_SINGLE_FP_CONFIG, sizeof sfp, &sfp, NULL);
    size_t extlen = 0;
    int fp16 = 0;
    if (clGetDeviceInfo(id, CL_DEVICE_EXTENSIONS, 0, NULL, &extlen) == CL_SUCCESS && extlen) {
        char *ext = malloc(extlen + 1);
        if (ext && clGetDeviceInfo(id, CL_DEVICE_EXTENSIONS, extlen, ext, NULL) == CL_SUCCESS) {
            ext[extlen] = 0;
            fp16 = strstr(ext, "cl_khr_fp16") != NULL;
            if (strstr(ext, "cl_khr_fp64") == NULL) dfp = 0;
        }
        free(ext);
    }
    d->has_fp64 = dfp != 0;
    d->has_fp16 = fp16;
    d->correct_div = (sfp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
    d->max_wg = maxwg ? maxwg : 1;
    d->local_mem = (size_t)lmem;
    d->max_alloc = (size_t)maxalloc;
    d->wg = pow2_at_most(d->max_wg, 128);

    lt_device_info *info = &dev->info;
    snprintf(info->name, sizeof info->name, "%.80s (%.40s)", devname, pname);
    info->memory_bytes = (size_t)gmem;
    info->max_alloc_bytes = (size_t)maxalloc;
    info->compute_units = (int)units;
    /* These flags say which dtypes the ops accept (the conformance suite runs a dtype's
     * cases only where they are set). The ops compute in f32, so f64 stays 0 even where
     * the hardware has doubles; fill/copy/cast take every dtype (f64 casts where
     * d->has_fp64). bf16 and f16 are claimed whatever the hardware: besides fill/copy/
     * cast, matmul and attention take them as operands, staged through f32 scratch
     * (run_locked), which needs no half arithmetic on the device. The hardware facts
     * stay in lt_ocl_device. */
    info->supports_f64 = 0;
    info->supports_f16 = 1;
    info->supports_bf16 = 1;
    dev->impl = d;
    return LT_OK;
}

static lt_status ocl_discover(lt_device *devs, int max, int *count) {
    *count = 0;
    cl_uint np = 0;
    cl_int e = clGetPlatformIDs(0, NULL, &np);
    if (e == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (e == CL_SUCCESS && np == 0))
        return lt_error(LT_OK, "no OpenCL platform found (install an ICD such as pocl-opencl-icd)");
    if (e != CL_SUCCESS) {
        lt_ocl_fail(e, "clGetPlatformIDs");
        return LT_OK; /* a broken ICD setup is a note, not a failure of lt_init */
    }
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) return lt_error(LT_ERR_OUT_OF_MEMORY, "opencl: no host memory");
    clGetPlatformIDs(np, plats, NULL);
    char note[256] = "";
    for (cl_uint p = 0; p < np && *count < max; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0)
            continue;
        cl_device_id *ids = calloc(nd, sizeof *ids);
        if (!ids) break;
        clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, ids, NULL);
        for (cl_uint i = 0; i < nd && *count < max; i++) {
            lt_device *dev = &devs[*count];
            if (ocl_device_open(plats[p], ids[i], dev) == LT_OK)
                (*count)++;
            else
                snprintf(note, sizeof note, "a device was skipped: %s", lt_last_error());
        }
        free(ids);
    }
    free(plats);
    if (*count == 0)
        return lt_error(LT_OK, "%s", *note ? note : "OpenCL platforms found but no usable device");
    if (*note) lt_error(LT_OK, "%s", note);
    return LT_OK;
}

static void ocl_release(lt_device *dev) {
    ocl_device_free(lt_ocl_dev(dev));
    dev->impl = NULL;
}

/* ---- buffers ---- */

static lt_status ocl_alloc(lt_device *dev, size_t bytes, lt_buffer *buf) {
    lt_ocl_device *d = lt_ocl_dev(dev);
    if (d->max_alloc && bytes > d->max_alloc)
        return lt_error(LT_ERR_OUT_OF_MEMORY,
                        "opencl device %d (%s): %zu bytes exceed CL_DEVICE_MAX_MEM_ALLOC_SIZE "
                        "(%zu bytes)", dev->index, d->name, bytes, d->max_alloc);
    cl_int e;
    cl_mem m = clCreateBuffer(d->context, CL_MEM_READ_WRITE, bytes ? bytes : 1, NULL, &e);
    if (e != CL_SUCCESS) {
        lt_ocl_fail(e, "clCreateBuffer");
        return lt_error_context(LT_ERR_OUT_OF_MEMORY, "opencl device %d (%s): allocating %zu bytes: ",
                                dev->index, d->name, bytes);
    }
    buf->host_ptr = NULL;
    buf->impl = m;
    return LT_OK;
}

static void ocl_free(lt_device *dev, lt_buffer *buf) {
    (void)dev;
    if (buf->impl) clReleaseMemObject((cl_mem)buf->impl);
    buf->impl = NULL;
}

static lt_status ocl_upload(lt_buffer *dst, size_t offset, const void *src, size_t bytes) {
    lt_ocl_device *d = lt_ocl_dev(dst->dev);
    cl_int e = clEnqueueWriteBuffer(d->queue, (cl_mem)dst->impl, CL_TRUE, offset, bytes, src, 0,
                                    NULL, NULL);
    return e == CL_SUCCESS ? LT_OK : lt_ocl_fail(e, "clEnqueueWriteBuffer (upload)");
}

static lt_status ocl_download(void *dst, const lt_buffer *src, size_t offset, size_t bytes) {
    lt_ocl_device *d = lt_ocl_dev(src->dev);
    cl_int e = clEnqueueReadBuffer(d->queue, (cl_mem)src->impl, CL_TRUE, offset, bytes, dst, 0,
                                   NULL, NULL);
    return e == CL_SUCCESS ? LT_OK : lt_ocl_fail(e, "clEnqueueReadBuffer (download)");
}

/* clEnqueueCopyBuffer refuses overlapping regions of one buffer; those (memmove
 * semantics) go through the host. */
static lt_status ocl_copy(lt_buffer *dst, size_t dst_offset, const lt_buffer *src,
                          size_t src_offset, size_t bytes) {
    lt_ocl_device *d = lt_ocl_dev(dst->dev);
    if (dst->impl == src->impl && dst_offset < src_offset + bytes && src_offset < dst_offset + bytes) {
        void *tmp = malloc(bytes);
        if (!tmp) return lt_error(LT_ERR_OUT_OF_MEMORY, "opencl: copy: no host staging memory");
        lt_status s = ocl_download(tmp, src, src_offset, bytes);
        if (s == LT_OK) s = ocl_upload(dst, dst_offset, tmp, bytes);
        free(tmp);
        return s;
    }
    cl_int e = clEnqueueCopyBuffer(d->queue, (cl_mem)src->impl, (cl_mem)dst->impl, src_offset,
                                   dst_offset, bytes, 0, NULL, NULL);
    return e == CL_SUCCESS ? LT_OK : lt_ocl_fail(e, "clEnqueueCopyBuffer");
}

static lt_status ocl_sync(lt_device *dev) {
    cl_int e = clFinish(lt_ocl_dev(dev)->queue);
    return e == CL_SUCCESS ? LT_OK : lt_ocl_fail(e, "clFinish");
}

/* ---- ops ---- */

lt_status lt_ocl_need_f32(const lt_op_call *call) {
    for (int i = 0; i < LT_MAX_SRC; i++) {
        const lt_tensor *t = call->src[i];
        if (t && t->dtype != LT_F32 && t->dtype != LT_I32 && t->dtype != LT_U8)
            return lt_error(LT_ERR_UNSUPPORTED, "%s: backend opencl computes in f32 only (got %s)",
                            lt_op_name(call->op), lt_dtype_name(t->dtype));
    }
    for (int i = 0; i < LT_MAX_DST; i++) {
        const lt_tensor *t = call->dst[i];
        if (t && t->dtype != LT_F32 && t->dtype != LT_I32)
            return lt_error(LT_ERR_UNSUPPORTED, "%s: backend opencl computes in f32 only (got %s)",
                            lt_op_name(call->op), lt_dtype_name(t->dtype));
    }
    return LT_OK;
}

/* Kernels index typed pointers, so a view must start on a multiple of its dtype's size;
 * every tensor of every call is checked here once. */
static lt_status check_alignment(const lt_op_call *call) {
    const lt_tensor *all[LT_MAX_SRC + LT_MAX_DST];
    int n = 0;
    for (int i = 0; i < LT_MAX_SRC; i++) all[n++] = call->src[i];
    for (int i = 0; i < LT_MAX_DST; i++) all[n++] = call->dst[i];
    for (int i = 0; i < n; i++) {
        const lt_tensor *t = all[i];
        if (t && t->offset % lt_dtype_size(t->dtype) != 0)
            return lt_error(LT_ERR_UNSUPPORTED,
                            "%s: backend opencl needs views at a multiple of the element size "
                            "(byte offset %zu of a %s tensor)",
                            lt_op_name(call->op), t->offset, lt_dtype_name(t->dtype));
    }
    return LT_OK;
}

/* bf16/f16 operands of matmul and attention (loretta/ops.h, mixed precision) run on the
 * f32 kernels through f32 scratch (core/op_f32_staging.c). The staging calls the public
 * copy/cast/op wrappers, each of which takes the lock itself, so it runs unlocked. */
static int staged_op(lt_op op) {
    return op == LT_OP_MATMUL || op == LT_OP_ATTN_FWD || op == LT_OP_ATTN_BWD;
}

static lt_status run_locked(lt_device *dev, const lt_op_call *call, lt_op_fn fn) {
    if (staged_op(call->op) && lt_op_has_half(call)) return lt_op_run_staged_f32(dev, call, NULL);
    LT_TRY(check_alignment(call));
    lt_ocl_device *d = lt_ocl_dev(dev);
    pthread_mutex_lock(&d->lock);
    lt_status s = fn(dev, call);
    pthread_mutex_unlock(&d->lock);
    return s;
}

#define LT_OCL_LOCKED(name)                                                   \
    static lt_status locked_##name(lt_device *dev, const lt_op_call *call) { \
        return run_locked(dev, call, lt_ocl_##name);                          \
    }
LT_OCL_OP_LIST(LT_OCL_LOCKED)
#undef LT_OCL_LOCKED

static const lt_backend lt_opencl_backend = {
    .name = "opencl",
    .discover = ocl_discover,
    .release = ocl_release,
    .alloc = ocl_alloc,
    .free = ocl_free,
    .upload = ocl_upload,
    .download = ocl_download,
    .copy = ocl_copy,
    .sync = ocl_sync,
    .ops = {
#define LT_OCL_ENTRY(name) locked_##name,
        LT_OCL_OP_LIST(LT_OCL_ENTRY)
#undef LT_OCL_ENTRY
    },
};
_Static_assert(LT_OP_COUNT == 22, "LT_OCL_OP_LIST must list every op in lt_op order");

const lt_backend *lt_backend_opencl_get(void) { return &lt_opencl_backend; }
