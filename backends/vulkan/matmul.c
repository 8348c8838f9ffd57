/* backends/vulkan/matmul.c - batched GEMM (matmul.comp: 64x64 tiles in shared memory).
 * bf16/f16 operands (C half or f32) run on the same f32 shader through f32 scratch
 * (core/op_f32_staging.c: copy.comp gathers strided half views, cast.comp converts). */
#include <string.h>

#include "op_f32_staging.h"
#include "vk_internal.h"

lt_status lt_vk_matmul(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *a = call->src[0], *b = call->src[1];
    lt_tensor *c = call->dst[0];
    if (lt_op_has_half(call)) return lt_op_run_staged_f32(dev, call, NULL);
    LT_TRY(lt_vk_need_f32(call, a, "a"));
    const lt_matmul_params *mp = &call->p.matmul;
    int ra = a->ndim - 2, rb = b->ndim - 2, rc = c->ndim - 2;
    int64_t M = c->shape[rc], N = c->shape[rc + 1];
    int64_t K = mp->trans_a ? a->shape[ra] : a->shape[ra + 1];
    int64_t batch = c->ndim == 3 ? c->shape[0] : 1;
    if (M == 0 || N == 0 || batch == 0) return LT_OK;
    LT_TRY(lt_vk_check_u32("matmul", "K", K));
    struct {
        uint32_t M, N, K;
        uint32_t a_off, a_bs, a_rs;
        uint32_t b_off, b_bs, b_rs;
        uint32_t c_off, c_bs, c_rs;
        uint32_t flags;
        float alpha;
    } pc;
    pc.M = (uint32_t)M;
    pc.N = (uint32_t)N;
    pc.K = (uint32_t)K;
    /* A batch of 1 broadcasts: batch stride 0. */
    pc.a_bs = a->ndim == 3 && a->shape[0] > 1 ? (uint32_t)a->stride[0] : 0u;
    pc.b_bs = b->ndim == 3 && b->shape[0] > 1 ? (uint32_t)b->stride[0] : 0u;
    pc.c_bs = c->ndim == 3 && c->shape[0] > 1 ? (uint32_t)c->stride[0] : 0u;
    pc.a_rs = (uint32_t)a->stride[ra];
    pc.b_rs = (uint32_t)b->stride[rb];
    pc.c_rs = (uint32_t)c->stride[rc];
    pc.flags = (mp->trans_a ? 1u : 0u) | (mp->trans_b ? 2u : 0u) | (mp->accumulate ? 4u : 0u);
    pc.alpha = mp->alpha;
    lt_vk_pass p;
    lt_vk_pass_begin(&p, dev, LT_VK_SHADER_MATMUL);
    pc.a_off = lt_vk_arg(&p, a, LT_VK_READ) / 4;
    pc.b_off = lt_vk_arg(&p, b, LT_VK_READ) / 4;
    pc.c_off = lt_vk_arg(&p, c, LT_VK_WRITE) / 4;
    memcpy(p.push, &pc, sizeof pc);
    p.groups[0] = (uint32_t)lt_vk_div_up((uint64_t)N, 64);
    p.groups[1] = (uint32_t)lt_vk_div_up((uint64_t)M, 64);
    p.groups[2] = (uint32_t)batch;
    return lt_vk_pass_run(&p);
}
