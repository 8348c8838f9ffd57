/* core/conformance_gen_elementwise.c - cases of the row-wise and element-wise ops:
 * rmsnorm, GELU, add, scale, axpy, sumsq, AdamW. */
#include <math.h>
#include <stdio.h>

#include "conformance_case.h"

/* ---------------------------------------------------------------- rmsnorm ---- */

typedef struct norm_case {
    int64_t B, N, D; /* x [B?, N, D] */
    /* 1: row 0 tiny (1e-20: eps dominates), row 1 large (1e3).
     * 2: every x scaled by 1e-3. With D = 1, dx = w rstd dout eps / (x^2 + eps) is pure
     *    cancellation in f32 unless eps dominates x^2, so the 1x1 case makes it dominate. */
    int special;
    int big;
} norm_case;

static const norm_case norm_cases[] = {
    {0, 1, 1, 2, 0},   {0, 7, 33, 0, 0},   {0, 64, 768, 0, 0}, {3, 5, 1000, 0, 0},
    {0, 300, 127, 0, 0}, {0, 9, 64, 1, 0}, {0, 2048, 512, 0, 1},
};

static const norm_case *norm_at(int i, int quick) {
    for (int k = 0, seen = 0; k < (int)(sizeof norm_cases / sizeof norm_cases[0]); k++) {
        if (quick && norm_cases[k].big) continue;
        if (seen++ == i) return &norm_cases[k];
    }
    return NULL;
}

static int norm_tensor(conf_case *c, const char *name, const norm_case *s) {
    int64_t s3[3] = {s->B, s->N, s->D}, s2[2] = {s->N, s->D};
    return s->B ? conf_tensor_new(c, name, LT_F32, 3, s3) : conf_tensor_new(c, name, LT_F32, 2, s2);
}

static void norm_x(conf_case *c, int x, const norm_case *s) {
    conf_uniform(c, x, -2.0, 2.0);
    if (s->special == 2)
        for (int64_t k = 0; k < conf_numel(c, x); k++) conf_set(c, x, k, conf_get(c, x, k) * 1e-3);
    if (s->special != 1) return;
    for (int64_t d = 0; d < s->D; d++) {
        conf_set(c, x, d, conf_get(c, x, d) * 1e-20);
        conf_set(c, x, s->D + d, conf_get(c, x, s->D + d) * 1e3);
    }
}

/* Inputs x [N, D], w [D] and, for the backward, rstd [N] computed from x here. */
static void norm_inputs(conf_case *c, const norm_case *s, int *x, int *w, int *rstd, float eps) {
    int64_t ws[1] = {s->D}, rs[1] = {(s->B ? s->B : 1) * s->N};
    *x = norm_tensor(c, "x", s);
    *w = conf_tensor_new(c, "w", LT_F32, 1, ws);
    *rstd = conf_tensor_new(c, "rstd", LT_F32, 1, rs);
    norm_x(c, *x, s);
    conf_uniform(c, *w, 0.5, 1.5);
    for (int64_t n = 0; n < rs[0]; n++) {
        double ss = 0.0;
        for (int64_t d = 0; d < s->D; d++) {
            double v = conf_get(c, *x, n * s->D + d);
            ss += v * v;
        }
        conf_set(c, *rstd, n, 1.0 / sqrt(ss / (double)s->D + (double)eps));
    }
}

