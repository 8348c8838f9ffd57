/* backends/opencl/adamw.c - the AdamW step and the deterministic sum of squares
 * (shaders/opencl/adamw.cl). */
#include <math.h>

#include "ocl_common.h"

lt_status lt_ocl_adamw(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *grad = call->src[0], *mask = call->src[1];
    lt_tensor *param = call->dst[0], *m = call->dst[1], *v = call->dst[2];
    const lt_adamw_params *p = &call->p.adamw;
    int64_t n = lt_tensor_numel(param);
    /* In double: beta^step for large steps underflows gracefully to 0 (bc -> 1). */
    float bc1 = (float)(1.0 - pow((double)p->beta1, (double)p->step));
    float bc2 = (float)(1.0 - pow((double)p->beta2, (double)p->step));
    return lt_ocl_run_1d(dev, "adamw", "adamw", (size_t)n,
                         LT_OCL_ARGS(LT_OCL_MEM(param), LT_OCL_OFF(param), LT_OCL_MEM(m),
                                     LT_OCL_OFF(m), LT_OCL_MEM(v), LT_OCL_OFF(v), LT_OCL_MEM(grad),
                                     LT_OCL_OFF(grad), LT_OCL_MEM(mask), LT_OCL_OFF(mask),
                                     LT_OCL_INT(mask != NULL), LT_OCL_LONG(n), LT_OCL_FLOAT(p->lr),
                                     LT_OCL_FLOAT(p->beta1), LT_OCL_FLOAT(p->beta2),
                                     LT_OCL_FLOAT(p->eps), LT_OCL_FLOAT(p->weight_decay),
                                     LT_OCL_FLOAT(p->grad_scale), LT_OCL_FLOAT(bc1),
                                     LT_OCL_FLOAT(bc2)));
}

/* Partial sums per group, then one group over the partials. The group count depends on
 * n only (and the device's work-group size), never on timing. */
#define LT_OCL_SUMSQ_GROUPS 256

lt_status lt_ocl_sumsq(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *x = call->src[0];
    lt_tensor *out = call->dst[0];
    int64_t n = lt_tensor_numel(x);
    size_t wg = (size_t)lt_ocl_dev(dev)->wg;
    size_t groups = ((size_t)n + wg - 1) / wg;
    if (groups > LT_OCL_SUMSQ_GROUPS) groups = LT_OCL_SUMSQ_GROUPS;
    if (groups == 0) groups = 1;
    cl_mem partial;
    LT_TRY(lt_ocl_scratch(dev, groups * sizeof(float), &partial));
    size_t global = groups * wg;
    LT_TRY(lt_ocl_run(dev, "adamw", NULL, "sumsq_partial", 1, &global, &wg,
                      LT_OCL_ARGS(LT_OCL_CLMEM(partial), LT_OCL_MEM(x), LT_OCL_OFF(x),
                                  LT_OCL_LONG(n))));
    return lt_ocl_run(dev, "adamw", NULL, "sumsq_final", 1, &wg, &wg,
                      LT_OCL_ARGS(LT_OCL_MEM(out), LT_OCL_OFF(out), LT_OCL_CLMEM(partial),
                                  LT_OCL_INT(groups)));
}
