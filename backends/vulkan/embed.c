/* backends/vulkan/embed.c - token / position embeddings and their gradient.
 * embed_fwd.comp (also pos_embed_fwd, accumulating) and embed_bwd.comp (deterministic:
 * one invocation per column walks the tokens in order). */
#include <stdio.h>
#include <string.h>

#include "vk_internal.h"

static lt_status lt_vk_embed_like(lt_device *dev, const lt_op_call *call, int accumulate,
                                  const char *what) {
    const lt_tensor *ids = call->src[0], *table = call->src[1];
    lt_tensor *out = call->dst[0];
    LT_TRY(lt_vk_need_f32(call, table, "table"));
    int64_t N = lt_tensor_numel(ids), D = table->shape[1], V = table->shape[0];
    if (N == 0 || D == 0) return LT_OK;
    LT_TRY(lt_vk_check_u32(lt_op_name(call->op), "elements", N * D));
    struct {
        uint32_t N, D, V, ids_off, tab_off, out_off, accumulate;
    } pc = {(uint32_t)N, (uint32_t)D, (uint32_t)V, 0, 0, 0, (uint32_t)(accumulate != 0)};
    lt_vk_pass p;
    lt_vk_pass_begin(&p, dev, LT_VK_SHADER_EMBED_FWD);
    pc.ids_off = lt_vk_arg(&p, ids, LT_VK_READ) / 4;
    pc.tab_off = lt_vk_arg(&p, table, LT_VK_READ) / 4;
    pc.out_off = lt_vk_arg(&p, out, LT_VK_WRITE) / 4;
    char why[64];
    snprintf(why, sizeof why, "is outside [0, %lld)", (long long)V);
    lt_vk_pass_errors(&p, what, "position", why);
    memcpy(p.push, &pc, sizeof pc);
    lt_vk_grid(&p, lt_vk_div_up((uint64_t)(N * D), 256));
    return lt_vk_pass_run(&p);
}

lt_status lt_vk_embed_fwd(lt_device *dev, const lt_op_call *call) {
    return lt_vk_embed_like(dev, call, call->p.embed.accumulate, "embed_fwd: token");
}

lt_status lt_vk_pos_embed_fwd(lt_device *dev, const lt_op_call *call) {
    return lt_vk_embed_like(dev, call, 1, "pos_embed_fwd: position id");
}

lt_status lt_vk_embed_bwd(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *ids = call->src[0], *dout = call->src[1];
    lt_tensor *dtable = call->dst[0];
    LT_TRY(lt_vk_need_f32(call, dout, "dout"));
    int64_t N = lt_tensor_numel(ids), D = dtable->shape[1], V = dtable->shape[0];
    if (N == 0 || D == 0) return LT_OK;
    LT_TRY(lt_vk_check_u32("embed_bwd", "elements", N * D));
    /* Each invocation walks the tokens of one dispatch in order; a long token list is
     * split over several dispatches (run in order, each adding to dtable), which keeps
     * the walk short (lavapipe stops loops after 65535 iterations) and the sum order the
     * same. */
    const int64_t chunk = 16384;
    for (int64_t n0 = 0; n0 < N; n0 += chunk) {
        int64_t n = N - n0 < chunk ? N - n0 : chunk;
        struct {
            uint32_t N, D, V, ids_off, dout_off, dt_off, n0;
        } pc = {(uint32_t)n, (uint32_t)D, (uint32_t)V, 0, 0, 0, (uint32_t)n0};
        lt_vk_pass p;
        lt_vk_pass_begin(&p, dev, LT_VK_SHADER_EMBED_BWD);
        pc.ids_off = lt_vk_arg(&p, ids, LT_VK_READ) / 4 + (uint32_t)n0;
        pc.dout_off = lt_vk_arg(&p, dout, LT_VK_READ) / 4 + (uint32_t)(n0 * D);
        pc.dt_off = lt_vk_arg(&p, dtable, LT_VK_WRITE) / 4;
        char why[64];
        snprintf(why, sizeof why, "is outside [0, %lld)", (long long)V);
        lt_vk_pass_errors(&p, "embed_bwd: token", "position", why);
        memcpy(p.push, &pc, sizeof pc);
        lt_vk_grid(&p, lt_vk_div_up((uint64_t)D, 64));
        LT_TRY(lt_vk_pass_run(&p));
    }
    return LT_OK;
}
