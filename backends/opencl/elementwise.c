/* backends/opencl/elementwise.c - GELU, add, scale, axpy (shaders/opencl/elementwise.cl). */
#include "ocl_common.h"

lt_status lt_ocl_gelu_fwd(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *x = call->src[0];
    lt_tensor *out = call->dst[0];
    int64_t n = lt_tensor_numel(out);
    return lt_ocl_run_1d(dev, "elementwise", "gelu_fwd", (size_t)n,
                         LT_OCL_ARGS(LT_OCL_MEM(out), LT_OCL_OFF(out), LT_OCL_MEM(x),
                                     LT_OCL_OFF(x), LT_OCL_LONG(n)));
}

lt_status lt_ocl_gelu_bwd(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *dout = call->src[0], *x = call->src[1];
    lt_tensor *dx = call->dst[0];
    int64_t n = lt_tensor_numel(dx);
    return lt_ocl_run_1d(dev, "elementwise", "gelu_bwd", (size_t)n,
                         LT_OCL_ARGS(LT_OCL_MEM(dx), LT_OCL_OFF(dx), LT_OCL_MEM(dout),
                                     LT_OCL_OFF(dout), LT_OCL_MEM(x), LT_OCL_OFF(x),
                                     LT_OCL_LONG(n)));
}

lt_status lt_ocl_add(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *a = call->src[0], *b = call->src[1];
    lt_tensor *out = call->dst[0];
    int64_t n = lt_tensor_numel(out);
    return lt_ocl_run_1d(dev, "elementwise", "add", (size_t)n,
                         LT_OCL_ARGS(LT_OCL_MEM(out), LT_OCL_OFF(out), LT_OCL_MEM(a),
                                     LT_OCL_OFF(a), LT_OCL_MEM(b), LT_OCL_OFF(b), LT_OCL_LONG(n)));
}

lt_status lt_ocl_scale(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *x = call->src[0];
    lt_tensor *out = call->dst[0];
    int64_t n = lt_tensor_numel(out);
    return lt_ocl_run_1d(dev, "elementwise", "scale", (size_t)n,
                         LT_OCL_ARGS(LT_OCL_MEM(out), LT_OCL_OFF(out), LT_OCL_MEM(x),
                                     LT_OCL_OFF(x), LT_OCL_FLOAT(call->p.scalar.alpha),
                                     LT_OCL_LONG(n)));
}

lt_status lt_ocl_axpy(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *x = call->src[0];
    lt_tensor *y = call->dst[0];
    int64_t n = lt_tensor_numel(y);
    return lt_ocl_run_1d(dev, "elementwise", "axpy", (size_t)n,
                         LT_OCL_ARGS(LT_OCL_MEM(y), LT_OCL_OFF(y), LT_OCL_MEM(x), LT_OCL_OFF(x),
                                     LT_OCL_FLOAT(call->p.scalar.alpha), LT_OCL_LONG(n)));
}