int conf_gen_rmsnorm_fwd(conf_case *c, int i, const conf_gen_ctx *x) {
    const norm_case *s = norm_at(i, x->quick);
    if (!s) return 0;
    float eps = s->special == 1 ? 1e-6f : 1e-5f;
    conf_case_init(c, CONF_SEED(LT_OP_RMSNORM_FWD, i), "rows %lld x D %lld%s",
                   (long long)((s->B ? s->B : 1) * s->N), (long long)s->D,
                   s->special == 1 ? ", a tiny and a large row" : s->special == 2 ? ", x ~ 1e-3" : "");
    int xt, w, rstd;
    norm_inputs(c, s, &xt, &w, &rstd, eps);
    int out = norm_tensor(c, "out", s);
    conf_poison(c, out);
    conf_poison(c, rstd);
    conf_output(c, out, LT_OP_RMSNORM_FWD);
    conf_output(c, rstd, LT_OP_RMSNORM_FWD);
    conf_call *k = conf_add_call(c, LT_OP_RMSNORM_FWD);
    k->src[0] = xt;
    k->src[1] = w;
    k->dst[0] = out;
    k->dst[1] = rstd;
    k->p.rmsnorm.eps = eps;
    return 1;
}

int conf_gen_rmsnorm_bwd(conf_case *c, int i, const conf_gen_ctx *x) {
    const norm_case *s = norm_at(i, x->quick);
    if (!s) return 0;
    int acc = i % 2;
    conf_case_init(c, CONF_SEED(LT_OP_RMSNORM_BWD, i), "rows %lld x D %lld%s%s",
                   (long long)((s->B ? s->B : 1) * s->N), (long long)s->D,
                   acc ? " accumulate dx" : "",
                   s->special == 1 ? ", a tiny and a large row" : s->special == 2 ? ", x ~ 1e-3" : "");
    int xt, w, rstd;
    norm_inputs(c, s, &xt, &w, &rstd, s->special == 1 ? 1e-6f : 1e-5f);
    int dout = norm_tensor(c, "dout", s);
    int dx = norm_tensor(c, "dx", s);
    int64_t ws[1] = {s->D};
    int dw = conf_tensor_new(c, "dw", LT_F32, 1, ws);
    conf_uniform(c, dout, -1.0, 1.0);
    if (acc) conf_uniform(c, dx, -1.0, 1.0);
    else conf_poison(c, dx);
    conf_uniform(c, dw, -1.0, 1.0); /* always accumulates */
    conf_output(c, dx, LT_OP_RMSNORM_BWD);
    conf_output(c, dw, LT_OP_RMSNORM_BWD);
    conf_call *k = conf_add_call(c, LT_OP_RMSNORM_BWD);
    k->src[0] = dout;
    k->src[1] = xt;
    k->src[2] = w;
    k->src[3] = rstd;
    k->dst[0] = dx;
    k->dst[1] = dw;
    k->p.rmsnorm.accumulate_dx = acc;
    return 1;
}

/* ---------------------------------------------------------------- element-wise ---- */

typedef struct ew_case {
    int64_t rows, cols;
    int in_place; /* out is the (first) input */
    float alpha;
} ew_case;

static int ew_tensor(conf_case *c, const char *name, const ew_case *e) {
    int64_t s2[2] = {e->rows, e->cols}, s1[1] = {e->cols};
    return e->rows ? conf_tensor_new(c, name, LT_F32, 2, s2) : conf_tensor_new(c, name, LT_F32, 1, s1);
}

static void gelu_values(conf_case *c, int t) {
    conf_uniform(c, t, -6.0, 6.0);
    const double special[] = {0.0, -3.0, 10.0, -10.0, 1e-4, -0.5};
    int64_t n = conf_numel(c, t);
    for (int k = 0; k < 6 && k < n; k++) conf_set(c, t, k, special[k]);
}

static const ew_case ew_cases[] = {
    {0, 1, 0, 1.0f}, {0, 1001, 0, -0.75f}, {0, 4099, 1, 3.0f}, {3, 333, 0, 0.3f},
    {17, 33, 1, -2.0f}, {0, 65, 0, 0.0f},
};
#define EW_NCASES ((int)(sizeof ew_cases / sizeof ew_cases[0]))

static const char *ew_desc(const ew_case *e, char *buf, size_t n) {
    if (e->rows) conf_fmt(buf, n, "[%lld,%lld]", (long long)e->rows, (long long)e->cols);
    else conf_fmt(buf, n, "[%lld]", (long long)e->cols);
    return buf;
}

