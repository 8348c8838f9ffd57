/* backends/ref/fill_copy.c - fill, copy and cast as plain element loops.
 *
 * copy moves each element's bytes unchanged: converting through double would be exact
 * for finite values but could rewrite NaN payloads, and a copy must be bit-exact.
 * cast goes through double, so f64 -> bf16/f16 rounds twice (to f32, then to 16 bits),
 * the same as the cpu backend does. */
#include <math.h>

#include "ref_common.h"

/* Integer dtypes take the value truncated toward zero; refuse what does not fit
 * (a C conversion of an out-of-range double is undefined). */
static lt_status fill_value_fits(lt_dtype t, double v) {
    if (t == LT_I32 && !(v > -2147483649.0 && v < 2147483648.0))
        return lt_error(LT_ERR_RANGE, "fill: value %g does not fit in i32", v);
    if (t == LT_U8 && !(v > -1.0 && v < 256.0))
        return lt_error(LT_ERR_RANGE, "fill: value %g does not fit in u8", v);
    return LT_OK;
}

lt_status lt_ref_fill(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    lt_tensor *dst = call->dst[0];
    const double v = call->p.fill.value;
    LT_TRY(fill_value_fits(dst->dtype, v));
    const int64_t n = lt_tensor_numel(dst);
    for (int64_t i = 0; i < n; i++) lt_ref_st(dst, lt_ref_lin(dst, i), v);
    return LT_OK;
}

lt_status lt_ref_copy(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *src = call->src[0];
    lt_tensor *dst = call->dst[0];
    const size_t es = lt_dtype_size(src->dtype);
    const char *s = lt_cpu_ptr(src);
    char *d = lt_cpu_ptr(dst);
    const int64_t n = lt_tensor_numel(dst);
    for (int64_t i = 0; i < n; i++)
        memcpy(d + lt_ref_lin(dst, i) * (int64_t)es, s + lt_ref_lin(src, i) * (int64_t)es, es);
    return LT_OK;
}

lt_status lt_ref_cast(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *src = call->src[0];
    lt_tensor *dst = call->dst[0];
    const int64_t n = lt_tensor_numel(dst);
    for (int64_t i = 0; i < n; i++) lt_ref_st(dst, lt_ref_lin(dst, i), lt_ref_ld(src, lt_ref_lin(src, i)));
    return LT_OK;
}
