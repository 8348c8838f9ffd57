/* core/op_f32_staging.c - half operands of matmul / attention through f32 scratch
 * (see op_f32_staging.h for why this is the contract's arithmetic exactly). */
#include <string.h>

#include "op_f32_staging.h"

static int is_half(const lt_tensor *t) { return t && (t->dtype == LT_BF16 || t->dtype == LT_F16); }

int lt_op_has_half(const lt_op_call *call) {
    for (int i = 0; i < LT_MAX_SRC; i++)
        if (is_half(call->src[i])) return 1;
    for (int i = 0; i < LT_MAX_DST; i++)
        if (is_half(call->dst[i])) return 1;
    return 0;
}

/* The default conversion: lt_cast converts contiguous tensors only, lt_copy moves any
 * strides within one dtype, so a strided half view goes through a contiguous half copy. */
static lt_status convert_public(lt_device *dev, lt_tensor *dst, const lt_tensor *src) {
    const lt_tensor *half_side = is_half(dst) ? dst : src;
    if (lt_tensor_is_contiguous(half_side)) return lt_cast(dst, src);
    lt_tensor packed;
    LT_TRY(lt_tensor_alloc(dev, half_side->dtype, half_side->ndim, half_side->shape, &packed));
    lt_status s;
    if (is_half(dst)) {
        s = lt_cast(&packed, src);
        if (s == LT_OK) s = lt_copy(dst, &packed);
    } else {
        s = lt_copy(&packed, src);
        if (s == LT_OK) s = lt_cast(dst, &packed);
    }
    lt_tensor_free(&packed);
    return s;
}

/* Whether the op reads dst[i] before writing it (matmul's accumulate). */
static int dst_is_read(const lt_op_call *call, int i) {
    return call->op == LT_OP_MATMUL && i == 0 && call->p.matmul.accumulate;
}

lt_status lt_op_run_staged_f32(lt_device *dev, const lt_op_call *call, lt_stage_convert_fn convert) {
    if (call->op != LT_OP_MATMUL && call->op != LT_OP_ATTN_FWD && call->op != LT_OP_ATTN_BWD)
        return lt_error(LT_ERR_INTERNAL, "%s: f32 staging serves matmul and attention only",
                        lt_op_name(call->op));
    if (!convert) convert = convert_public;
    lt_tensor src32[LT_MAX_SRC], dst32[LT_MAX_DST];
    int have_src[LT_MAX_SRC] = {0}, have_dst[LT_MAX_DST] = {0};
    lt_op_call c32 = *call;
    lt_status s = LT_OK;
    for (int i = 0; i < LT_MAX_SRC && s == LT_OK; i++) {
        const lt_tensor *t = call->src[i];
        if (!is_half(t)) continue;
        s = lt_tensor_alloc(dev, LT_F32, t->ndim, t->shape, &src32[i]);
        if (s != LT_OK) break;
        have_src[i] = 1;
        c32.src[i] = &src32[i];
        s = convert(dev, &src32[i], t);
    }
    for (int i = 0; i < LT_MAX_DST && s == LT_OK; i++) {
        lt_tensor *t = call->dst[i];
        if (!is_half(t)) continue;
        s = lt_tensor_alloc(dev, LT_F32, t->ndim, t->shape, &dst32[i]);
        if (s != LT_OK) break;
        have_dst[i] = 1;
        c32.dst[i] = &dst32[i];
        if (dst_is_read(call, i)) s = convert(dev, &dst32[i], t);
    }
    if (s == LT_OK) s = lt_op_dispatch(dev, &c32);
    for (int i = 0; i < LT_MAX_DST && s == LT_OK; i++)
        if (have_dst[i]) s = convert(dev, call->dst[i], &dst32[i]);
    for (int i = 0; i < LT_MAX_SRC; i++)
        if (have_src[i]) lt_tensor_free(&src32[i]);
    for (int i = 0; i < LT_MAX_DST; i++)
        if (have_dst[i]) lt_tensor_free(&dst32[i]);
    return s;
}
