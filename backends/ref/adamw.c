/* backends/ref/adamw.c - AdamW and the squared norm, in double, as loretta/ops.h writes them. */
#include <math.h>

#include "ref_common.h"

lt_status lt_ref_adamw(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *grad = call->src[0], *mask = call->src[1];
    lt_tensor *param = call->dst[0], *m = call->dst[1], *v = call->dst[2];
    const lt_adamw_params *p = &call->p.adamw;
    const double b1 = p->beta1, b2 = p->beta2, lr = p->lr, eps = p->eps;
    const double bc1 = 1.0 - pow(b1, (double)p->step), bc2 = 1.0 - pow(b2, (double)p->step);
    const int64_t N = lt_tensor_numel(param);
    for (int64_t i = 0; i < N; i++) {
        double g = lt_ref_ld(grad, lt_ref_lin(grad, i)) * (double)p->grad_scale;
        double mi = b1 * lt_ref_ld(m, lt_ref_lin(m, i)) + (1.0 - b1) * g;
        double vi = b2 * lt_ref_ld(v, lt_ref_lin(v, i)) + (1.0 - b2) * g * g;
        double wd = !mask || lt_ref_ld(mask, lt_ref_lin(mask, i)) != 0.0 ? p->weight_decay : 0.0;
        double x = lt_ref_ld(param, lt_ref_lin(param, i));
        x -= lr * ((mi / bc1) / (sqrt(vi / bc2) + eps) + wd * x);
        lt_ref_st(m, lt_ref_lin(m, i), mi);
        lt_ref_st(v, lt_ref_lin(v, i), vi);
        lt_ref_st(param, lt_ref_lin(param, i), x);
    }
    return LT_OK;
}

lt_status lt_ref_sumsq(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *x = call->src[0];
    const int64_t N = lt_tensor_numel(x);
    double total = 0.0;
    for (int64_t i = 0; i < N; i++) {
        double xi = lt_ref_ld(x, lt_ref_lin(x, i));
        total += xi * xi;
    }
    lt_ref_st(call->dst[0], 0, total);
    return LT_OK;
}
