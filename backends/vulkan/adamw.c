/* backends/vulkan/adamw.c - AdamW step (adamw.comp) and the deterministic sum of squares
 * (sumsq_partial.comp + sumsq_final.comp: fixed 4096-element chunks, fixed trees). */
#include <math.h>
#include <string.h>

#include "vk_internal.h"

lt_status lt_vk_adamw(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *grad = call->src[0], *mask = call->src[1];
    lt_tensor *param = call->dst[0], *m = call->dst[1], *v = call->dst[2];
    LT_TRY(lt_vk_need_f32(call, param, "param"));
    const lt_adamw_params *ap = &call->p.adamw;
    int64_t n = lt_tensor_numel(param);
    if (n == 0) return LT_OK;
    LT_TRY(lt_vk_check_u32("adamw", "elements", n));
    struct {
        uint32_t n, g_off, mask_off, p_off, m_off, v_off, has_mask;
        float lr, b1, b2, eps, wd, gs, bc1, bc2;
    } pc = {(uint32_t)n, 0, 0, 0, 0, 0, mask != NULL,
            ap->lr, ap->beta1, ap->beta2, ap->eps, ap->weight_decay, ap->grad_scale,
            (float)(1.0 - pow((double)ap->beta1, (double)ap->step)),
            (float)(1.0 - pow((double)ap->beta2, (double)ap->step))};
    lt_vk_pass p;
    lt_vk_pass_begin(&p, dev, LT_VK_SHADER_ADAMW);
    pc.g_off = lt_vk_arg(&p, grad, LT_VK_READ) / 4;
    pc.mask_off = lt_vk_arg(&p, mask, LT_VK_READ); /* bytes: the mask is u8 */
    pc.p_off = lt_vk_arg(&p, param, LT_VK_WRITE) / 4;
    pc.m_off = lt_vk_arg(&p, m, LT_VK_WRITE) / 4;
    pc.v_off = lt_vk_arg(&p, v, LT_VK_WRITE) / 4;
    memcpy(p.push, &pc, sizeof pc);
    lt_vk_grid(&p, lt_vk_div_up((uint64_t)n, 256));
    return lt_vk_pass_run(&p);
}

lt_status lt_vk_sumsq(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *x = call->src[0];
    lt_tensor *out = call->dst[0];
    LT_TRY(lt_vk_need_f32(call, x, "x"));
    int64_t n = lt_tensor_numel(x);
    LT_TRY(lt_vk_check_u32("sumsq", "elements", n));
    uint64_t nparts = lt_vk_div_up((uint64_t)n, 4096);
    lt_vk_mem *part;
    LT_TRY(lt_vk_scratch(dev, (nparts ? nparts : 1) * 4, &part));
    lt_vk_pass p;
    lt_status s = LT_OK;
    if (nparts) {
        struct {
            uint32_t n, x_off;
        } pc = {(uint32_t)n, 0};
        lt_vk_pass_begin(&p, dev, LT_VK_SHADER_SUMSQ_PARTIAL);
        pc.x_off = lt_vk_arg(&p, x, LT_VK_READ) / 4;
        lt_vk_arg_mem(&p, part, LT_VK_WRITE);
        memcpy(p.push, &pc, sizeof pc);
        lt_vk_grid(&p, nparts);
        s = lt_vk_pass_run(&p);
    }
    if (s == LT_OK) {
        struct {
            uint32_t nparts, out_off;
        } pf = {(uint32_t)nparts, 0};
        lt_vk_pass_begin(&p, dev, LT_VK_SHADER_SUMSQ_FINAL);
        lt_vk_arg_mem(&p, part, LT_VK_READ);
        pf.out_off = lt_vk_arg(&p, out, LT_VK_WRITE) / 4;
        memcpy(p.push, &pf, sizeof pf);
        s = lt_vk_pass_run(&p);
    }
    lt_vk_mem_release(lt_vk(dev), part);
    return s;
}