int conf_gen_gelu_fwd(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    if (i >= EW_NCASES) return 0;
    const ew_case *e = &ew_cases[i];
    char d[48];
    conf_case_init(c, CONF_SEED(LT_OP_GELU_FWD, i), "%s%s", ew_desc(e, d, sizeof d),
                   e->in_place ? " in place" : "");
    int xt = ew_tensor(c, "x", e);
    gelu_values(c, xt);
    int out = xt;
    if (!e->in_place) {
        out = ew_tensor(c, "out", e);
        conf_poison(c, out);
    }
    conf_output(c, out, LT_OP_GELU_FWD);
    conf_call *k = conf_add_call(c, LT_OP_GELU_FWD);
    k->src[0] = xt;
    k->dst[0] = out;
    return 1;
}

int conf_gen_gelu_bwd(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    if (i >= EW_NCASES) return 0;
    const ew_case *e = &ew_cases[i];
    char d[48];
    conf_case_init(c, CONF_SEED(LT_OP_GELU_BWD, i), "%s", ew_desc(e, d, sizeof d));
    int dout = ew_tensor(c, "dout", e);
    int xt = ew_tensor(c, "x", e);
    int dx = ew_tensor(c, "dx", e);
    conf_uniform(c, dout, -1.0, 1.0);
    gelu_values(c, xt);
    conf_poison(c, dx);
    conf_output(c, dx, LT_OP_GELU_BWD);
    conf_call *k = conf_add_call(c, LT_OP_GELU_BWD);
    k->src[0] = dout;
    k->src[1] = xt;
    k->dst[0] = dx;
    return 1;
}

int conf_gen_add(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    if (i >= EW_NCASES) return 0;
    const ew_case *e = &ew_cases[i];
    char d[48];
    /* In-place cases alternate between out = a and out = b. */
    int into_b = e->in_place && (i % 2);
    conf_case_init(c, CONF_SEED(LT_OP_ADD, i), "%s%s", ew_desc(e, d, sizeof d),
                   e->in_place ? (into_b ? " out = b" : " out = a") : "");
    int a = ew_tensor(c, "a", e), b = ew_tensor(c, "b", e);
    conf_uniform(c, a, -3.0, 3.0);
    conf_uniform(c, b, -3.0, 3.0);
    int out = e->in_place ? (into_b ? b : a) : ew_tensor(c, "out", e);
    if (!e->in_place) conf_poison(c, out);
    conf_output(c, out, LT_OP_ADD);
    conf_call *k = conf_add_call(c, LT_OP_ADD);
    k->src[0] = a;
    k->src[1] = b;
    k->dst[0] = out;
    return 1;
}

int conf_gen_scale(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    if (i >= EW_NCASES) return 0;
    const ew_case *e = &ew_cases[i];
    char d[48];
    conf_case_init(c, CONF_SEED(LT_OP_SCALE, i), "%s alpha %g%s", ew_desc(e, d, sizeof d),
                   (double)e->alpha, e->in_place ? " in place" : "");
    int xt = ew_tensor(c, "x", e);
    conf_uniform(c, xt, -3.0, 3.0);
    int out = e->in_place ? xt : ew_tensor(c, "out", e);
    if (!e->in_place) conf_poison(c, out);
    conf_output(c, out, LT_OP_SCALE);
    conf_call *k = conf_add_call(c, LT_OP_SCALE);
    k->src[0] = xt;
    k->dst[0] = out;
    k->p.scalar.alpha = e->alpha;
    return 1;
}

int conf_gen_axpy(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    if (i >= EW_NCASES) return 0;
    const ew_case *e = &ew_cases[i];
    char d[48];
    conf_case_init(c, CONF_SEED(LT_OP_AXPY, i), "%s alpha %g", ew_desc(e, d, sizeof d),
                   (double)e->alpha);
    int xt = ew_tensor(c, "x", e), y = ew_tensor(c, "y", e);
    conf_uniform(c, xt, -3.0, 3.0);
    conf_uniform(c, y, -3.0, 3.0);
    conf_output(c, y, LT_OP_AXPY);
    conf_call *k = conf_add_call(c, LT_OP_AXPY);
    k->src[0] = xt;
    k->dst[0] = y;
    k->p.scalar.alpha = e->alpha;
    return 1;
}

