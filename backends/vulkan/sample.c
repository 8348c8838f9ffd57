/* backends/vulkan/sample.c - token sampling by the rule of loretta/rng.h (sample.comp). */
#include <string.h>

#include "vk_internal.h"

lt_status lt_vk_sample(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *logits = call->src[0], *ids = call->src[1];
    lt_tensor *tokens = call->dst[0];
    LT_TRY(lt_vk_need_f32(call, logits, "logits"));
    const lt_sample_params *sp = &call->p.sample;
    int64_t B = logits->shape[0], V = logits->shape[1];
    if (B == 0) return LT_OK;
    struct {
        uint32_t B, V, l_off, ids_off, tok_off, has_ids;
        uint32_t seed_lo, seed_hi, step_lo, step_hi;
        float temperature;
        uint32_t top_k, lo, hi;
    } pc = {(uint32_t)B, (uint32_t)V, 0, 0, 0, ids != NULL,
            (uint32_t)sp->seed, (uint32_t)(sp->seed >> 32),
            (uint32_t)sp->step, (uint32_t)(sp->step >> 32),
            sp->temperature, (uint32_t)sp->top_k, (uint32_t)sp->range_lo, (uint32_t)sp->range_hi};
    /* Scratch per row: the kept token indices and their running sums (2 words each). */
    uint64_t ncand = (uint64_t)(sp->range_hi - sp->range_lo);
    uint64_t words = sp->temperature == 0.0f ? 1 : (uint64_t)B * 2 * ncand;
    LT_TRY(lt_vk_check_u32("sample", "scratch words", (int64_t)words));
    lt_vk_mem *scratch;
    LT_TRY(lt_vk_scratch(dev, words * 4, &scratch));
    lt_vk_pass p;
    lt_vk_pass_begin(&p, dev, LT_VK_SHADER_SAMPLE);
    pc.l_off = lt_vk_arg(&p, logits, LT_VK_READ) / 4;
    pc.ids_off = lt_vk_arg(&p, ids, LT_VK_READ) / 4;
    pc.tok_off = lt_vk_arg(&p, tokens, LT_VK_WRITE) / 4;
    lt_vk_arg_mem(&p, scratch, LT_VK_WRITE);
    memcpy(p.push, &pc, sizeof pc);
    lt_vk_grid(&p, (uint64_t)B);
    lt_status s = lt_vk_pass_run(&p);
    lt_vk_mem_release(lt_vk(dev), scratch);
    return s;
}
