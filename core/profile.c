/* core/profile.c - the op profiler of loretta/profile.h. */
#include <string.h>
#include <time.h>

#include "loretta/profile.h"
#include "profile_internal.h"

int lt_profile_on = 0;
static lt_profile lt_prof;
static int lt_prof_depth; /* > 0 inside a timed op: nested dispatches are not re-timed */

static double prof_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void lt_profile_enable(int on) { lt_profile_on = on != 0; }
int lt_profile_enabled(void) { return lt_profile_on; }
void lt_profile_reset(void) { memset(&lt_prof, 0, sizeof lt_prof); }
void lt_profile_get(lt_profile *out) {
    if (out) *out = lt_prof;
}

/* Rows x columns of a rank-2/3 tensor's last two dims, and its batch. */
static void mat_dims(const lt_tensor *t, double *batch, double *rows, double *cols) {
    *batch = t->ndim == 3 ? (double)t->shape[0] : 1.0;
    *rows = (double)t->shape[t->ndim - 2];
    *cols = (double)t->shape[t->ndim - 1];
}

double lt_op_flops(const lt_op_call *call) {
    if (!call) return 0.0;
    if (call->op == LT_OP_MATMUL && call->src[0] && call->dst[0] && call->dst[0]->ndim >= 2 &&
        call->src[0]->ndim >= 2) {
        double bc, m, n, ar, ac, ab;
        mat_dims(call->dst[0], &bc, &m, &n);
        mat_dims(call->src[0], &ab, &ar, &ac);
        double k = call->p.matmul.trans_a ? ar : ac;
        return 2.0 * bc * m * n * k;
    }
    if ((call->op == LT_OP_ATTN_FWD || call->op == LT_OP_ATTN_BWD)) {
        const lt_tensor *q = call->src[call->op == LT_OP_ATTN_FWD ? 0 : 1];
        if (!q || q->ndim != 4) return 0.0;
        double B = (double)q->shape[0], T = (double)q->shape[1], H = (double)q->shape[2];
        double fwd = 4.0 * B * H * T * T * (double)q->shape[3];
        if (call->p.attn.causal) fwd *= 0.5;
        return call->op == LT_OP_ATTN_FWD ? fwd : 2.5 * fwd;
    }
    return 0.0;
}

lt_status lt_profile_dispatch(lt_device *dev, const lt_op_call *call, lt_op_fn fn) {
    if (lt_prof_depth > 0) return fn(dev, call);
    double t0 = prof_now();
    lt_status s = lt_device_sync(dev);
    double t1 = prof_now();
    lt_prof.wait_seconds += t1 - t0;
    if (s != LT_OK) return s;
    lt_prof_depth++;
    s = fn(dev, call);
    lt_prof_depth--;
    if (s == LT_OK) s = lt_device_sync(dev);
    lt_profile_entry *e = &lt_prof.op[call->op];
    e->calls++;
    e->seconds += prof_now() - t1;
    e->flops += lt_op_flops(call);
    if (s != LT_OK) lt_prof.failed++;
    return s;
}
