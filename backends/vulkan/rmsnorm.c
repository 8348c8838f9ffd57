/* backends/vulkan/rmsnorm.c - RMSNorm forward and backward (rmsnorm_*.comp). */
#include <string.h>

#include "vk_internal.h"

lt_status lt_vk_rmsnorm_fwd(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *x = call->src[0], *w = call->src[1];
    lt_tensor *out = call->dst[0], *rstd = call->dst[1];
    LT_TRY(lt_vk_need_f32(call, x, "x"));
    int64_t D = x->ndim ? x->shape[x->ndim - 1] : 1;
    int64_t N = D ? lt_tensor_numel(x) / D : 0;
    if (N == 0) return LT_OK;
    struct {
        uint32_t N, D, x_off, w_off, out_off, rstd_off;
        float eps;
    } pc = {(uint32_t)N, (uint32_t)D, 0, 0, 0, 0, call->p.rmsnorm.eps};
    lt_vk_pass p;
    lt_vk_pass_begin(&p, dev, LT_VK_SHADER_RMSNORM_FWD);
    pc.x_off = lt_vk_arg(&p, x, LT_VK_READ) / 4;
    pc.w_off = lt_vk_arg(&p, w, LT_VK_READ) / 4;
    pc.out_off = lt_vk_arg(&p, out, LT_VK_WRITE) / 4;
    pc.rstd_off = lt_vk_arg(&p, rstd, LT_VK_WRITE) / 4;
    memcpy(p.push, &pc, sizeof pc);
    lt_vk_grid(&p, (uint64_t)N);
    return lt_vk_pass_run(&p);
}

lt_status lt_vk_rmsnorm_bwd(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *g = call->src[0], *x = call->src[1], *w = call->src[2], *rstd = call->src[3];
    lt_tensor *dx = call->dst[0], *dw = call->dst[1];
    LT_TRY(lt_vk_need_f32(call, x, "x"));
    int64_t D = x->ndim ? x->shape[x->ndim - 1] : 1;
    int64_t N = D ? lt_tensor_numel(x) / D : 0;
    if (N == 0) return LT_OK;

    struct {
        uint32_t N, D, g_off, x_off, w_off, rstd_off, dx_off, accumulate;
    } pd = {(uint32_t)N, (uint32_t)D, 0, 0, 0, 0, 0, (uint32_t)(call->p.rmsnorm.accumulate_dx != 0)};
    lt_vk_pass p;
    lt_vk_pass_begin(&p, dev, LT_VK_SHADER_RMSNORM_BWD_DX);
    pd.g_off = lt_vk_arg(&p, g, LT_VK_READ) / 4;
    pd.x_off = lt_vk_arg(&p, x, LT_VK_READ) / 4;
    pd.w_off = lt_vk_arg(&p, w, LT_VK_READ) / 4;
    pd.rstd_off = lt_vk_arg(&p, rstd, LT_VK_READ) / 4;
    pd.dx_off = lt_vk_arg(&p, dx, LT_VK_WRITE) / 4;
    memcpy(p.push, &pd, sizeof pd);
    lt_vk_grid(&p, (uint64_t)N);
    LT_TRY(lt_vk_pass_run(&p));

    /* dw: rows in chunks of 8 * 8192 per dispatch, so each lane loops at most 8192 times
     * (lavapipe stops loops after 65535 iterations); chunks add to dw in order. */
    const int64_t chunk = 8 * 8192;
    for (int64_t n0 = 0; n0 < N; n0 += chunk) {
        int64_t n = N - n0 < chunk ? N - n0 : chunk;
        struct {
            uint32_t N, D, g_off, x_off, rstd_off, dw_off;
        } pw = {(uint32_t)n, (uint32_t)D, 0, 0, 0, 0};
        lt_vk_pass_begin(&p, dev, LT_VK_SHADER_RMSNORM_BWD_DW);
        pw.g_off = lt_vk_arg(&p, g, LT_VK_READ) / 4 + (uint32_t)(n0 * D);
        pw.x_off = lt_vk_arg(&p, x, LT_VK_READ) / 4 + (uint32_t)(n0 * D);
        pw.rstd_off = lt_vk_arg(&p, rstd, LT_VK_READ) / 4 + (uint32_t)n0;
        pw.dw_off = lt_vk_arg(&p, dw, LT_VK_WRITE) / 4;
        memcpy(p.push, &pw, sizeof pw);
        p.groups[0] = (uint32_t)lt_vk_div_up((uint64_t)D, 32);
        LT_TRY(lt_vk_pass_run(&p));
    }
    return LT_OK;
}
