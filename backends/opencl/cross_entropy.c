/* backends/opencl/cross_entropy.c - fused softmax cross-entropy and its gradient
 * (shaders/opencl/cross_entropy.cl). Targets of weighted rows are checked on the device
 * first; a bad one fails with RANGE naming its row and nothing is written. */
#include "ocl_common.h"

lt_status lt_ocl_cross_entropy(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *logits = call->src[0], *targets = call->src[1], *weights = call->src[2];
    lt_tensor *losses = call->dst[0], *dlogits = call->dst[1];
    int64_t V = logits->shape[logits->ndim - 1];
    int64_t N = V ? lt_tensor_numel(logits) / V : lt_tensor_numel(targets);
    if (N == 0) return LT_OK;
    if (V > INT32_MAX)
        return lt_error(LT_ERR_UNSUPPORTED, "cross_entropy: a vocabulary of %lld exceeds 2^31", (long long)V);

    LT_TRY(lt_ocl_err_reset(dev));
    cl_mem err = lt_ocl_dev(dev)->err;
    LT_TRY(lt_ocl_run_1d(dev, "index_check", "check_targets", (size_t)N,
                         LT_OCL_ARGS(LT_OCL_MEM(targets), LT_OCL_OFF(targets), LT_OCL_MEM(weights),
                                     LT_OCL_OFF(weights), LT_OCL_INT(weights != NULL),
                                     LT_OCL_LONG(N), LT_OCL_INT(V), LT_OCL_CLMEM(err))));
    int64_t bad;
    LT_TRY(lt_ocl_err_read(dev, &bad));
    if (bad >= 0)
        return lt_error(LT_ERR_RANGE, "cross_entropy: targets[%lld] = %d is outside the vocabulary of %lld",
                        (long long)bad, (int)lt_ocl_read_i32(dev, targets, bad), (long long)V);

    size_t wg = (size_t)lt_ocl_dev(dev)->wg, global = (size_t)N * wg;
    return lt_ocl_run(dev, "cross_entropy", NULL, "cross_entropy", 1, &global, &wg,
                      LT_OCL_ARGS(LT_OCL_MEM(losses), LT_OCL_OFF(losses), LT_OCL_MEM(dlogits),
                                  LT_OCL_OFF(dlogits), LT_OCL_INT(dlogits != NULL),
                                  LT_OCL_MEM(logits), LT_OCL_OFF(logits), LT_OCL_MEM(targets),
                                  LT_OCL_OFF(targets), LT_OCL_MEM(weights), LT_OCL_OFF(weights),
                                  LT_OCL_INT(weights != NULL), LT_OCL_LONG(V),
                                  LT_OCL_FLOAT(call->p.ce.grad_scale)));
}
