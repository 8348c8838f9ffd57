/* backends/opencl/ocl_launch.c - kernel launches, the device error flag, scratch memory
 * and OpenCL error codes as statuses. */
#include <limits.h>
#include <stdio.h>

#include "ocl_common.h"

const char *lt_ocl_error_name(cl_int err) {
    switch (err) {
#define N(x) case x: return #x;
        N(CL_SUCCESS) N(CL_DEVICE_NOT_FOUND) N(CL_DEVICE_NOT_AVAILABLE)
        N(CL_COMPILER_NOT_AVAILABLE) N(CL_MEM_OBJECT_ALLOCATION_FAILURE) N(CL_OUT_OF_RESOURCES)
        N(CL_OUT_OF_HOST_MEMORY) N(CL_PROFILING_INFO_NOT_AVAILABLE) N(CL_MEM_COPY_OVERLAP)
        N(CL_BUILD_PROGRAM_FAILURE) N(CL_MAP_FAILURE) N(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        N(CL_INVALID_VALUE) N(CL_INVALID_DEVICE_TYPE) N(CL_INVALID_PLATFORM) N(CL_INVALID_DEVICE)
        N(CL_INVALID_CONTEXT) N(CL_INVALID_QUEUE_PROPERTIES) N(CL_INVALID_COMMAND_QUEUE)
        N(CL_INVALID_HOST_PTR) N(CL_INVALID_MEM_OBJECT) N(CL_INVALID_BINARY)
        N(CL_INVALID_BUILD_OPTIONS) N(CL_INVALID_PROGRAM) N(CL_INVALID_PROGRAM_EXECUTABLE)
        N(CL_INVALID_KERNEL_NAME) N(CL_INVALID_KERNEL) N(CL_INVALID_ARG_INDEX)
        N(CL_INVALID_ARG_VALUE) N(CL_INVALID_ARG_SIZE) N(CL_INVALID_KERNEL_ARGS)
        N(CL_INVALID_WORK_DIMENSION) N(CL_INVALID_WORK_GROUP_SIZE) N(CL_INVALID_WORK_ITEM_SIZE)
        N(CL_INVALID_GLOBAL_OFFSET) N(CL_INVALID_EVENT_WAIT_LIST) N(CL_INVALID_OPERATION)
        N(CL_INVALID_BUFFER_SIZE) N(CL_INVALID_GLOBAL_WORK_SIZE)
#undef N
    default: return "unknown OpenCL error";
    }
}

lt_status lt_ocl_fail(cl_int err, const char *what) {
    lt_status s = err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY
                      ? LT_ERR_OUT_OF_MEMORY : LT_ERR_DEVICE;
    return lt_error(s, "opencl: %s failed: %s (%d)", what, lt_ocl_error_name(err), (int)err);
}

lt_status lt_ocl_run(lt_device *dev, const char *source, const char *options,
                     const char *kernel, cl_uint dims, const size_t *global,
                     const size_t *local, int nargs, const lt_ocl_arg *args) {
    size_t g[3];
    for (cl_uint i = 0; i < dims; i++) {
        if (global[i] == 0) return LT_OK;
        g[i] = local ? (global[i] + local[i] - 1) / local[i] * local[i] : global[i];
    }
    cl_kernel k;
    LT_TRY(lt_ocl_kernel_get(dev, source, options, kernel, &k));
    for (int i = 0; i < nargs; i++) {
        cl_int e = clSetKernelArg(k, (cl_uint)i, args[i].size, args[i].value);
        if (e != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "clSetKernelArg(%s, %d)", kernel, i);
            return lt_ocl_fail(e, what);
        }
    }
    cl_int e = clEnqueueNDRangeKernel(lt_ocl_dev(dev)->queue, k, dims, NULL, g, local, 0, NULL, NULL);
    if (e != CL_SUCCESS) {
        char what[96];
        snprintf(what, sizeof what, "clEnqueueNDRangeKernel(%s)", kernel);
        return lt_ocl_fail(e, what);
    }
    return LT_OK;
}

lt_status lt_ocl_run_1d(lt_device *dev, const char *source, const char *kernel, size_t n,
                        int nargs, const lt_ocl_arg *args) {
    size_t local = (size_t)lt_ocl_dev(dev)->wg;
    return lt_ocl_run(dev, source, NULL, kernel, 1, &n, &local, nargs, args);
}

/* The flag starts at INT_MAX; check kernels atomic_min the positions they reject. */
lt_status lt_ocl_err_reset(lt_device *dev) {
    static const cl_int none = INT_MAX;
    lt_ocl_device *d = lt_ocl_dev(dev);
    cl_int e = clEnqueueWriteBuffer(d->queue, d->err, CL_FALSE, 0, sizeof none, &none, 0, NULL, NULL);
    return e == CL_SUCCESS ? LT_OK : lt_ocl_fail(e, "clEnqueueWriteBuffer (error flag)");
}

lt_status lt_ocl_err_read(lt_device *dev, int64_t *bad) {
    lt_ocl_device *d = lt_ocl_dev(dev);
    cl_int v = INT_MAX;
    cl_int e = clEnqueueReadBuffer(d->queue, d->err, CL_TRUE, 0, sizeof v, &v, 0, NULL, NULL);
    if (e != CL_SUCCESS) return lt_ocl_fail(e, "clEnqueueReadBuffer (error flag)");
    *bad = v == INT_MAX ? -1 : (int64_t)v;
    return LT_OK;
}

lt_status lt_ocl_check_ids(lt_device *dev, const lt_tensor *ids, int64_t n, int32_t lo,
                           int32_t hi, int64_t *bad) {
    *bad = -1;
    if (n <= 0) return LT_OK;
    LT_TRY(lt_ocl_err_reset(dev));
    cl_mem err = lt_ocl_dev(dev)->err;
    LT_TRY(lt_ocl_run_1d(dev, "index_check", "check_ids", (size_t)n,
                         LT_OCL_ARGS(LT_OCL_MEM(ids), LT_OCL_OFF(ids), LT_OCL_LONG(n),
                                     LT_OCL_INT(lo), LT_OCL_INT(hi), LT_OCL_CLMEM(err))));
    return lt_ocl_err_read(dev, bad);
}

int32_t lt_ocl_read_i32(lt_device *dev, const lt_tensor *t, int64_t index) {
    cl_int v = 0;
    clEnqueueReadBuffer(lt_ocl_dev(dev)->queue, lt_ocl_mem(t), CL_TRUE,
                        t->offset + (size_t)index * sizeof(cl_int), sizeof v, &v, 0, NULL, NULL);
    return v;
}

lt_status lt_ocl_scratch(lt_device *dev, size_t bytes, cl_mem *out) {
    lt_ocl_device *d = lt_ocl_dev(dev);
    if (bytes == 0) bytes = 4;
    if (d->scratch && d->scratch_bytes >= bytes) {
        *out = d->scratch;
        return LT_OK;
    }
    /* Released memory stays alive until queued kernels using it have finished. */
    if (d->scratch) clReleaseMemObject(d->scratch);
    d->scratch = NULL;
    d->scratch_bytes = 0;
    cl_int e;
    cl_mem m = clCreateBuffer(d->context, CL_MEM_READ_WRITE, bytes, NULL, &e);
    if (e != CL_SUCCESS) return lt_ocl_fail(e, "clCreateBuffer (scratch)");
    d->scratch = m;
    d->scratch_bytes = bytes;
    *out = m;
    return LT_OK;
}
