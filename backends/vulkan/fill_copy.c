/* backends/vulkan/fill_copy.c - fill, copy (any strides, any dtype) and cast.
 * Shaders: fill.comp, copy.comp, cast.comp. They move bits through 32-bit words, so
 * every dtype works without the optional 8/16-bit storage features. */
#include <math.h>
#include <string.h>

#include "vk_internal.h"

/* The bit pattern the reference backend would store for `value` (saturating where C's
 * conversion would be undefined). */
static void lt_vk_value_bits(lt_dtype t, double value, uint32_t *lo, uint32_t *hi) {
    *lo = *hi = 0;
    switch (t) {
    case LT_F32: {
        float f = (float)value;
        memcpy(lo, &f, 4);
        break;
    }
    case LT_F64: {
        uint64_t u;
        memcpy(&u, &value, 8);
        *lo = (uint32_t)u;
        *hi = (uint32_t)(u >> 32);
        break;
    }
    case LT_BF16: *lo = lt_f32_to_bf16((float)value); break;
    case LT_F16: *lo = lt_f32_to_f16((float)value); break;
    case LT_I32: {
        int32_t i = isnan(value) ? 0
                    : value >= 2147483647.0 ? INT32_MAX
                    : value <= -2147483648.0 ? INT32_MIN
                    : (int32_t)value;
        memcpy(lo, &i, 4);
        break;
    }
    case LT_U8:
        *lo = isnan(value) || value <= 0.0 ? 0u : value >= 255.0 ? 255u : (uint32_t)(uint8_t)value;
        break;
    default: break;
    }
}

static lt_status lt_vk_check_alignment(const lt_op_call *call, const lt_tensor *t, const char *arg) {
    size_t es = lt_dtype_size(t->dtype);
    if (t->offset % (es < 4 ? es : 4) != 0)
        return lt_error(LT_ERR_UNSUPPORTED, "%s: %s starts at byte %zu, not a multiple of its "
                        "element size", lt_op_name(call->op), arg, t->offset);
    return LT_OK;
}

lt_status lt_vk_fill(lt_device *dev, const lt_op_call *call) {
    lt_tensor *dst = call->dst[0];
    int64_t n = lt_tensor_numel(dst);
    if (n == 0) return LT_OK;
    LT_TRY(lt_vk_check_u32("fill", "elements", n));
    LT_TRY(lt_vk_check_alignment(call, dst, "dst"));
    struct {
        uint32_t n, off, esize, lo, hi;
    } pc = {(uint32_t)n, 0, (uint32_t)lt_dtype_size(dst->dtype), 0, 0};
    lt_vk_value_bits(dst->dtype, call->p.fill.value, &pc.lo, &pc.hi);
    lt_vk_pass p;
    lt_vk_pass_begin(&p, dev, LT_VK_SHADER_FILL);
    pc.off = lt_vk_arg(&p, dst, LT_VK_WRITE);
    memcpy(p.push, &pc, sizeof pc);
    lt_vk_grid(&p, lt_vk_div_up((uint64_t)n, 256));
    return lt_vk_pass_run(&p);
}

lt_status lt_vk_copy(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *src = call->src[0];
    lt_tensor *dst = call->dst[0];
    int64_t n = lt_tensor_numel(dst);
    if (n == 0) return LT_OK;
    LT_TRY(lt_vk_check_u32("copy", "elements", n));
    LT_TRY(lt_vk_check_alignment(call, src, "src"));
    LT_TRY(lt_vk_check_alignment(call, dst, "dst"));
    struct {
        uint32_t n, esize, soff, doff;
        uint32_t shape[4], sstride[4], dstride[4];
    } pc;
    memset(&pc, 0, sizeof pc);
    pc.n = (uint32_t)n;
    pc.esize = (uint32_t)lt_dtype_size(dst->dtype);
    /* Right-align the dims into 4; a dim of size 1 contributes nothing, whatever its stride. */
    int pad = LT_MAX_DIMS - dst->ndim;
    for (int k = 0; k < LT_MAX_DIMS; k++) {
        int d = k - pad;
        pc.shape[k] = d >= 0 ? (uint32_t)dst->shape[d] : 1u;
        pc.sstride[k] = d >= 0 && src->shape[d] > 1 ? (uint32_t)src->stride[d] : 0u;
        pc.dstride[k] = d >= 0 && dst->shape[d] > 1 ? (uint32_t)dst->stride[d] : 0u;
    }
    lt_vk_pass p;
    lt_vk_pass_begin(&p, dev, LT_VK_SHADER_COPY);
    pc.soff = lt_vk_arg(&p, src, LT_VK_READ);
    pc.doff = lt_vk_arg(&p, dst, LT_VK_WRITE);
    memcpy(p.push, &pc, sizeof pc);
    lt_vk_grid(&p, lt_vk_div_up((uint64_t)n, 256));
    return lt_vk_pass_run(&p);
}

lt_status lt_vk_cast(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *src = call->src[0];
    lt_tensor *dst = call->dst[0];
    int64_t n = lt_tensor_numel(dst);
    if (n == 0) return LT_OK;
    LT_TRY(lt_vk_check_u32("cast", "elements", n));
    LT_TRY(lt_vk_check_alignment(call, src, "src"));
    LT_TRY(lt_vk_check_alignment(call, dst, "dst"));
    struct {
        uint32_t n, soff, doff, stype, dtype;
    } pc = {(uint32_t)n, 0, 0, (uint32_t)src->dtype, (uint32_t)dst->dtype};
    lt_vk_pass p;
    lt_vk_pass_begin(&p, dev, LT_VK_SHADER_CAST);
    pc.soff = lt_vk_arg(&p, src, LT_VK_READ);
    pc.doff = lt_vk_arg(&p, dst, LT_VK_WRITE);
    memcpy(p.push, &pc, sizeof pc);
    lt_vk_grid(&p, lt_vk_div_up((uint64_t)n, 256));
    return lt_vk_pass_run(&p);
}
