/* backends/opencl/sample.c - one token per row by the rule of loretta/rng.h
 * (shaders/opencl/sample.cl): one work-group per row. */
#include "ocl_common.h"

lt_status lt_ocl_sample(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *logits = call->src[0], *ids = call->src[1];
    lt_tensor *tokens = call->dst[0];
    const lt_sample_params *p = &call->p.sample;
    lt_ocl_device *d = lt_ocl_dev(dev);
    int64_t B = logits->shape[0], V = logits->shape[1];
    /* Without doubles the kernel divides in f32; it must round like the host's division. */
    const char *opts = !d->has_fp64 && d->correct_div ? "-cl-fp32-correctly-rounded-divide-sqrt" : NULL;
    size_t wg = (size_t)d->wg, global = (size_t)B * wg;
    return lt_ocl_run(dev, "sample", opts, "sample", 1, &global, &wg,
                      LT_OCL_ARGS(LT_OCL_MEM(tokens), LT_OCL_OFF(tokens), LT_OCL_MEM(logits),
                                  LT_OCL_OFF(logits), LT_OCL_LONG(V), LT_OCL_MEM(ids),
                                  LT_OCL_OFF(ids), LT_OCL_INT(ids != NULL), LT_OCL_ULONG(p->seed),
                                  LT_OCL_ULONG(p->step), LT_OCL_FLOAT(p->temperature),
                                  LT_OCL_INT(p->top_k), LT_OCL_INT(p->range_lo),
                                  LT_OCL_INT(p->range_hi)));
}
