/* backends/vulkan/cross_entropy.c - fused softmax cross-entropy + gradient
 * (cross_entropy.comp, one work group per row). */
#include <stdio.h>
#include <string.h>

#include "vk_internal.h"

lt_status lt_vk_cross_entropy(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *logits = call->src[0], *targets = call->src[1], *weights = call->src[2];
    lt_tensor *losses = call->dst[0], *dlogits = call->dst[1];
    LT_TRY(lt_vk_need_f32(call, logits, "logits"));
    int64_t V = logits->shape[logits->ndim - 1];
    int64_t N = V ? lt_tensor_numel(logits) / V : 0;
    if (N == 0) return LT_OK;
    struct {
        uint32_t N, V, l_off, t_off, w_off, loss_off, dl_off, flags;
        float grad_scale;
    } pc = {(uint32_t)N, (uint32_t)V, 0, 0, 0, 0, 0,
            (weights ? 1u : 0u) | (dlogits ? 2u : 0u), call->p.ce.grad_scale};
    lt_vk_pass p;
    lt_vk_pass_begin(&p, dev, LT_VK_SHADER_CROSS_ENTROPY);
    pc.l_off = lt_vk_arg(&p, logits, LT_VK_READ) / 4;
    pc.t_off = lt_vk_arg(&p, targets, LT_VK_READ) / 4;
    pc.w_off = lt_vk_arg(&p, weights, LT_VK_READ) / 4;
    pc.loss_off = lt_vk_arg(&p, losses, LT_VK_WRITE) / 4;
    /* Without dlogits the (unwritten) binding gets losses rather than the shared dummy,
     * so no two dispatches ever bind the dummy to a writable slot. */
    pc.dl_off = lt_vk_arg(&p, dlogits ? dlogits : losses, LT_VK_WRITE) / 4;
    char why[64];
    snprintf(why, sizeof why, "is outside [0, %lld)", (long long)V);
    lt_vk_pass_errors(&p, "cross_entropy: target", "row", why);
    memcpy(p.push, &pc, sizeof pc);
    lt_vk_grid(&p, (uint64_t)N);
    return lt_vk_pass_run(&p);
}