/* ---------------------------------------------------------------- sumsq ---- */

int conf_gen_sumsq(conf_case *c, int i, const conf_gen_ctx *x) {
    static const struct {
        int ndim;
        int64_t shape[3];
    } cases[] = {{1, {1}}, {1, {1000}}, {2, {3, 333}}, {3, {4, 1, 7}}, {1, {100003}}};
    if (i >= (int)(sizeof cases / sizeof cases[0])) return 0;
    int64_t shape[3] = {cases[i].shape[0], cases[i].shape[1], cases[i].shape[2]};
    if (x->quick && shape[0] > 20000) shape[0] = 10007;
    int64_t n = 1;
    for (int d = 0; d < cases[i].ndim; d++) n *= shape[d];
    conf_case_init(c, CONF_SEED(LT_OP_SUMSQ, i), "%lld elements in %d dims", (long long)n,
                   cases[i].ndim);
    int xt = conf_tensor_new(c, "x", LT_F32, cases[i].ndim, shape);
    int64_t one[1] = {1};
    int out = conf_tensor_new(c, "out", LT_F32, 1, one);
    conf_uniform(c, xt, -2.0, 2.0);
    conf_poison(c, out);
    conf_output(c, out, LT_OP_SUMSQ);
    c->deterministic = 1;
    conf_call *k = conf_add_call(c, LT_OP_SUMSQ);
    k->src[0] = xt;
    k->dst[0] = out;
    return 1;
}

/* ---------------------------------------------------------------- adamw ---- */

int conf_gen_adamw(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    static const struct {
        int64_t n;
        int mask;      /* 0 = NULL (decay all), 1 = random 0/1 */
        int64_t step;
        float grad_scale, wd, lr;
        int tiny;      /* grads of 1e-6: sqrt(vhat) comparable to eps */
    } cases[] = {
        {1, 0, 1, 1.0f, 0.1f, 1e-2f, 0},     {1000, 1, 1, 0.5f, 0.1f, 1e-2f, 0},
        {4097, 1, 1000, 1.0f, 0.01f, 3e-3f, 0}, {333, 0, 7, 2.0f, 0.0f, 1e-1f, 0},
        {1000, 1, 1, 1.0f, 0.1f, 1e-2f, 1},
    };
    if (i >= (int)(sizeof cases / sizeof cases[0])) return 0;
    int64_t n = cases[i].n, s[1] = {n};
    conf_case_init(c, CONF_SEED(LT_OP_ADAMW, i), "N=%lld step %lld %s grad_scale %g wd %g%s",
                   (long long)n, (long long)cases[i].step, cases[i].mask ? "decay mask" : "no mask",
                   (double)cases[i].grad_scale, (double)cases[i].wd, cases[i].tiny ? " tiny grads" : "");
    int param = conf_tensor_new(c, "param", LT_F32, 1, s);
    int m = conf_tensor_new(c, "m", LT_F32, 1, s);
    int v = conf_tensor_new(c, "v", LT_F32, 1, s);
    int grad = conf_tensor_new(c, "grad", LT_F32, 1, s);
    int mask = cases[i].mask ? conf_tensor_new(c, "decay_mask", LT_U8, 1, s) : -1;
    conf_uniform(c, param, -1.0, 1.0);
    conf_uniform(c, grad, -1.0, 1.0);
    if (cases[i].tiny)
        for (int64_t k = 0; k < n; k++) conf_set(c, grad, k, conf_get(c, grad, k) * 1e-6);
    if (cases[i].step > 1) {
        conf_uniform(c, m, -0.1, 0.1);
        conf_uniform(c, v, 0.0, 0.01);
    }
    if (mask >= 0) conf_ints(c, mask, 0, 2);
    conf_output(c, param, LT_OP_ADAMW);
    conf_output(c, m, LT_OP_ADAMW);
    conf_output(c, v, LT_OP_ADAMW);
    conf_call *k = conf_add_call(c, LT_OP_ADAMW);
    k->src[0] = grad;
    k->src[1] = mask;
    k->dst[0] = param;
    k->dst[1] = m;
    k->dst[2] = v;
    k->p.adamw = (lt_adamw_params){cases[i].lr, 0.9f, 0.999f, 1e-8f, cases[i].wd,
                                   cases[i].grad_scale, cases[i].step};
    return 1;
}

