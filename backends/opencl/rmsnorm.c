/* backends/opencl/rmsnorm.c - RMSNorm forward and backward (shaders/opencl/rmsnorm.cl):
 * one work-group per row for the row sums, one item per column for dw. */
#include "ocl_common.h"

lt_status lt_ocl_rmsnorm_fwd(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *x = call->src[0], *w = call->src[1];
    lt_tensor *out = call->dst[0], *rstd = call->dst[1];
    int64_t D = lt_tensor_numel(w), N = lt_tensor_numel(rstd);
    size_t wg = (size_t)lt_ocl_dev(dev)->wg, global = (size_t)N * wg;
    return lt_ocl_run(dev, "rmsnorm", NULL, "rmsnorm_fwd", 1, &global, &wg,
                      LT_OCL_ARGS(LT_OCL_MEM(out), LT_OCL_OFF(out), LT_OCL_MEM(rstd),
                                  LT_OCL_OFF(rstd), LT_OCL_MEM(x), LT_OCL_OFF(x), LT_OCL_MEM(w),
                                  LT_OCL_OFF(w), LT_OCL_LONG(D),
                                  LT_OCL_FLOAT(call->p.rmsnorm.eps)));
}

lt_status lt_ocl_rmsnorm_bwd(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *dout = call->src[0], *x = call->src[1], *w = call->src[2],
                    *rstd = call->src[3];
    lt_tensor *dx = call->dst[0], *dw = call->dst[1];
    int64_t D = lt_tensor_numel(w), N = lt_tensor_numel(rstd);
    size_t wg = (size_t)lt_ocl_dev(dev)->wg, global = (size_t)N * wg;
    LT_TRY(lt_ocl_run(dev, "rmsnorm", NULL, "rmsnorm_bwd_dx", 1, &global, &wg,
                      LT_OCL_ARGS(LT_OCL_MEM(dx), LT_OCL_OFF(dx), LT_OCL_MEM(dout),
                                  LT_OCL_OFF(dout), LT_OCL_MEM(x), LT_OCL_OFF(x), LT_OCL_MEM(w),
                                  LT_OCL_OFF(w), LT_OCL_MEM(rstd), LT_OCL_OFF(rstd),
                                  LT_OCL_LONG(D), LT_OCL_INT(call->p.rmsnorm.accumulate_dx))));
    return lt_ocl_run_1d(dev, "rmsnorm", "rmsnorm_bwd_dw", (size_t)D,
                         LT_OCL_ARGS(LT_OCL_MEM(dw), LT_OCL_OFF(dw), LT_OCL_MEM(dout),
                                     LT_OCL_OFF(dout), LT_OCL_MEM(x), LT_OCL_OFF(x),
                                     LT_OCL_MEM(rstd), LT_OCL_OFF(rstd), LT_OCL_LONG(D),
                                     LT_OCL_LONG(N)));
}
