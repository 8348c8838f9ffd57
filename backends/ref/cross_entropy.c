/* backends/ref/cross_entropy.c - softmax cross-entropy and its gradient, in double.
 *
 * loss = logsumexp(x) - x[t], dx = w * grad_scale * (softmax(x) - onehot(t)); the
 * log-sum-exp subtracts the row max first, as any careful implementation must. */
#include <math.h>

#include "ref_common.h"

lt_status lt_ref_cross_entropy(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *logits = call->src[0], *targets = call->src[1], *weights = call->src[2];
    lt_tensor *losses = call->dst[0], *dlogits = call->dst[1];
    const int64_t V = logits->shape[logits->ndim - 1];
    const int64_t N = V ? lt_tensor_numel(logits) / V : 0;
    const double grad_scale = call->p.ce.grad_scale;

    /* All targets first: a failing call writes nothing. */
    for (int64_t n = 0; n < N; n++) {
        double w = weights ? lt_ref_ld(weights, lt_ref_lin(weights, n)) : 1.0;
        int32_t t = lt_ref_i32(targets, lt_ref_lin(targets, n));
        if (w != 0.0 && (t < 0 || t >= V))
            return lt_error(LT_ERR_RANGE, "cross_entropy: targets[%lld] = %d is outside the vocabulary of %lld",
                            (long long)n, t, (long long)V);
    }

    for (int64_t n = 0; n < N; n++) {
        double w = weights ? lt_ref_ld(weights, lt_ref_lin(weights, n)) : 1.0;
        if (w == 0.0) {
            lt_ref_st(losses, lt_ref_lin(losses, n), 0.0);
            for (int64_t i = 0; dlogits && i < V; i++)
                lt_ref_st(dlogits, lt_ref_lin(dlogits, n * V + i), 0.0);
            continue;
        }
        int32_t t = lt_ref_i32(targets, lt_ref_lin(targets, n));
        double mx = -INFINITY;
        for (int64_t i = 0; i < V; i++) mx = fmax(mx, lt_ref_ld(logits, lt_ref_lin(logits, n * V + i)));
        double sum = 0.0;
        for (int64_t i = 0; i < V; i++) sum += exp(lt_ref_ld(logits, lt_ref_lin(logits, n * V + i)) - mx);
        double lse = mx + log(sum);
        double x_t = lt_ref_ld(logits, lt_ref_lin(logits, n * V + t));
        lt_ref_st(losses, lt_ref_lin(losses, n), lse - x_t);
        if (!dlogits) continue;
        /* Element by element, each logit read just before its gradient overwrites it,
         * so dlogits may be the logits tensor itself. */
        for (int64_t i = 0; i < V; i++) {
            int64_t off = lt_ref_lin(logits, n * V + i);
            double p = exp(lt_ref_ld(logits, off) - lse);
            double g = w * grad_scale * (p - (i == t ? 1.0 : 0.0));
            lt_ref_st(dlogits, lt_ref_lin(dlogits, n * V + i), g);
        }
    }
    return LT_OK;
}
