/* backends/ref/elementwise.c - GELU (tanh form), add, scale, axpy, element by element
 * in double. In-place calls (out is the same view as an input) are safe: each element
 * is read before it is written and no other element depends on it. */
#include <math.h>

#include "ref_common.h"

#define LT_GELU_C 0.7978845608028654 /* sqrt(2/pi) */
#define LT_GELU_A 0.044715

static double gelu(double x) {
    return 0.5 * x * (1.0 + tanh(LT_GELU_C * (x + LT_GELU_A * x * x * x)));
}

/* d/dx of gelu: 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2), t = tanh(c (x + a x^3)). */
static double gelu_grad(double x) {
    const double t = tanh(LT_GELU_C * (x + LT_GELU_A * x * x * x));
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * LT_GELU_C * (1.0 + 3.0 * LT_GELU_A * x * x);
}

lt_status lt_ref_gelu_fwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *x = call->src[0];
    lt_tensor *out = call->dst[0];
    const int64_t n = lt_tensor_numel(out);
    for (int64_t i = 0; i < n; i++)
        lt_ref_st(out, lt_ref_lin(out, i), gelu(lt_ref_ld(x, lt_ref_lin(x, i))));
    return LT_OK;
}

lt_status lt_ref_gelu_bwd(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *dout = call->src[0], *x = call->src[1];
    lt_tensor *dx = call->dst[0];
    const int64_t n = lt_tensor_numel(dx);
    for (int64_t i = 0; i < n; i++) {
        const double g = lt_ref_ld(dout, lt_ref_lin(dout, i));
        lt_ref_st(dx, lt_ref_lin(dx, i), g * gelu_grad(lt_ref_ld(x, lt_ref_lin(x, i))));
    }
    return LT_OK;
}

lt_status lt_ref_add(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *a = call->src[0], *b = call->src[1];
    lt_tensor *out = call->dst[0];
    const int64_t n = lt_tensor_numel(out);
    for (int64_t i = 0; i < n; i++)
        lt_ref_st(out, lt_ref_lin(out, i),
                  lt_ref_ld(a, lt_ref_lin(a, i)) + lt_ref_ld(b, lt_ref_lin(b, i)));
    return LT_OK;
}

lt_status lt_ref_scale(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *x = call->src[0];
    lt_tensor *out = call->dst[0];
    const double alpha = call->p.scalar.alpha;
    const int64_t n = lt_tensor_numel(out);
    for (int64_t i = 0; i < n; i++)
        lt_ref_st(out, lt_ref_lin(out, i), alpha * lt_ref_ld(x, lt_ref_lin(x, i)));
    return LT_OK;
}

lt_status lt_ref_axpy(lt_device *dev, const lt_op_call *call) {
    (void)dev;
    const lt_tensor *x = call->src[0];
    lt_tensor *y = call->dst[0];
    const double alpha = call->p.scalar.alpha;
    const int64_t n = lt_tensor_numel(y);
    for (int64_t i = 0; i < n; i++) {
        const int64_t o = lt_ref_lin(y, i);
        lt_ref_st(y, o, lt_ref_ld(y, o) + alpha * lt_ref_ld(x, lt_ref_lin(x, i)));
    }
    return LT_OK;
}
