/* backends/cpu/adamw.c - the AdamW step and the squared norm used for gradient clipping (f32).
 *
 * AdamW is written in torch.optim.AdamW's order: decoupled decay p *= 1 - lr*wd first
 * (on the pre-step parameter), then p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t)
 * + eps). This equals the formula in loretta/ops.h exactly in real arithmetic; following
 * torch's order keeps f32 rounding close to the PyTorch runs we compare against.
 *
 * sumsq must give the same bits for every thread count (the clipping factor feeds every
 * parameter), so the sum is split into LT_SUMSQ_BLOCKS blocks fixed by the element count
 * alone; threads only decide who computes a block, never the order of additions. */
#include <math.h>

#include "cpu_common.h"

#define LT_SUMSQ_BLOCKS 256

lt_status lt_cpu_adamw(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *grad_t = call->src[0], *mask_t = call->src[1];
    lt_tensor *param_t = call->dst[0], *m_t = call->dst[1], *v_t = call->dst[2];
    if (param_t->dtype != LT_F32)
        return lt_error(LT_ERR_UNSUPPORTED, "adamw: backend cpu supports f32 only, got %s",
                        lt_dtype_name(param_t->dtype));
    const lt_adamw_params *p = &call->p.adamw;
    const int64_t N = lt_tensor_numel(param_t);
    float *param = lt_cpu_ptr(param_t), *m = lt_cpu_ptr(m_t), *v = lt_cpu_ptr(v_t);
    const float *grad = lt_cpu_ptr(grad_t);
    const uint8_t *mask = lt_cpu_ptr(mask_t);

    /* Step-level scalars in double, rounded once (torch computes them as Python floats). */
    const double bc1 = 1.0 - pow((double)p->beta1, (double)p->step);
    const double bc2 = 1.0 - pow((double)p->beta2, (double)p->step);
    const float step_size = (float)((double)p->lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float decay = (float)(1.0 - (double)p->lr * (double)p->weight_decay);
    const float b1 = p->beta1, b2 = p->beta2, eps = p->eps, gs = p->grad_scale;

#pragma omp parallel for simd schedule(static) num_threads(lt_cpu_threads(dev))
    for (int64_t i = 0; i < N; i++) {
        const float g = grad[i] * gs;
        const float mi = m[i] + (1.0f - b1) * (g - m[i]); /* torch's lerp form */
        const float vi = b2 * v[i] + (1.0f - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        float x = param[i];
        if (!mask || mask[i]) x *= decay;
        param[i] = x - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
    return LT_OK;
}

lt_status lt_cpu_sumsq(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *x_t = call->src[0];
    lt_tensor *out_t = call->dst[0];
    if (x_t->dtype != LT_F32)
        return lt_error(LT_ERR_UNSUPPORTED, "sumsq: backend cpu supports f32 only, got %s",
                        lt_dtype_name(x_t->dtype));
    const int64_t N = lt_tensor_numel(x_t);
    const float *x = lt_cpu_ptr(x_t);
    double block_sum[LT_SUMSQ_BLOCKS];

#pragma omp parallel for schedule(static) num_threads(lt_cpu_threads(dev))
    for (int b = 0; b < LT_SUMSQ_BLOCKS; b++) {
        const int64_t lo = N / LT_SUMSQ_BLOCKS * b + (b < N % LT_SUMSQ_BLOCKS ? b : N % LT_SUMSQ_BLOCKS);
        const int64_t hi = lo + N / LT_SUMSQ_BLOCKS + (b < N % LT_SUMSQ_BLOCKS);
        /* Four interleaved accumulators, combined in a fixed order: still deterministic,
         * and the additions no longer wait on each other. */
        double acc[4] = {0.0, 0.0, 0.0, 0.0};
        int64_t i = lo;
        for (; i + 4 <= hi; i += 4)
            for (int k = 0; k < 4; k++) acc[k] += (double)x[i + k] * (double)x[i + k];
        for (; i < hi; i++) acc[0] += (double)x[i] * (double)x[i];
        block_sum[b] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
    double total = 0.0;
    for (int b = 0; b < LT_SUMSQ_BLOCKS; b++) total += block_sum[b];
    *(float *)lt_cpu_ptr(out_t) = (float)total;
    return LT_OK;
}