/* ---------------------------------------------------------------- gradient chains ---- */

/* rmsnorm forward, then its backward from the device's own saved rstd. */
int conf_chain_rmsnorm(conf_case *c, int i, const conf_gen_ctx *x) {
    const norm_case *s = norm_at(i, x->quick);
    if (!s) return 0;
    float eps = s->special == 1 ? 1e-6f : 1e-5f;
    conf_case_init(c, CONF_SEED(100 + LT_OP_RMSNORM_BWD, i), "rows %lld x D %lld%s: out, rstd, dx, dw",
                   (long long)((s->B ? s->B : 1) * s->N), (long long)s->D,
                   s->special == 1 ? ", a tiny and a large row" : s->special == 2 ? ", x ~ 1e-3" : "");
    int xt, w, rstd;
    norm_inputs(c, s, &xt, &w, &rstd, eps);
    int out = norm_tensor(c, "out", s), dout = norm_tensor(c, "dout", s);
    int dx = norm_tensor(c, "dx", s);
    int dw = conf_like(c, "dw", w);
    conf_uniform(c, dout, -1.0, 1.0);
    conf_poison(c, out);
    conf_poison(c, rstd);
    conf_poison(c, dx);
    conf_output(c, out, LT_OP_RMSNORM_FWD);
    conf_output(c, rstd, LT_OP_RMSNORM_FWD);
    conf_output(c, dx, LT_OP_RMSNORM_BWD);
    conf_output(c, dw, LT_OP_RMSNORM_BWD);
    conf_call *k = conf_add_call(c, LT_OP_RMSNORM_FWD);
    k->src[0] = xt;
    k->src[1] = w;
    k->dst[0] = out;
    k->dst[1] = rstd;
    k->p.rmsnorm.eps = eps;
    k = conf_add_call(c, LT_OP_RMSNORM_BWD);
    k->src[0] = dout;
    k->src[1] = xt;
    k->src[2] = w;
    k->src[3] = rstd;
    k->dst[0] = dx;
    k->dst[1] = dw;
    return 1;
}

int conf_chain_gelu(conf_case *c, int i, const conf_gen_ctx *x) {
    (void)x;
    if (i >= EW_NCASES) return 0;
    const ew_case *e = &ew_cases[i];
    char d[48];
    conf_case_init(c, CONF_SEED(100 + LT_OP_GELU_BWD, i), "%s: out, dx", ew_desc(e, d, sizeof d));
    int xt = ew_tensor(c, "x", e), out = ew_tensor(c, "out", e);
    int dout = ew_tensor(c, "dout", e), dx = ew_tensor(c, "dx", e);
    gelu_values(c, xt);
    conf_uniform(c, dout, -1.0, 1.0);
    conf_poison(c, out);
    conf_poison(c, dx);
    conf_output(c, out, LT_OP_GELU_FWD);
    conf_output(c, dx, LT_OP_GELU_BWD);
    conf_call *k = conf_add_call(c, LT_OP_GELU_FWD);
    k->src[0] = xt;
    k->dst[0] = out;
    k = conf_add_call(c, LT_OP_GELU_BWD);
    k->src[0] = dout;
    k->src[1] = xt;
    k->dst[0] = dx;
    return 1;
}
