/* backends/opencl/fill_copy.c - fill, copy and cast (shaders/opencl/fill_copy.cl). */
#include <string.h>

#include "ocl_common.h"

/* The value as the destination dtype's bytes, converted the way the reference backend
 * converts it (integers truncate toward zero and must fit). */
static lt_status fill_pattern(lt_dtype t, double v, unsigned char out[8], size_t *size) {
    *size = lt_dtype_size(t);
    switch (t) {
    case LT_F32: { float f = (float)v; memcpy(out, &f, 4); break; }
    case LT_F64: memcpy(out, &v, 8); break;
    case LT_BF16: { uint16_t h = lt_f32_to_bf16((float)v); memcpy(out, &h, 2); break; }
    case LT_F16: { uint16_t h = lt_f32_to_f16((float)v); memcpy(out, &h, 2); break; }
    case LT_I32: {
        if (!(v > -2147483649.0 && v < 2147483648.0))
            return lt_error(LT_ERR_RANGE, "fill: value %g does not fit in i32", v);
        int32_t i = (int32_t)v;
        memcpy(out, &i, 4);
        break;
    }
    case LT_U8:
        if (!(v > -1.0 && v < 256.0)) return lt_error(LT_ERR_RANGE, "fill: value %g does not fit in u8", v);
        out[0] = (unsigned char)v;
        break;
    default: return lt_error(LT_ERR_DTYPE, "fill: unknown dtype %d", (int)t);
    }
    return LT_OK;
}

lt_status lt_ocl_fill(lt_device *dev, const lt_op_call *call) {
    lt_tensor *dst = call->dst[0];
    unsigned char pat[8] = {0};
    size_t size;
    LT_TRY(fill_pattern(dst->dtype, call->p.fill.value, pat, &size));
    size_t n = (size_t)lt_tensor_numel(dst);
    static const char *const names[9] = {[1] = "fill_u8", [2] = "fill_u16", [4] = "fill_u32",
                                         [8] = "fill_u64"};
    lt_ocl_arg args[4] = {LT_OCL_MEM(dst), LT_OCL_OFF(dst), LT_OCL_LONG(n), {size, pat}};
    return lt_ocl_run_1d(dev, "fill_copy", names[size], n, 4, args);
}

/* Shape and strides of a view padded to 4 dims (leading 1s). */
static void dims4(const lt_tensor *t, cl_long shape[4], cl_long stride[4]) {
    int pad = 4 - t->ndim;
    for (int i = 0; i < 4; i++) {
        shape[i] = i < pad ? 1 : t->shape[i - pad];
        stride[i] = i < pad ? 0 : t->stride[i - pad];
    }
}

lt_status lt_ocl_copy(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *src = call->src[0];
    lt_tensor *dst = call->dst[0];
    size_t es = lt_dtype_size(src->dtype);
    int64_t n = lt_tensor_numel(dst);
    if (n == 0) return LT_OK;
    if (lt_tensor_is_contiguous(src) && lt_tensor_is_contiguous(dst)) {
        cl_int e = clEnqueueCopyBuffer(lt_ocl_dev(dev)->queue, lt_ocl_mem(src), lt_ocl_mem(dst),
                                       src->offset, dst->offset, (size_t)n * es, 0, NULL, NULL);
        return e == CL_SUCCESS ? LT_OK : lt_ocl_fail(e, "clEnqueueCopyBuffer (copy)");
    }
    cl_long sh[4], ss[4], dsh[4], ds[4];
    dims4(src, sh, ss);
    dims4(dst, dsh, ds);
    static const char *const names[9] = {[1] = "copy_u8", [2] = "copy_u16", [4] = "copy_u32",
                                         [8] = "copy_u64"};
    return lt_ocl_run_1d(dev, "fill_copy", names[es], (size_t)n,
                         LT_OCL_ARGS(LT_OCL_MEM(dst), LT_OCL_OFF(dst),
                                     LT_OCL_LONG4(ds[0], ds[1], ds[2], ds[3]), LT_OCL_MEM(src),
                                     LT_OCL_OFF(src), LT_OCL_LONG4(ss[0], ss[1], ss[2], ss[3]),
                                     LT_OCL_LONG4(sh[0], sh[1], sh[2], sh[3]), LT_OCL_LONG(n)));
}

lt_status lt_ocl_cast(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *src = call->src[0];
    lt_tensor *dst = call->dst[0];
    if (src->dtype == dst->dtype) return lt_ocl_copy(dev, call);
    if ((src->dtype == LT_F64 || dst->dtype == LT_F64) && !lt_ocl_dev(dev)->has_fp64)
        return lt_error(LT_ERR_UNSUPPORTED, "cast: opencl device %s has no doubles (cl_khr_fp64)",
                        lt_ocl_dev(dev)->name);
    int64_t n = lt_tensor_numel(dst);
    return lt_ocl_run_1d(dev, "fill_copy", "cast", (size_t)n,
                         LT_OCL_ARGS(LT_OCL_MEM(dst), LT_OCL_OFF(dst), LT_OCL_INT(dst->dtype),
                                     LT_OCL_MEM(src), LT_OCL_OFF(src), LT_OCL_INT(src->dtype),
                                     LT_OCL_LONG(n)));
}
