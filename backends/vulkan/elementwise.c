/* backends/vulkan/elementwise.c - gelu fwd/bwd, add, scale, axpy (elementwise.comp). */
#include <string.h>

#include "vk_internal.h"

enum { LT_VK_GELU_FWD = 0, LT_VK_GELU_BWD, LT_VK_ADD, LT_VK_SCALE, LT_VK_AXPY };

static lt_status lt_vk_elementwise(lt_device *dev, const lt_op_call *call, uint32_t mode,
                                   float alpha) {
    const lt_tensor *a = call->src[0], *b = call->src[1];
    lt_tensor *out = call->dst[0];
    LT_TRY(lt_vk_need_f32(call, a, "x"));
    int64_t n = lt_tensor_numel(out);
    if (n == 0) return LT_OK;
    LT_TRY(lt_vk_check_u32(lt_op_name(call->op), "elements", n));
    struct {
        uint32_t n, mode, a_off, b_off, out_off;
        float alpha;
    } pc = {(uint32_t)n, mode, 0, 0, 0, alpha};
    lt_vk_pass p;
    lt_vk_pass_begin(&p, dev, LT_VK_SHADER_ELEMENTWISE);
    pc.a_off = lt_vk_arg(&p, a, LT_VK_READ) / 4;
    pc.b_off = lt_vk_arg(&p, b ? b : a, LT_VK_READ) / 4;
    pc.out_off = lt_vk_arg(&p, out, LT_VK_WRITE) / 4;
    memcpy(p.push, &pc, sizeof pc);
    lt_vk_grid(&p, lt_vk_div_up((uint64_t)n, 256));
    return lt_vk_pass_run(&p);
}

lt_status lt_vk_gelu_fwd(lt_device *dev, const lt_op_call *call) {
    return lt_vk_elementwise(dev, call, LT_VK_GELU_FWD, 0.0f);
}

lt_status lt_vk_gelu_bwd(lt_device *dev, const lt_op_call *call) {
    return lt_vk_elementwise(dev, call, LT_VK_GELU_BWD, 0.0f);
}

lt_status lt_vk_add(lt_device *dev, const lt_op_call *call) {
    return lt_vk_elementwise(dev, call, LT_VK_ADD, 0.0f);
}

lt_status lt_vk_scale(lt_device *dev, const lt_op_call *call) {
    return lt_vk_elementwise(dev, call, LT_VK_SCALE, call->p.scalar.alpha);
}

lt_status lt_vk_axpy(lt_device *dev, const lt_op_call *call) {
    return lt_vk_elementwise(dev, call, LT_VK_AXPY, call->p.scalar.alpha);
}
