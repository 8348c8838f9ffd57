/* backends/cpu/cross_entropy.c - fused softmax cross-entropy and its gradient (f32).
 *
 * Three passes over a row (max; exponentials and their sum; gradient), one row per
 * thread, so a row of tens of thousands of logits stays in that core's cache. The
 * log-sum-exp is max-subtracted so no exponential overflows, and the sum is kept in
 * double so a 50k-entry vocabulary loses nothing to f32 accumulation. The softmax is
 * exp(x - max) / sum, never exp(x - lse) with lse rounded to f32 (large logits). */
#include <math.h>

#include "cpu_common.h"

lt_status lt_cpu_cross_entropy(lt_device *dev, const lt_op_call *call) {
    const lt_tensor *logits_t = call->src[0], *targets_t = call->src[1], *weights_t = call->src[2];
    lt_tensor *losses_t = call->dst[0], *dlogits_t = call->dst[1];
    if (logits_t->dtype != LT_F32)
        return lt_error(LT_ERR_UNSUPPORTED, "cross_entropy: backend cpu supports f32 logits only, got %s",
                        lt_dtype_name(logits_t->dtype));
    const int64_t V = logits_t->shape[logits_t->ndim - 1];
    const int64_t N = V ? lt_tensor_numel(logits_t) / V : 0;
    const float *logits = lt_cpu_ptr(logits_t);
    const int32_t *targets = lt_cpu_ptr(targets_t);
    const float *weights = lt_cpu_ptr(weights_t);
    float *losses = lt_cpu_ptr(losses_t);
    float *dlogits = lt_cpu_ptr(dlogits_t);
    const float grad_scale = call->p.ce.grad_scale;

    /* Targets are checked before anything is written, so a failed call leaves its
     * outputs (and, when dlogits aliases them, the logits) untouched. */
    for (int64_t n = 0; n < N; n++) {
        if (weights && weights[n] == 0.0f) continue;
        if (targets[n] < 0 || targets[n] >= V)
            return lt_error(LT_ERR_RANGE, "cross_entropy: targets[%lld] = %d is outside the vocabulary of %lld",
                            (long long)n, targets[n], (long long)V);
    }

#pragma omp parallel for schedule(static) num_threads(lt_cpu_threads(dev))
    for (int64_t n = 0; n < N; n++) {
        const float w = weights ? weights[n] : 1.0f;
        const float *x = logits + n * V;
        float *dx = dlogits ? dlogits + n * V : NULL;
        if (w == 0.0f) {
            losses[n] = 0.0f;
            if (dx)
                for (int64_t i = 0; i < V; i++) dx[i] = 0.0f;
            continue;
        }
        const int32_t t = targets[n];
        const float x_t = x[t]; /* read before dx (possibly x itself) is overwritten */
        float mx = -INFINITY;
        for (int64_t i = 0; i < V; i++) mx = x[i] > mx ? x[i] : mx;
        /* exp(x - max) is parked in dx so each logit costs one expf, not two */
        double sum = 0.0;
        if (dx) {
            for (int64_t i = 0; i < V; i++) {
                const float e = expf(x[i] - mx);
                dx[i] = e;
                sum += (double)e;
            }
        } else {
            for (int64_t i = 0; i < V; i++) sum += (double)expf(x[i] - mx);
        }
        losses[n] = (float)((double)mx + log(sum) - (double)x_t);
        if (dx) {
            const float scale = w * grad_scale, inv_sum = (float)(1.0 / sum);
            for (int64_t i = 0; i < V; i++) dx[i] = scale * (dx[i] * inv_sum);
            dx[t] -= scale;
        }
    }
    return LT_OK;
}
