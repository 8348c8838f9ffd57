/* backends/opencl/embed.c - embedding lookups and their gradient (shaders/opencl/embed.cl).
 * Ids are checked on the device first (index_check.cl): a bad id fails with RANGE naming
 * its position and nothing is written. */
#include "ocl_common.h"

static lt_status check(lt_device *dev, const char *op, const char *arg, const lt_tensor *ids,
                       int64_t rows) {
    int64_t bad;
    LT_TRY(lt_ocl_check_ids(dev, ids, lt_tensor_numel(ids), 0, (int32_t)rows, &bad));
    if (bad >= 0)
        return lt_error(LT_ERR_RANGE, "%s: %s[%lld] = %d is outside the table of %lld rows", op,
                        arg, (long long)bad, (int)lt_ocl_read_i32(dev, ids, bad), (long long)rows);
    return LT_OK;
}

static lt_status gather(lt_device *dev, const lt_op_call *call, const char *op, const char *arg,
                        int accumulate) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *ids = call->src[0], *table = call->src[1];
    lt_tensor *out = call->dst[0];
    int64_t V = table->shape[0], D = table->shape[1], N = lt_tensor_numel(ids);
    LT_TRY(check(dev, op, arg, ids, V));
    size_t global[2] = {(size_t)D, (size_t)N};
    return lt_ocl_run(dev, "embed", NULL, "embed_fwd", 2, global, NULL,
                      LT_OCL_ARGS(LT_OCL_MEM(out), LT_OCL_OFF(out), LT_OCL_MEM(ids),
                                  LT_OCL_OFF(ids), LT_OCL_MEM(table), LT_OCL_OFF(table),
                                  LT_OCL_LONG(D), LT_OCL_LONG(N), LT_OCL_INT(accumulate)));
}

lt_status lt_ocl_embed_fwd(lt_device *dev, const lt_op_call *call) {
    return gather(dev, call, "embed_fwd", "tokens", call->p.embed.accumulate);
}

lt_status lt_ocl_pos_embed_fwd(lt_device *dev, const lt_op_call *call) {
    return gather(dev, call, "pos_embed_fwd", "pos", 1);
}

lt_status lt_ocl_embed_bwd(lt_device *dev, const lt_op_call *call) {
    LT_TRY(lt_ocl_need_f32(call));
    const lt_tensor *ids = call->src[0], *dout = call->src[1];
    lt_tensor *dtable = call->dst[0];
    int64_t V = dtable->shape[0], D = dtable->shape[1], N = lt_tensor_numel(ids);
    LT_TRY(check(dev, "embed_bwd", "tokens", ids, V));
    return lt_ocl_run_1d(dev, "embed", "embed_bwd", (size_t)D,
                         LT_OCL_ARGS(LT_OCL_MEM(dtable), LT_OCL_OFF(dtable), LT_OCL_MEM(ids),
                                     LT_OCL_OFF(ids), LT_OCL_MEM(dout), LT_OCL_OFF(dout),
                                     LT_OCL_LONG(D), LT_OCL_LONG(N)));
}
