/* backends/ref/rmsnorm.c - RMSNorm forward and backward, one row at a time in double.
 *
 * Backward, with r = rstd, xhat = x*r and g = dout*w:
 *   dx = r * (g - xhat * mean(g * xhat)),   dw += sum_n dout * xhat.
 * The saved rstd is used as given (not recomputed), like every other backend. */
#include <math.h>

#include "ref_common.h"

lt_status lt_ref_rmsnorm_fwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *x = call->src[0], *w = call->src[1];
    lt_tensor *out = call->dst[0], *rstd = call->dst[1];
    const int64_t D = lt_tensor_numel(w), N = lt_tensor_numel(rstd);
    const double eps = call->p.rmsnorm.eps;
    for (int64_t n = 0; n < N; n++) {
        double ss = 0.0;
        for (int64_t d = 0; d < D; d++) {
            const double v = lt_ref_ld(x, lt_ref_lin(x, n * D + d));
            ss += v * v;
        }
        const double r = 1.0 / sqrt(ss / (double)D + eps);
        /* out may be x itself: the row is fully read above before it is written here. */
        for (int64_t d = 0; d < D; d++) {
            const double v = lt_ref_ld(x, lt_ref_lin(x, n * D + d));
            lt_ref_st(out, lt_ref_lin(out, n * D + d), v * r * lt_ref_ld(w, lt_ref_lin(w, d)));
        }
        lt_ref_st(rstd, lt_ref_lin(rstd, n), r);
    }
    return LT_OK;
}

lt_status lt_ref_rmsnorm_bwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *dout = call->src[0], *x = call->src[1], *w = call->src[2],
                    *rstd = call->src[3];
    lt_tensor *dx = call->dst[0], *dw = call->dst[1];
    const int accumulate_dx = call->p.rmsnorm.accumulate_dx;
    const int64_t D = lt_tensor_numel(w), N = lt_tensor_numel(rstd);
    for (int64_t n = 0; n < N; n++) {
        const double r = lt_ref_ld(rstd, lt_ref_lin(rstd, n));
        double dot = 0.0; /* sum_d g * xhat */
        for (int64_t d = 0; d < D; d++) {
            const int64_t i = n * D + d;
            const double g = lt_ref_ld(dout, lt_ref_lin(dout, i)) * lt_ref_ld(w, lt_ref_lin(w, d));
            dot += g * lt_ref_ld(x, lt_ref_lin(x, i)) * r;
        }
        const double mean = dot / (double)D;
        for (int64_t d = 0; d < D; d++) {
            const int64_t i = n * D + d;
            const double g = lt_ref_ld(dout, lt_ref_lin(dout, i)) * lt_ref_ld(w, lt_ref_lin(w, d));
            const double xhat = lt_ref_ld(x, lt_ref_lin(x, i)) * r;
            double v = r * (g - xhat * mean);
            const int64_t o = lt_ref_lin(dx, i);
            if (accumulate_dx) v += lt_ref_ld(dx, o);
            lt_ref_st(dx, o, v);
        }
    }
    for (int64_t d = 0; d < D; d++) {
        const int64_t o = lt_ref_lin(dw, d);
        double s = lt_ref_ld(dw, o);
        for (int64_t n = 0; n < N; n++) {
            const int64_t i = n * D + d;
            s += lt_ref_ld(dout, lt_ref_lin(dout, i)) * lt_ref_ld(x, lt_ref_lin(x, i)) *
                 lt_ref_ld(rstd, lt_ref_lin(rstd, n));
        }
        lt_ref_st(dw, o, s);
    }
    return LT_OK;
}
